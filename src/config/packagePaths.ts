/**
 * Where this package's own files are, wherever it is installed: its shipped data, models and the
 * command-line entry. Read by the configuration (config.ts) and by the hook's shortest way
 * (hooks/quiet.ts), which must not load the configuration table.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root folder (this file is at <root>/dist/config/packagePaths.js). */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const PACKAGE_PATHS = Object.freeze({
  dataDir: path.join(packageRoot, 'data'),
  modelsDir: path.join(packageRoot, 'models'),
  cliPath: path.join(packageRoot, 'dist', 'cli.js'),
});
