/**
 * The semantic stage through MCP, on the loopback fake's embeddings (real OpenAI and Gemini SDKs;
 * the test chooses the vectors, so it decides which texts are close): a paraphrase with no shared
 * key term is guarded, a request sharing the words but not the task is not; a prompt is embedded
 * once (cached, also for the next server process); with embeddings down (500s) matching falls back
 * to TF-IDF and says so.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { useFakeLlm } from '../helpers/fakeLlm.js';
import { storageEnv } from '../helpers/storageEnv.js';
import { sc, startWithFakeProvider } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

const llm = useFakeLlm();
let h: Harness | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

interface Check {
  risk: number;
  should_proceed: boolean;
  matches: Array<{ pattern_id: string; similarity: number; stage: string; tfidf: number; semantic?: number }>;
  guardrails: string[];
  match: { stage: string; embedding_model?: string; fallback_reason?: string; cached?: boolean };
}

const FAILED = 'Summarise the incident report for the on-call team in five bullet points';
/** The same task in other words: no key term in common. */
const PARAPHRASE = 'Give the pager rotation a short recap of what broke last night';
/** The same words, another task. */
const OTHER_TASK = 'Translate the incident report for the on-call team into French, in five bullet points';

/** 8 dimensions: the failed task and its paraphrase point the same way; the other task elsewhere. */
function vectors(text: string): number[] {
  if (text === FAILED) return [1, 0, 0, 0, 0, 0, 0, 0];
  if (text === PARAPHRASE) return [0.96, 0.28, 0, 0, 0, 0, 0, 0];
  if (text === OTHER_TASK) return [0.1, 0, 0.99, 0, 0, 0, 0, 0];
  return [0, 0, 0, 0, 0, 0, 0.3, 0.95];
}

async function remember(env: Record<string, string>, stateDir?: string): Promise<Harness> {
  h = await startWithFakeProvider(
    llm.fake.url,
    { TASK_ORCHESTRATOR_TOOLS: 'immune,cost', ...env },
    stateDir ? { stateDir } : {},
  );
  llm.fake.embedWith(vectors);
  llm.fake.script({ text: '' });
  await h.call('spawn_agent', { prompt: FAILED });
  return h;
}

