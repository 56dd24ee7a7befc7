/**
 * `task-orchestrator hook <event>` as Claude Code runs it: a process per event, the event's JSON
 * on stdin. Lessons from a failure and the attempt that fixed it, the state folder guarded from
 * file edits, the off switch, and failing open on anything unexpected.
 */
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sc, startHarness, textOf } from '../helpers/harness.js';
import { track } from '../helpers/processes.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
let project: string;

function hook(event: string, input: unknown, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, 'hook', event], {
    input:
      typeof input === 'string'
        ? input
        : JSON.stringify({ hook_event_name: event, cwd: project, ...(input as object) }),
    cwd: project,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  project = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-hooks-')));
  const transcript = path.join(project, 'transcript.jsonl');
  await fs.writeFile(
    transcript,
    [
      { type: 'user', message: { role: 'user', content: 'Make the unit tests pass' } },
      {
        type: 'assistant',
        message: { role: 'assistant', content: [{ type: 'text', text: 'Running them.' }] },
      },
      { type: 'user', message: { role: 'user', content: [{ type: 'tool_result', content: 'x' }] } },
    ]
      .map((l) => JSON.stringify(l))
      .join('\n'),
  );
});
afterAll(async () => {
  await fs.rm(project, { recursive: true, force: true });
});

describe('hook command', () => {
  it("escalates and relaxes Claude Code's judged answers like the agents': guarded after a failure, escalated after one despite the guardrail, relaxed with a lesson by a pass", async () => {
    const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-hooks-stop-')));
    try {
      const transcript_path = path.join(dir, 'transcript.jsonl');
      const request = 'Explain how to rotate the signing keys of the release pipeline';
      await fs.writeFile(
        transcript_path,
        JSON.stringify({ type: 'user', message: { role: 'user', content: request } }) + '\n',
      );
      const stop = (answer: string) =>
        spawnSync(process.execPath, [cli, 'hook', 'Stop'], {
          input: JSON.stringify({
            hook_event_name: 'Stop',
            cwd: dir,
            session_id: 'stop-1',
            transcript_path,
            last_assistant_message: answer,
          }),
          cwd: dir,
          env: { PATH: process.env.PATH ?? '' },
          encoding: 'utf8',
        });
      const submit = () =>
        spawnSync(process.execPath, [cli, 'hook', 'UserPromptSubmit'], {
          input: JSON.stringify({
            hook_event_name: 'UserPromptSubmit',
            cwd: dir,
            session_id: 'stop-1',
            prompt: request,
          }),
          cwd: dir,
          env: { PATH: process.env.PATH ?? '' },
          encoding: 'utf8',
        });
      expect(stop("I'm sorry, but I can't help with that.").status).toBe(0);
      const guarded = submit().stdout;
      expect(guarded).toMatch(/failed before \(refusal; failed by refusal\)/);
      expect(guarded).toMatch(/graders said: refusal: /);
      expect(stop("I'm sorry, but I can't help with that.").status).toBe(0);
      const open = () =>
        startHarness({
          stateDir: path.join(dir, '.task-orchestrator'),
          cwd: dir,
          env: { TASK_ORCHESTRATOR_TOOLS: 'immune' },
        });
      type P = { streak: { failures: number; guarded: number }; lesson?: string; occurrences: number };
      let h = await open();
      try {
        const [p] = sc<{ patterns: P[] }>(await h.call('immune_failures', {})).patterns;
        expect(p).toMatchObject({ occurrences: 2, streak: { failures: 2, guarded: 1 } });
      } finally {
        await h.close();
      }
      expect(
        stop(
          'Create the new key in the vault, add it to the pipeline secrets, deploy, then revoke the old key.',
        ).status,
      ).toBe(0);
      h = await open();
      try {
        const [p] = sc<{ patterns: P[] }>(await h.call('immune_failures', {})).patterns;
        expect(p!.streak).toMatchObject({ failures: 0, guarded: 0 });
        expect(p!.lesson).toMatch(
          /^After failing \(refusal: [^)]*\), an attempt with the guardrail passed \(refusal: /,
        );
      } finally {
        await h.close();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('turns a failure and the later attempt that worked into a lesson and a preference pair', async () => {
    const transcript_path = path.join(project, 'transcript.jsonl');
    const failed = hook('PostToolUseFailure', {
      session_id: 's1',
      transcript_path,
      tool_name: 'Bash',
      tool_input: { command: 'npm test' },
      error: "Error: Cannot find module './db'\n    at Object.<anonymous> (/app/test.js:1:1)",
    });
    expect(failed).toMatchObject({ code: 0, stdout: '' });
    const fixed = hook('PostToolUse', {
      session_id: 's1',
      transcript_path,
      tool_name: 'Bash',
      tool_input: { command: 'npm test -- --runInBand' },
    });
    expect(fixed).toMatchObject({ code: 0, stdout: '' });
    const h = await startHarness({
      stateDir: path.join(project, '.task-orchestrator'),
      cwd: project,
      env: { TASK_ORCHESTRATOR_TOOLS: 'all' },
    });
    try {
      const [p] = sc<{ patterns: Array<{ lesson?: string; prompt_summary: string; source?: string }> }>(
        await h.call('immune_failures', { source: 'claude_code' }),
      ).patterns;
      expect(p?.prompt_summary).toMatch(/^Make the unit tests pass\n\$ npm test$/);
      expect(p?.lesson).toMatch(
        /`npm test` failed \(node Error: Cannot find module '\.\/db'\); then `npm test -- --runInBand` worked\./,
      );
      const trials = sc<{ trials: Array<{ pass: boolean; prompt_preview: string }> }>(
        await h.call('trials_list', { source: 'claude_code' }),
      ).trials;
      expect(trials.map((t) => t.pass).sort()).toEqual([false, true]);
      expect(new Set(trials.map((t) => t.prompt_preview)).size).toBe(1);
      // The pair is a preference example in the export.
      const out = sc<{ file: string; lines: number }>(
        await h.call('export_training_data', { format: 'openai_preference' }),
      );
      expect(out.lines).toBe(1);
      // Exports and the dashboard tell Claude Code's work from the agents'.
      const own = sc<{ lines: number }>(
        await h.call('export_training_data', { format: 'full', source: 'claude_code' }),
      );
      expect(own.lines).toBe(2);
      const agents = sc<{ lines: number }>(
        await h.call('export_training_data', { format: 'full', source: 'spawn_agent' }),
      );
      expect(agents.lines).toBe(0);
      // The predictor can be trained on one source's trials (here too few to train on).
      const train = await h.call('train_predictor', { trials_source: 'claude_code' });
      expect(textOf(train)).toMatch(/labelled rows to train, got 2\b/);
      const dashboard = textOf(await h.call('immune_dashboard', {}));
      expect(dashboard).toMatch(/## By source\n\| \| failures \|\n\|---\|---:\|\n\| claude_code \| 1 \|/);
      // A later request for the same thing gets the lesson.
      const guard = hook('UserPromptSubmit', { session_id: 's2', prompt: 'make the unit tests pass again' });
      const context = (JSON.parse(guard.stdout) as { hookSpecificOutput: { additionalContext: string } })
        .hookSpecificOutput.additionalContext;
      expect(context).toMatch(/what worked later: [^\n]*npm test -- --runInBand/);
      expect(context.length).toBeLessThanOrEqual(2000);
    } finally {
      await h.close();
    }
  });

  it('denies file edits in the state folder and asks for edits outside the project', () => {
    const inbox = hook('PreToolUse', {
      tool_name: 'Edit',
      tool_input: { file_path: '.task-orchestrator/inbox.json' },
    });
    const denied = JSON.parse(inbox.stdout) as {
      hookSpecificOutput: { permissionDecision: string; permissionDecisionReason: string };
    };
    expect(denied.hookSpecificOutput.permissionDecision).toBe('deny');
    expect(denied.hookSpecificOutput.permissionDecisionReason).toMatch(/state folder/);
    const outside = hook('PreToolUse', { tool_name: 'Write', tool_input: { file_path: '/etc/cron.d/x' } });
    expect(JSON.parse(outside.stdout)).toMatchObject({ hookSpecificOutput: { permissionDecision: 'ask' } });
    const inside = hook('PreToolUse', { tool_name: 'Write', tool_input: { file_path: 'src/a.ts' } });
    expect(inside.stdout).toBe('');
    const approval = hook('PreToolUse', {
      tool_name: 'Bash',
      tool_input: { command: 'git reset --hard HEAD~3' },
    });
    expect(JSON.parse(approval.stdout)).toMatchObject({ hookSpecificOutput: { permissionDecision: 'ask' } });
  });

  it('does nothing with the switch off, and fails open on bad input', async () => {
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'to-hooks-off-'));
    try {
      const off = spawnSync(process.execPath, [cli, 'hook', 'PostToolUseFailure'], {
        input: JSON.stringify({
          cwd: other,
          session_id: 'x',
          tool_name: 'Bash',
          tool_input: { command: 'false' },
          error: 'exit 1',
        }),
        env: { PATH: process.env.PATH ?? '', TASK_ORCHESTRATOR_HOOKS: 'off' },
        encoding: 'utf8',
      });
      expect(off.status).toBe(0);
      await expect(fs.access(path.join(other, '.task-orchestrator'))).rejects.toThrow();
    } finally {
      await fs.rm(other, { recursive: true, force: true });
    }
    expect(hook('UserPromptSubmit', 'this is not json')).toMatchObject({ code: 0, stdout: '' });
    expect(hook('NoSuchEvent', {})).toMatchObject({ code: 0, stdout: '' });
    // A bad configuration is noted, never an error for Claude Code.
    const bad = hook('UserPromptSubmit', { prompt: 'hello' }, { TASK_ORCHESTRATOR_CONTEXT_BUDGET: 'lots' });
    expect(bad).toMatchObject({ code: 0, stdout: '' });
  });

  it('redacts a secret before cutting a long command, and never silences the guard', async () => {
    // The key straddles the 1,000-character cut of the stored command: redacted first, nothing of it stays.
    const key = 'sk-ant-api03-Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVb';
    const command = `${'echo padding '.repeat(72)}curl -H "x-api-key: ${key}" https://api.example.com; export MY_API_TOKEN=Zx81KQm2pLw9Tr4Vb7Ny3`;
    expect(command.indexOf(key)).toBeLessThan(1000);
    expect(command.indexOf(key) + key.length).toBeGreaterThan(1000);
    hook('PostToolUseFailure', {
      session_id: 's-secret',
      tool_name: 'Bash',
      tool_input: { command },
      error: `401 Unauthorized; MY_API_TOKEN=Zx81KQm2pLw9Tr4Vb7Ny3 token npm_Zx81KQm2pLw9Tr4Vb7Ny3Hc6Jd0Fg5Se1UaQw`,
    });
    const state = path.join(project, '.task-orchestrator');
    const files = await fs.readdir(state, { recursive: true });
    let stored = '';
    for (const f of files) {
      const file = path.join(state, f);
      if ((await fs.stat(file)).isFile() && !file.endsWith('.sock'))
        stored += await fs.readFile(file, 'utf8');
    }
    expect(stored).toContain('echo padding');
    for (const piece of [key.slice(0, 14), 'Zx81KQm2pLw9Tr4Vb7Ny3', 'npm_Zx81KQm2pLw9'])
      expect(stored, piece).not.toContain(piece);
    // An event too large to read, or not readable, is put to the person.
    const unreadable = hook('PreToolUse', '{"tool_name": "Bash", "tool_input": ');
    expect(JSON.parse(unreadable.stdout)).toMatchObject({
      hookSpecificOutput: { permissionDecision: 'ask' },
    });
  });

  it('asks the running server first (the warm path), and falls back when it was killed', async () => {
    const server = track(
      spawn(process.execPath, [cli, 'serve'], {
        cwd: project,
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    const socket = path.join(project, '.task-orchestrator', 'hooks.sock');
    try {
      for (let i = 0; i < 100 && !(await fs.stat(socket).catch(() => undefined)); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect((await fs.stat(socket)).mode & 0o777).toBe(0o600);
      // The hook's own environment has a bad variable: only the server could have answered.
      const bad = { TASK_ORCHESTRATOR_CONTEXT_BUDGET: 'lots' };
      const deny = hook(
        'PreToolUse',
        { tool_name: 'Bash', tool_input: { command: 'git push --force origin main' } },
        bad,
      );
      expect(deny.stdout).toMatch(/"permissionDecision":"deny"/);
      const guard = hook(
        'UserPromptSubmit',
        { session_id: 's3', prompt: 'make the unit tests pass again' },
        bad,
      );
      expect(guard.stdout).toMatch(/what worked later/);
      // Killed without cleaning up: the socket file stays, nobody answers; the hook does the work itself.
      server.kill('SIGKILL');
      await new Promise((r) => server.once('exit', r));
      expect(await fs.stat(socket).catch(() => undefined)).toBeDefined();
      const alone = hook('PreToolUse', {
        tool_name: 'Bash',
        tool_input: { command: 'git push --force origin main' },
      });
      expect(alone.stdout).toMatch(/"permissionDecision":"deny"/);
      // No server and a configuration the hook cannot read: the guard is down, and says so.
      const down = hook(
        'PreToolUse',
        { tool_name: 'Bash', tool_input: { command: 'git push --force origin main' } },
        bad,
      );
      const message = (JSON.parse(down.stdout) as { systemMessage?: string }).systemMessage;
      expect(message).toMatch(/command guard is down .*TASK_ORCHESTRATOR_CONTEXT_BUDGET/);
      expect(down.stdout).not.toMatch(/permissionDecision/);
    } finally {
      server.kill('SIGKILL');
    }
  });
});
