/**
 * Hook processes with no server to ask read the memory through its match index: they answer what
 * a replay of the log answers, record their checks without replaying, and never trust an index
 * the log has moved past (a failure another process learned and did not index is still seen).
 */
import { spawnSync } from 'node:child_process';
import { promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { ImmuneSystem } from '../../src/immune/immuneSystem.js';
import { MATCH_INDEX_FILE, MatchIndex } from '../../src/immune/matchIndex.js';
import { openStorage } from '../../src/storage/storage.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
let project: string;
const state = () => path.join(project, '.task-orchestrator');
const logDir = () => path.join(state(), 'events', 'immune');

function hook(event: string, input: object) {
  const r = spawnSync(process.execPath, [cli, 'hook', event], {
    input: JSON.stringify({ hook_event_name: event, cwd: project, session_id: 's1', ...input }),
    cwd: project,
    env: { PATH: process.env.PATH ?? '' },
    encoding: 'utf8',
  });
  expect(r.status).toBe(0);
  return r.stdout;
}

const contextOf = (stdout: string) =>
  (JSON.parse(stdout) as { hookSpecificOutput: { additionalContext: string } }).hookSpecificOutput
    .additionalContext;

/** The index answers (it matches the log exactly). */
const indexIsCurrent = () => {
  const index = MatchIndex.open(logDir());
  index?.close();
  return index !== undefined;
};

beforeAll(async () => {
  project = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-coldindex-')));
});
afterAll(async () => {
  await fs.rm(project, { recursive: true, force: true });
});

describe('hooks without a server', () => {
  it('answer from the match index as from the log, and never from a stale one', async () => {
    // A failing command, learned by a hook process (it replays, then leaves an index behind).
    expect(
      hook('PostToolUseFailure', {
        tool_name: 'Bash',
        tool_input: { command: 'npm run migrate -- --env staging' },
        error: 'Error: relation "invoices" does not exist',
      }),
    ).toBe('');
    expect(indexIsCurrent()).toBe(true);

    // Quiet events end with nothing to say.
    expect(hook('UserPromptSubmit', { prompt: 'please refactor the logging of the web server' })).toBe('');
    expect(hook('PreToolUse', { tool_name: 'Bash', tool_input: { command: 'ls -la src' } })).toBe('');
    expect(hook('PostToolUse', { tool_name: 'Bash', tool_input: { command: 'ls -la src' } })).toBe('');

    // A similar command is warned about; a destructive one is still denied.
    const warned = JSON.parse(
      hook('PreToolUse', {
        tool_name: 'Bash',
        tool_input: { command: 'npm run migrate -- --env production' },
      }),
    ) as { systemMessage?: string };
    expect(warned.systemMessage).toMatch(/a similar command failed here before/);
    const denied = JSON.parse(
      hook('PreToolUse', { tool_name: 'Bash', tool_input: { command: 'rm -rf ~' } }),
    ) as { hookSpecificOutput: { permissionDecision: string } };
    expect(denied.hookSpecificOutput.permissionDecision).toBe('deny');

    // Another process learns a failure and does not index it (it died, or it is not ours).
    const storage = await openStorage({ stateDir: state(), logger: silentLogger });
    const other = new ImmuneSystem(storage, systemClock, { matchIndex: false });
    await other.recordFailure(
      {
        operation: 'spawn_agent',
        failure_type: 'empty_output',
        prompt: 'summarise the quarterly churn report for the board',
        output: '',
        grader_scores: {},
      },
      { offline: true },
    );
    await storage.close();
    expect(indexIsCurrent()).toBe(false);
    // The next hook still knows it (it replays), and leaves a current index behind.
    expect(contextOf(hook('UserPromptSubmit', { prompt: 'summarise the quarterly churn report' }))).toMatch(
      /empty_output \(spawn_agent, 1x\)/,
    );
    expect(indexIsCurrent()).toBe(true);
    const index = await fs.stat(path.join(logDir(), MATCH_INDEX_FILE));

    // A matching prompt answered from the index records its check by appending after it: the
    // index is not rewritten, still answers, and the check is in the log.
    const segments = readdirSync(logDir()).length;
    expect(
      contextOf(hook('UserPromptSubmit', { prompt: 'summarise the quarterly churn report again' })),
    ).toMatch(/empty_output/);
    expect(readdirSync(logDir()).length).toBe(segments + 1);
    expect((await fs.stat(path.join(logDir(), MATCH_INDEX_FILE))).mtimeMs).toBe(index.mtimeMs);
    expect(indexIsCurrent()).toBe(true);
    const reader = await openStorage({ stateDir: state(), logger: silentLogger });
    const replayed = new ImmuneSystem(reader, systemClock, { matchIndex: false });
    const learned = (await replayed.list({ limit: 10 })).items.find((p) => p.operation === 'spawn_agent')!;
    expect(learned.hits).toBe(2);
    await reader.close();
  });
});
