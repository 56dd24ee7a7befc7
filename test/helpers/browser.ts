/**
 * Finds a Chromium for the browser tests: CHROME_PATH, then Chromium or Chrome on PATH, then the
 * usual Debian locations. Without one, outside CI, the browser tests are skipped with a printed
 * reason; with CI=true they are required (and .ci/run installs Debian's chromium).
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CHROME_PATH && executable(env.CHROME_PATH)) return env.CHROME_PATH;
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const name of NAMES)
    for (const dir of [...dirs, '/usr/bin', '/snap/bin']) {
      const file = path.join(dir, name);
      if (executable(file)) return file;
    }
  return undefined;
}

/** Whether to skip the browser tests here; prints why when it does. */
export function skipBrowserTests(
  chromium: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (chromium || env.CI) return false;
  process.stderr.write(
    'browser tests skipped: no Chromium found (set CHROME_PATH, or apt-get install chromium); with CI=true they are required\n',
  );
  return true;
}
