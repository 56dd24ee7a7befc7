/** The exec boundary: the environment a child gets, deadlines that kill what it started, capped output. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createExecBoundary } from '../../src/safety/exec.js';

const printEnv = ['-e', 'process.stdout.write(JSON.stringify(process.env))'];

describe('exec boundary', () => {
  it('gives a child only the minimal environment, never what changes how programs load code', async () => {
    const config = loadConfig({
      PATH: process.env.PATH,
      HOME: '/home/someone',
      LANG: 'C.UTF-8',
      NODE_OPTIONS: '--require /tmp/evil.js',
      npm_config_script_shell: '/tmp/x.sh',
      NPM_CONFIG_PREFIX: '/elsewhere',
      GIT_DIR: '/elsewhere/.git',
      GIT_CONFIG_PARAMETERS: "'alias.x=!touch /tmp/m'",
      MAKEFLAGS: '--eval=x',
      LD_PRELOAD: '/tmp/evil.so',
      OPENAI_API_KEY: 'sk-not-for-children',
      MY_TOOL_HOME: '/opt/tool',
      TASK_ORCHESTRATOR_EXEC_ENV: 'MY_TOOL_HOME,NODE_OPTIONS',
    });
    const boundary = createExecBoundary({ env: config.childEnv });
    const r = await boundary.run({
      file: process.execPath,
      args: printEnv,
      cwd: os.tmpdir(),
      timeoutMs: 10_000,
      maxBytes: 100_000,
      env: { GIT_DIR: '/also/refused', EXTRA: 'yes' },
    });
    const env = JSON.parse(r.stdout) as Record<string, string>;
    expect(env).toMatchObject({
      HOME: '/home/someone',
      LANG: 'C.UTF-8',
      MY_TOOL_HOME: '/opt/tool',
      EXTRA: 'yes',
    });
    // Named by the user or not, these never pass.
    for (const name of [
      'NODE_OPTIONS',
      'npm_config_script_shell',
      'NPM_CONFIG_PREFIX',
      'GIT_DIR',
      'GIT_CONFIG_PARAMETERS',
      'MAKEFLAGS',
      'LD_PRELOAD',
      'OPENAI_API_KEY',
    ])
      expect(env[name], name).toBeUndefined();
  });

  it('kills the whole process group at the deadline and caps output', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-exec-'));
    try {
      const boundary = createExecBoundary({ env: { PATH: process.env.PATH ?? '' } });
      // A grandchild that would write a marker after the deadline must die with its parent.
      const marker = path.join(dir, 'late');
      const pidFile = path.join(dir, 'grandchild.pid');
      const t0 = Date.now();
      const slow = await boundary.run({
        file: 'sh',
        args: ['-c', `sh -c 'echo $$ > ${pidFile}; sleep 2; touch ${marker}' & sleep 30`],
        cwd: dir,
        timeoutMs: 500,
        maxBytes: 1000,
      });
      expect(slow.timed_out).toBe(true);
      expect(Date.now() - t0).toBeLessThan(5_000);
      // The grandchild is gone (not merely not yet done): its pid no longer answers.
      const grandchild = Number(await fs.readFile(pidFile, 'utf8'));
      const alive = () => {
        try {
          process.kill(grandchild, 0);
          return true;
        } catch {
          return false;
        }
      };
      for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 20));
      expect(alive()).toBe(false);
      await expect(fs.access(marker)).rejects.toThrow();
      const loud = await boundary.run({
        file: process.execPath,
        args: ['-e', 'for (;;) process.stdout.write("x".repeat(4096))'],
        cwd: dir,
        timeoutMs: 10_000,
        maxBytes: 10_000,
      });
      expect(loud).toMatchObject({ truncated: true, timed_out: false });
      expect(loud.stdout.length).toBe(10_000);
      const missing = await boundary.run({
        file: 'no-such-program-here',
        args: [],
        cwd: dir,
        timeoutMs: 1000,
        maxBytes: 10,
      });
      expect(missing.spawn_error).toMatch(/not found on PATH/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
