// After tsc: what the compiler does not do.
import { chmodSync, cpSync } from 'node:fs';
// npm sets the executable bit on bin files only when installing a package, not after a local
// build, so `./dist/cli.js` would not run directly without this.
chmodSync(new URL('../dist/cli.js', import.meta.url), 0o755);
// The desk's browser script is a real file (type-checked as browser code), served from beside the
// compiled desk.
cpSync(new URL('../src/desk/static', import.meta.url), new URL('../dist/desk/static', import.meta.url), {
  recursive: true,
});
