// npm sets the executable bit on bin files only when installing a package, not after a local
// build, so `./dist/cli.js` would not run directly without this.
import { chmodSync } from 'node:fs';
chmodSync(new URL('../dist/cli.js', import.meta.url), 0o755);
