/** Training-data export: every format checked line by line against its documented shape. */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { systemClock } from '../../src/core/clock.js';
import { exportRecords } from '../../src/evaluation/export.js';
import { TrialStore } from '../../src/evaluation/trials.js';
import type { Trial } from '../../src/evaluation/trials.js';
import { sc, startHarness } from '../helpers/harness.js';
import { openTestStorage, storageEnv } from '../helpers/storageEnv.js';

const SECRET = 'sk-live-0123456789abcdefghij';

const message = z
  .object({ role: z.enum(['system', 'user', 'assistant']), content: z.string().min(1) })
  .strict();
const formats = {
  openai_sft: z.object({ messages: z.array(message).min(2) }).strict(),
  openai_preference: z
    .object({
      input: z.object({ messages: z.array(message).min(1) }).strict(),
      preferred_output: z.array(message.extend({ role: z.literal('assistant') })).length(1),
      non_preferred_output: z.array(message.extend({ role: z.literal('assistant') })).length(1),
    })
    .strict(),
  gemini_sft: z
    .object({
      contents: z
        .array(
          z
            .object({
              role: z.enum(['user', 'model']),
              parts: z.array(z.object({ text: z.string() }).strict()).min(1),
            })
            .strict(),
        )
        .min(2),
    })
    .strict(),
  langfuse: z
    .object({ input: z.unknown(), expectedOutput: z.unknown(), metadata: z.record(z.string(), z.unknown()) })
    .strict(),
  full: z
    .object({
      id: z.string(),
      prompt: z.string(),
      output: z.string(),
      pass: z.boolean(),
      graders: z.array(z.unknown()),
    })
    .passthrough(),
};

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-export-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function seed(stateDir: string): Promise<Trial[]> {
  const storage = await openTestStorage(stateDir);
  const trials = new TrialStore(storage.log<Trial>('trials'), systemClock);
  const base = { operation: 'spawn_agent', provider: 'openai', model: 'gpt-4o-mini', graders: [] };
  await trials.record({ ...base, prompt: 'Capital of France?', output: 'Paris.', pass: true, score: 1 });
  await trials.record({
    ...base,
    prompt: 'Capital of France?',
    output: 'Lyon, I think.',
    pass: false,
    score: 0.2,
    failure_type: 'hallucination',
  });
  await trials.record({
    ...base,
    prompt: `Use key ${SECRET} to call the API`,
    output: 'Done with Bearer abcdefghijklmnopqrstuvwxyz.',
    pass: true,
    score: 1,
  });
  await trials.record({
    ...base,
    prompt: 'x',
    output: '',
    pass: false,
    score: 0,
    failure_type: 'provider_error',
    error: 'boom',
  });
  const all = (await trials.list({ limit: 100 })).items.reverse();
  await storage.close();
  return all;
}

describe('export formats', () => {
  it('produces lines that match each platform format, with secrets scrubbed', async () => {
    const trials = await seed(dir);
    const lines = (format: keyof typeof formats, extra = {}) => [
      ...exportRecords(trials, { format, secrets: [SECRET], ...extra }),
    ];
    for (const format of Object.keys(formats) as Array<keyof typeof formats>) {
      const out = lines(format);
      expect(out.length, format).toBeGreaterThan(0);
      for (const line of out) {
        const parsed = formats[format].safeParse(line);
        expect(parsed.success, `${format}: ${JSON.stringify(line)}`).toBe(true);
        expect(JSON.stringify(line)).not.toContain(SECRET);
        expect(JSON.stringify(line)).not.toContain('abcdefghijklmnopqrstuvwxyz');
      }
    }
    expect(lines('openai_sft')).toHaveLength(2); // passing trials only, provider errors never
    expect(lines('openai_sft', { label: 'fail' })).toHaveLength(1);
    expect(lines('full')).toHaveLength(4);
    expect(lines('openai_sft', { limit: 1 })).toHaveLength(1);
    const pairs = lines('openai_preference') as Array<{
      preferred_output: Array<{ content: string }>;
      non_preferred_output: Array<{ content: string }>;
    }>;
    expect(pairs).toHaveLength(1);
    expect(pairs[0]?.preferred_output[0]?.content).toBe('Paris.');
    expect(pairs[0]?.non_preferred_output[0]?.content).toBe('Lyon, I think.');
    expect(JSON.stringify(lines('openai_sft'))).toContain('[REDACTED]');
    // Configured patterns are scrubbed too.
    const custom = [...exportRecords(trials, { format: 'openai_sft', secrets: [], patterns: [/Paris/g] })];
    expect(JSON.stringify(custom)).not.toContain('Paris');
  });
});

describe('export through MCP and the CLI', () => {
  it('the tool writes only under the state folder', async () => {
    await seed(dir);
    const h = await startHarness({ stateDir: dir, env: { TASK_ORCHESTRATOR_TOOLS: 'eval' } });
    const r = sc<{ file: string; lines: number }>(
      await h.call('export_training_data', { format: 'gemini_sft' }),
    );
    expect(r.file.startsWith(path.join(dir, 'exports') + path.sep)).toBe(true);
    expect(r.lines).toBe(2);
    const text = await fs.readFile(r.file, 'utf8');
    expect(
      text
        .trim()
        .split('\n')
        .map((l) => formats.gemini_sft.safeParse(JSON.parse(l)).success),
    ).toEqual([true, true]);
    await h.close();
  });

  it('the CLI writes where asked', async () => {
    await seed(dir);
    const out = path.join(dir, 'sft.jsonl');
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        process.execPath,
        [path.resolve('dist/cli.js'), 'export', '--format', 'openai_sft', '--out', out],
        {
          env: {
            PATH: process.env.PATH ?? '',
            TASK_ORCHESTRATOR_HOME: dir,
            ...storageEnv(dir),
            TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
          },
          stdio: 'ignore',
        },
      );
      child.on('exit', resolve);
    });
    expect(code).toBe(0);
    const lines = (await fs.readFile(out, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(formats.openai_sft.safeParse(JSON.parse(l)).success).toBe(true);
  });
});
