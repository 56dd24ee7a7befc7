/**
 * The PostgreSQL driver, loaded without its runtime probe's cost. When `pg` loads it asks whether
 * it runs in a Cloudflare Worker: by `navigator.userAgent` where there is a navigator, else by
 * making a `Response`, which on Node 20 (no navigator) loads the whole fetch implementation
 * (undici): measured 60-80 ms of every hook process that opens the database. A navigator that
 * names Node answers the probe the same way (not a worker); it is there only while `pg` loads.
 */
import type pg from 'pg';

const global = globalThis as { navigator?: unknown };
const lent = global.navigator === undefined;
if (lent)
  Object.defineProperty(globalThis, 'navigator', {
    value: { userAgent: `Node.js/${process.versions.node}` },
    configurable: true,
    writable: true,
  });
let loaded: typeof pg;
try {
  loaded = (await import('pg')).default;
} finally {
  if (lent) delete global.navigator;
}
export default loaded;
