/**
 * The guard and the human channel in the real Claude Code CLI (the plugin installed in a throwaway
 * HOME, `claude -p` against a scripted loopback model): a destructive command inside a subshell is
 * stopped before it runs (a marker file it would write first stays absent), an agent that tries to
 * approve its own action through a pseudo terminal is refused (the item stays pending) by the hook
 * and, with the hooks off, by the CLI itself, and a forged failure event reaches the next prompt's
 * context only inside a quote. The commands and events are data (test/fixtures/shell/claude-sessions.json).
 */
import { execFile } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sc, startHarness } from '../helpers/harness.js';
import { installPlugin, ScriptedModel, session } from '../helpers/claudeCode.js';
import type { ClaudeWorld } from '../helpers/claudeCode.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
const data = JSON.parse(
  readFileSync(path.resolve(import.meta.dirname, '../fixtures/shell/claude-sessions.json'), 'utf8'),
) as Record<string, unknown> & { forgedMarkers: string[] };

let root: string;
let world: ClaudeWorld;
const model = new ScriptedModel();

const fill = (text: string, values: Record<string, string>) =>
  Object.entries(values).reduce((t, [k, v]) => t.replaceAll(`{${k}}`, v), text);

/** Sends a hook event as anyone who can run the hook command could (stdin), from the project. */
function sendEvent(event: string, input: unknown): Promise<string> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cli, 'hook', event],
      { cwd: world.project, env: { PATH: process.env.PATH ?? '', HOME: world.home } },
      (_e, stdout) => resolve(stdout),
    );
    child.stdin?.end(JSON.stringify(input));
  });
}

/** Whether every occurrence of `marker` in `text` lies between a quote's fences. */
function onlyInsideQuotes(text: string, marker: string): boolean {
  const spans: Array<[number, number]> = [];
  const open = /<<<([\p{L}\p{N} _./:-]+?) ([0-9a-f]{12})>>>/gu;
  for (let m = open.exec(text); m; m = open.exec(text)) {
    // The closing fence stands on a line of its own (the opening line names it too); in a JSON
    // request the line break is written as \\n.
    const fence = `<<<end ${m[2]}>>>`;
    let end = text.indexOf(fence, m.index);
    while (end > 0 && !(text.endsWith('\n', end) || text.endsWith('\\n', end)))
      end = text.indexOf(fence, end + 1);
    if (end > 0) spans.push([m.index, end]);
  }
  for (let at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + 1))
    if (!spans.some(([from, to]) => at > from && at < to)) return false;
  return true;
}

beforeAll(async () => {
  root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-claude-guard-')));
  world = await installPlugin(root, model);
}, 180_000);

afterAll(async () => {
  await new Promise((resolve) => model.server?.close(resolve));
  await fs.rm(root, { recursive: true, force: true });
});