describe('the semantic stage', { timeout: 60_000 }, () => {
  it('guards a paraphrase with no shared key term and not a request with the same words for another task', async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-semantic-'));
    dirs.push(stateDir);
    await remember({ TASK_ORCHESTRATOR_EMBEDDING_MODEL: 'openai/text-embedding-3-small' }, stateDir);
    // The spawn's check embedded the prompt once; remembering its failure reused the vector.
    expect(llm.fake.embedRequests).toEqual([
      { wire: 'openai', model: 'text-embedding-3-small', texts: [FAILED] },
    ]);
    const para = sc<Check>(await h!.call('immune_check', { prompt: PARAPHRASE, operation: 'spawn_agent' }));
    expect(para.match).toMatchObject({ stage: 'semantic', embedding_model: 'openai/text-embedding-3-small' });
    expect(para.matches).toHaveLength(1);
    expect(para.matches[0]).toMatchObject({ stage: 'semantic', tfidf: 0 });
    expect(para.matches[0]!.semantic).toBeCloseTo(0.95, 2);
    expect(para.guardrails.length).toBeGreaterThan(0);
    const other = sc<Check>(await h!.call('immune_check', { prompt: OTHER_TASK, operation: 'spawn_agent' }));
    expect(other).toMatchObject({ risk: 0, matches: [], guardrails: [] });

    // Asked again: answered from the cache, no call.
    const calls = llm.fake.embedRequests.length;
    const again = sc<Check>(await h!.call('immune_check', { prompt: PARAPHRASE }));
    expect(again.match.cached).toBe(true);
    expect(llm.fake.embedRequests.length).toBe(calls);
    // The embeddings are in the budget's books, at the embedding model's list price.
    const cost = sc<{ by_model: Array<{ model: string; calls: number; price_basis: string }> }>(
      await h!.call('cost_summary', {}),
    );
    expect(cost.by_model.find((m) => m.model === 'text-embedding-3-small')).toMatchObject({
      calls: 3,
      price_basis: 'list',
    });
    await h!.close();

    // Another server process on the same state: the remembered wording's vector is on disk (not
    // embedded again); only the prompt, which is not a remembered wording, is.
    h = await startWithFakeProvider(
      llm.fake.url,
      {
        TASK_ORCHESTRATOR_TOOLS: 'immune',
        TASK_ORCHESTRATOR_EMBEDDING_MODEL: 'openai/text-embedding-3-small',
      },
      { stateDir },
    );
    llm.fake.embedWith(vectors);
    const before = llm.fake.embedRequests.length;
    const fresh = sc<Check>(await h.call('immune_check', { prompt: PARAPHRASE }));
    expect(fresh.matches[0]).toMatchObject({ stage: 'semantic' });
    expect(llm.fake.embedRequests.slice(before)).toEqual([
      { wire: 'openai', model: 'text-embedding-3-small', texts: [PARAPHRASE] },
    ]);
    const known = sc<Check>(await h.call('immune_check', { prompt: FAILED }));
    expect(known.match.cached).toBe(true);
    expect(llm.fake.embedRequests.length).toBe(before + 1);
  });

  it('falls back to TF-IDF when the embeddings endpoint fails, and says so', async () => {
    await remember({ TASK_ORCHESTRATOR_EMBEDDING_MODEL: 'openai/text-embedding-3-small' });
    llm.fake.scriptEmbeddings({ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
    const other = sc<Check>(await h!.call('immune_check', { prompt: OTHER_TASK }));
    expect(other.match.stage).toBe('tfidf');
    expect(other.match.fallback_reason).toMatch(/embeddings unavailable, matched by TF-IDF only: .*500/);
    // TF-IDF alone rewards the shared words, and the report says which stage decided.
    expect(other.matches[0]).toMatchObject({ stage: 'tfidf' });
    expect(other.matches[0]!.similarity).toBeGreaterThan(0.5);
    const para = sc<Check>(await h!.call('immune_check', { prompt: PARAPHRASE }));
    expect(para.matches).toEqual([]);
    // One call per check (no retries on the check's path); the breaker opens after three failures.
    expect(llm.fake.embedRequests.length).toBe(1 + 2);
    const third = sc<Check>(await h!.call('immune_check', { prompt: 'Rotate the signing keys' }));
    expect(third.match.stage).toBe('tfidf');
    const fourth = sc<Check>(await h!.call('immune_check', { prompt: 'Rotate the API keys' }));
    expect(fourth.match.fallback_reason).toMatch(/circuit open/);
    expect(llm.fake.embedRequests.length).toBe(1 + 3);
    const status = sc<{ matching: { semantic: { failures: number; last_error: string } } }>(
      await h!.call('immune_status', {}),
    );
    expect(status.matching.semantic.failures).toBe(4);
  });

  it('embeds through Gemini when the model is gemini', async () => {
    await remember({
      GEMINI_API_KEY: 'gm-fake-key',
      GEMINI_BASE_URL: llm.fake.url,
      TASK_ORCHESTRATOR_EMBEDDING_MODEL: 'gemini',
    });
    const para = sc<Check>(await h!.call('immune_check', { prompt: PARAPHRASE }));
    expect(para.match).toMatchObject({ stage: 'semantic', embedding_model: 'gemini/gemini-embedding-001' });
    expect(para.matches[0]).toMatchObject({ stage: 'semantic' });
    expect(llm.fake.embedRequests.map((r) => [r.wire, r.model])).toEqual([
      ['gemini', 'gemini-embedding-001'],
      ['gemini', 'gemini-embedding-001'],
    ]);
  });

  it('says what to fix for an embedding model it cannot use', async () => {
    h = await startWithFakeProvider(llm.fake.url, {
      TASK_ORCHESTRATOR_TOOLS: 'immune',
      TASK_ORCHESTRATOR_EMBEDDING_MODEL: 'gemini',
    });
    const r = sc<Check>(await h.call('immune_check', { prompt: PARAPHRASE }));
    expect(r.match.fallback_reason).toMatch(/Provider "gemini" is not configured/);
  });

  it("never sends Claude Code's own failures to the embedding model or into an agent's prompt", async () => {
    const project = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-semantic-local-')));
    dirs.push(project);
    const stateDir = path.join(project, '.task-orchestrator');
    const secret = 'Summarise the incident report of the internal payroll outage';
    const transcript_path = path.join(project, 'transcript.jsonl');
    await fs.writeFile(
      transcript_path,
      JSON.stringify({ type: 'user', message: { role: 'user', content: secret } }) + '\n',
    );
    h = await startWithFakeProvider(
      llm.fake.url,
      { TASK_ORCHESTRATOR_TOOLS: 'immune', TASK_ORCHESTRATOR_EMBEDDING_MODEL: 'openai' },
      { stateDir, cwd: project },
    );
    llm.fake.embedWith(vectors);
    // Claude Code's answer refuses: its Stop hook remembers the failure (source claude_code).
    const hook = spawnSync(
      process.execPath,
      [path.resolve(import.meta.dirname, '../../dist/cli.js'), 'hook', 'Stop'],
      {
        input: JSON.stringify({
          hook_event_name: 'Stop',
          cwd: project,
          session_id: 'local-1',
          transcript_path,
          last_assistant_message: "I'm sorry, but I can't help with that.",
        }),
        cwd: project,
        env: { PATH: process.env.PATH ?? '', ...storageEnv(stateDir) },
        encoding: 'utf8',
      },
    );
    expect(hook.status).toBe(0);
    llm.fake.script({ text: 'Here is the summary of the payroll outage report.' });
    const spawned = sc<{ immune?: { matched_patterns: number } }>(
      await h.call('spawn_agent', { prompt: `${secret} for the board` }),
    );
    expect(spawned.immune?.matched_patterns).toBe(1);
    const check = sc<Check & { evidence: unknown[] }>(
      await h.call('immune_check', { prompt: 'Summarise the incident report of the payroll outage' }),
    );
    expect(check.matches[0]).toMatchObject({ stage: 'tfidf' });
    expect(check.evidence).toEqual([]);
    // The agent's provider got the type's guardrail, not Claude Code's stored text.
    const system = JSON.stringify(llm.fake.requests[0]!.body);
    expect(system).toMatch(/A similar request was declined before/);
    expect(system).not.toMatch(/can't help with that/);
    // Only the agent's own prompts were embedded, never the remembered Claude Code request.
    await new Promise((r) => setTimeout(r, 200));
    expect(llm.fake.embedRequests.flatMap((r) => r.texts)).not.toContain(secret);
  });
});
