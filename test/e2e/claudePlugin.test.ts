/**
 * The plugin in the real Claude Code CLI (test/helpers/claudeCode.ts): installed in a throwaway
 * HOME, `claude -p` sessions against a loopback model this test plays.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sc, startHarness } from '../helpers/harness.js';
import { installPlugin, ScriptedModel, session as claudeSession } from '../helpers/claudeCode.js';
import type { ClaudeWorld, Turn } from '../helpers/claudeCode.js';

let root: string;
let project: string;
let world: ClaudeWorld;
const model = new ScriptedModel();

const session = (prompt: string, turns: Turn[], extraEnv: Record<string, string> = {}) =>
  claudeSession(world, prompt, turns, extraEnv);

beforeAll(async () => {
  root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-plugin-')));
  world = await installPlugin(root, model);
  project = world.project;
}, 180_000);

afterAll(async () => {
  await new Promise((resolve) => model.server?.close(resolve));
  await fs.rm(root, { recursive: true, force: true });
});

describe('the Claude Code plugin', () => {
  it('learns a failed command, guards the reworded request, denies a force push, grades the answer', async () => {
    expect.hasAssertions();
    // Session 1: a Bash command fails; the answer is graded.
    const first = await session(
      'Run the unit tests of the billing module',
      [{ bash: 'ls ./billing-module-tests' }, { text: 'The billing module has no tests folder yet.' }],
      // Judges for the Stop grade are asked for; otherwise nothing leaves the machine.
      { TASK_ORCHESTRATOR_HOOK_GRADE: 'judges' },
    );
    expect(first.code, first.stderr).toBe(0);
    const h = await startHarness({
      stateDir: path.join(project, '.task-orchestrator'),
      cwd: project,
      env: { TASK_ORCHESTRATOR_TOOLS: 'all' },
    });
    try {
      const patterns = sc<{
        patterns: Array<{ operation: string; source?: string; prompt_summary: string }>;
      }>(await h.call('immune_failures', { source: 'claude_code' })).patterns;
      expect(patterns).toHaveLength(1);
      expect(patterns[0]).toMatchObject({ operation: 'claude_code:Bash', source: 'claude_code' });
      expect(patterns[0]!.prompt_summary).toMatch(
        /Run the unit tests of the billing module[\s\S]*ls \.\/billing-module-tests/,
      );
      const trials = sc<{ trials: Array<{ operation: string; source: string; pass: boolean }> }>(
        await h.call('trials_list', { source: 'claude_code' }),
      ).trials;
      expect(trials.map((t) => t.operation).sort()).toEqual(['claude_code:Bash', 'claude_code:answer']);
      expect(trials.find((t) => t.operation === 'claude_code:answer')?.pass).toBe(true);
      // Asked for, with a provider in the environment (Claude Code's own), the answer was judged as well.
      expect(model.judged).toBe(1);
    } finally {
      await h.close();
    }

    // Session 2: the same thing asked again in other words: the model's first request carries the guardrail.
    const second = await session("Please run the billing module's unit tests", [
      { text: 'I will check the folder first.' },
    ]);
    expect(second.code, second.stderr).toBe(0);
    const firstRequest = JSON.stringify(second.requests.find((r) => Array.isArray(r.tools)));
    expect(firstRequest).toContain('task-orchestrator failure memory');
    expect(firstRequest).toContain('ls ./billing-module-tests');

    // Session 3: a force push is denied before it runs (the marker would be written first).
    const marker = path.join(root, 'pushed');
    const third = await session('Publish the release', [
      { bash: `touch ${marker} && git push --force origin main` },
      { text: 'The push was refused.' },
    ]);
    expect(third.code, third.stderr).toBe(0);
    await expect(fs.access(marker)).rejects.toThrow();
    // The model was told why, in the tool result of its call.
    expect(JSON.stringify(third.requests)).toMatch(
      /"tool_result","content":"PreToolUse:Bash hook error: task-orchestrator blocked this command: force push/,
    );

    // Session 4: a broken state folder (a file where the folder should be): the hooks fail open.
    await fs.rename(path.join(project, '.task-orchestrator'), path.join(root, 'state-kept'));
    await fs.writeFile(path.join(project, '.task-orchestrator'), 'not a folder');
    const fourth = await session('Say hello', [{ text: 'Hello.' }]);
    expect(fourth.code, fourth.stderr).toBe(0);
    expect((JSON.parse(fourth.stdout) as { result: string }).result).toBe('Hello.');
    // Sessions 2-4 graded their answers with code graders only: no judge request reached the model.
    expect(model.judged).toBe(1);
  }, 240_000);
});
