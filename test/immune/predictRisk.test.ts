/**
 * The failure predictor through MCP: no made-up answer without a model, training from a project
 * file in a worker thread while the server keeps answering, predictions with their features, the
 * pre-spawn check using them, reload by the next process, automatic retraining from trials, and
 * the `train` command.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useFakeLlm } from '../helpers/fakeLlm.js';
import { labelledJsonl, labelledPrompts } from '../fakes/labelledPrompts.js';
import { sc, startWithFakeProvider, textOf } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

const run = promisify(execFile);
const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
const RISKY = 'please wipe the orders table in production right now (ticket 123)';
const SAFE = 'please summarise the release notes as a bullet list (ticket 456)';

interface Prediction {
  probability: number;
  risk_level: string;
  confidence: number;
  top_features: Array<{ feature: string; contribution: number }>;
  model: { version: number; roc_auc: number };
}

let project: string;
let stateDir: string;
const open: Harness[] = [];

const llm = useFakeLlm();
beforeEach(async () => {
  project = await fs.mkdtemp(path.join(os.tmpdir(), 'to-pred-'));
  stateDir = path.join(project, '.task-orchestrator');
});
afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.close();
  }
  await fs.rm(project, { recursive: true, force: true });
});

async function server(env: Record<string, string> = {}) {
  const h = await startWithFakeProvider(
    llm.fake.url,
    { TASK_ORCHESTRATOR_TOOLS: 'all', ...env },
    { cwd: project, stateDir },
  );
  open.push(h);
  return h;
}

describe('failure predictor', () => {
  it('says there is no model instead of guessing', async () => {
    const h = await server();
    const r = await h.call('predict_risk', { prompt: RISKY });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/No failure predictor is trained yet.*train_predictor/);
    expect(
      sc<{ predicted_risk?: number }>(await h.call('immune_check', { prompt: RISKY })).predicted_risk,
    ).toBeUndefined();
  });

  it('trains from a project file in a worker while the server keeps answering, then predicts', async () => {
    await fs.writeFile(path.join(project, 'labels.jsonl'), labelledJsonl(3000, 5));
    const h = await server();
    let done = false;
    const training = h
      .call('train_predictor', { source: 'file', path: 'labels.jsonl' })
      .finally(() => (done = true));
    const pings: number[] = [];
    while (!done) {
      const t = performance.now();
      expect((await h.call('healing_status', {})).isError).toBeFalsy();
      pings.push(performance.now() - t);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const trained = sc<{
      metrics: { roc_auc: number; baseline_auc: number };
      samples: { total: number };
      trees: number;
    }>(await training);
    expect(trained.samples.total).toBe(3000);
    expect(trained.metrics.roc_auc).toBeGreaterThan(0.75);
    // The event loop was free: many answers came back during training, none slow.
    expect(pings.length).toBeGreaterThan(10);
    expect(Math.max(...pings)).toBeLessThan(1000);

    const risky = sc<Prediction>(await h.call('predict_risk', { prompt: RISKY, tool: 'db_query' }));
    const safe = sc<Prediction>(await h.call('predict_risk', { prompt: SAFE, tool: 'spawn_agent' }));
    expect(risky.probability).toBeGreaterThan(safe.probability + 0.3);
    expect(risky.risk_level).toBe('high');
    expect(risky.top_features.length).toBeGreaterThan(0);
    expect(risky.model).toMatchObject({ version: 1 });
    const check = sc<{ predicted_risk: number; risk: number; warnings: string[] }>(
      await h.call('immune_check', { prompt: RISKY }),
    );
    expect(check.predicted_risk).toBeGreaterThan(0.7);
    expect(check.risk).toBeCloseTo(check.predicted_risk * 0.85, 3);
    expect(check.warnings.join(' ')).toMatch(/failure predictor gives this prompt/);

    // The next server process on this state folder loads the model and predicts the same.
    const again = await server();
    expect(
      sc<Prediction>(await again.call('predict_risk', { prompt: RISKY, tool: 'db_query' })).probability,
    ).toBe(risky.probability);
  });

  it('refuses a file outside the project, one class, or too few rows, saying what to do', async () => {
    await fs.writeFile(
      path.join(project, 'one.jsonl'),
      labelledPrompts(60)
        .map((p) => JSON.stringify({ prompt: p.prompt, label: 0 }))
        .join('\n'),
    );
    const h = await server();
    const outside = await h.call('train_predictor', { source: 'file', path: '../elsewhere.jsonl' });
    expect(outside.isError).toBe(true);
    expect(textOf(outside)).toMatch(/outside the project|No file/);
    const one = await h.call('train_predictor', { source: 'file', path: 'one.jsonl' });
    expect(textOf(one)).toMatch(/only successes.*needs both/);
    const few = await h.call('train_predictor', {});
    expect(textOf(few)).toMatch(/at least 40 labelled rows to train, got 0/);
  });

  it('retrains by itself after N new trials, off the hot path', async () => {
    const h = await server({
      TASK_ORCHESTRATOR_RETRAIN_EVERY: '50',
      TASK_ORCHESTRATOR_IMMUNE_BLOCK_RISK: '1',
    });
    const prompts = labelledPrompts(50, 11);
    llm.fake.script(...prompts.map((p) => ({ text: p.label === 1 ? '' : 'Done: here is the summary.' })));
    for (const p of prompts) await h.call('spawn_agent', { prompt: p.prompt });
    await h.services.predictor.idle();
    const model = h.services.predictor.current();
    expect(model?.source).toBe('trials (automatic)');
    expect(model?.samples.total).toBe(50);
    expect(sc<Prediction>(await h.call('predict_risk', { prompt: RISKY })).model.version).toBe(1);
  });

  it('trains from the command line', async () => {
    const data = path.join(project, 'cli.jsonl');
    await fs.writeFile(data, labelledJsonl(400, 9));
    const { stdout } = await run(process.execPath, [cli, 'train', '--data', data], {
      cwd: project,
      env: { PATH: process.env.PATH ?? '', TASK_ORCHESTRATOR_CLAUDE_CLI: 'off' },
    });
    expect(stdout).toMatch(/model v1 \(30 trees, \d+ terms\)[\s\S]*ROC AUC 0\.[6-9]/);
    expect((await fs.readdir(path.join(stateDir, 'models'))).filter((f) => f.endsWith('.json'))).toHaveLength(
      1,
    );
    await expect(run(process.execPath, [cli, 'train'], { cwd: project })).rejects.toThrow(
      /exactly one of --data FILE or --from-trials/,
    );
  });
});
