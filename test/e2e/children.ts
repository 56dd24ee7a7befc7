/** A temporary work folder per test and the child servers started in it, killed and awaited after each test. */
import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';

export interface Child {
  child: ChildProcess;
  exited: Promise<number | null>;
}

export function useWorkFolder<T extends Child>(prefix: string): { readonly dir: string; started: T[] } {
  let dir = '';
  const started: T[] = [];
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const r of started.splice(0))
      if (r.child.exitCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });
  return {
    get dir() {
      return dir;
    },
    started,
  };
}