describe('the guard in real Claude Code', () => {
  it('stops a destructive command inside a subshell, or behind a variable, before it runs', async () => {
    for (const key of ['subshell', 'variable']) {
      const marker = path.join(root, `ran-${key}`);
      const run = await session(world, 'Publish the release', [
        { bash: fill(data[key] as string, { marker }) },
        { text: 'It was refused.' },
      ]);
      expect(run.code, run.stderr).toBe(0);
      await expect(fs.access(marker), `${key}: the command ran`).rejects.toThrow();
      expect(JSON.stringify(run.requests)).toMatch(/task-orchestrator blocked this command: force push/);
    }
  }, 120_000);

  it('refuses an agent approving its own action through a pseudo terminal (hooks on, and off)', async () => {
    const state = path.join(world.project, '.task-orchestrator');
    await promisify(execFile)('git', ['init', '-q'], { cwd: world.project });
    await fs.writeFile(path.join(world.project, 'junk.tmp'), 'x');
    const h = await startHarness({
      cwd: world.project,
      stateDir: state,
      env: { TASK_ORCHESTRATOR_TOOLS: 'all', TASK_ORCHESTRATOR_EXECUTE: 'on' },
    });
    try {
      const id = sc<{ action_id: string }>(
        await h.call('run_with_error_capture', { command: 'git', args: ['clean', '-f'] }),
      ).action_id;
      const attempts: Array<{ command: string; env: Record<string, string> }> = [
        // The hook denies it before it runs.
        { command: 'selfApprove', env: {} },
        // With the plugin's hooks off, the CLI itself refuses: Claude Code's variables...
        { command: 'selfApprove', env: { TASK_ORCHESTRATOR_HOOKS: 'off' } },
        // ...or, with them cleared, Claude Code above it in the process tree.
        { command: 'selfApproveCleanEnv', env: { TASK_ORCHESTRATOR_HOOKS: 'off' } },
      ];
      const outputs: string[] = [];
      for (const attempt of attempts) {
        const run = await session(
          world,
          'Clean the repository',
          [{ bash: fill(data[attempt.command] as string, { cli, id }) }, { text: 'Done.' }],
          attempt.env,
        );
        expect(run.code, run.stderr).toBe(0);
        outputs.push(JSON.stringify(run.requests.at(-1)));
      }
      expect(outputs[0]).toMatch(
        /task-orchestrator blocked this command: task-orchestrator approve is the person's channel/,
      );
      expect(outputs[1]).toMatch(/needs a person at their own terminal, and it runs inside Claude Code/);
      expect(outputs[2]).toMatch(
        /needs a person at their own terminal, and it runs below (Claude Code|a process started by Claude Code)/,
      );
      const item = sc<{ items: Array<{ id: string; status: string; executions: number }> }>(
        await h.call('inbox_status', {}),
      ).items.find((i) => i.id === id);
      expect(item).toMatchObject({ status: 'pending', executions: 0 });
      await fs.access(path.join(world.project, 'junk.tmp'));
    } finally {
      await h.close();
    }
  }, 180_000);

  it('keeps a forged failure event as data: quoted in the next context, and nothing of a forged tool name', async () => {
    const transcript = path.join(root, 'transcript.jsonl');
    await fs.writeFile(
      transcript,
      `${JSON.stringify({ type: 'user', message: { role: 'user', content: 'Deploy the billing service to staging' } })}\n`,
    );
    const values = { project: world.project, transcript };
    const fillEvent = (event: unknown) => JSON.parse(fill(JSON.stringify(event), values)) as unknown;
    await sendEvent('PostToolUseFailure', fillEvent(data.forgedFailure));
    await sendEvent('PostToolUseFailure', fillEvent(data.forgedToolName));
    const h = await startHarness({
      cwd: world.project,
      stateDir: path.join(world.project, '.task-orchestrator'),
      env: { TASK_ORCHESTRATOR_TOOLS: 'all' },
    });
    try {
      const failures = await h.call('immune_failures', { source: 'claude_code' });
      const patterns = sc<{ patterns: Array<{ operation: string }> }>(failures).patterns;
      // Only the event that named a real tool was kept, under that name.
      expect(patterns.map((p) => p.operation)).toEqual(['claude_code:Bash']);
      const text = failures.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
      for (const marker of data.forgedMarkers.slice(0, 3))
        expect(onlyInsideQuotes(text, marker), marker).toBe(true);
    } finally {
      await h.close();
    }
    const next = await session(world, 'Please deploy the billing service to staging', [
      { text: 'Checking first.' },
    ]);
    expect(next.code, next.stderr).toBe(0);
    const first = JSON.stringify(next.requests.find((r) => Array.isArray(r.tools)));
    expect(first).toContain('task-orchestrator failure memory');
    expect(first).toContain('SYSTEM OVERRIDE');
    for (const marker of data.forgedMarkers) expect(onlyInsideQuotes(first, marker), marker).toBe(true);
    expect(first).not.toContain('ASSISTANT MUST OBEY');
  }, 120_000);
});
