/** Folders made for files the server writes stay inside the project, whatever links the path holds. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureFolderInside } from '../../src/safety/paths.js';

let root: string;
let outside: string;
beforeEach(async () => {
  root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-paths-in-')));
  outside = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-paths-out-')));
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
  await fs.rm(outside, { recursive: true, force: true });
});

describe('ensureFolderInside', () => {
  it('makes the missing folders of a file path inside the root', async () => {
    await ensureFolderInside([root], 'a/b/c/file.yaml');
    expect((await fs.stat(path.join(root, 'a', 'b', 'c'))).isDirectory()).toBe(true);
  });

  it('refuses a path through a link that leaves the root, and creates nothing outside', async () => {
    await fs.symlink(outside, path.join(root, 'evals'));
    await expect(ensureFolderInside([root], 'evals/deep/file.yaml')).rejects.toThrow(/outside the project/);
    expect(await fs.readdir(outside)).toEqual([]);
    await expect(ensureFolderInside([root], '../escape/file.yaml')).rejects.toThrow(/outside the project/);
    expect(await fs.readdir(path.dirname(root))).not.toContain('escape');
  });

  it('refuses a folder inside an excluded one (the state folder)', async () => {
    await fs.mkdir(path.join(root, '.task-orchestrator'));
    await expect(
      ensureFolderInside([root], '.task-orchestrator/x/file.yaml', {
        exclude: [path.join(root, '.task-orchestrator')],
      }),
    ).rejects.toThrow(/state folder/);
    expect(await fs.readdir(path.join(root, '.task-orchestrator'))).toEqual([]);
  });
});
