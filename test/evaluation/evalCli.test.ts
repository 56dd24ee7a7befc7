/**
 * `task-orchestrator eval` as CI runs it (the built CLI, a child process, the loopback fake):
 * --fail-under exits 1 on a regression and 0 otherwise, the JUnit file is valid XML, --baseline
 * compares with the pinned run, `eval compare` and `eval check` answer with their exit codes.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { useFakeLlm } from '../helpers/fakeLlm.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
const llm = useFakeLlm();
let project: string;

beforeAll(async () => {
  project = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-evalcli-')));
  await fs.mkdir(path.join(project, 'evals'));
  await fs.writeFile(
    path.join(project, 'evals', 'math.yaml'),
    stringify({
      name: 'math',
      providers: ['openai/good', 'openai/sloppy'],
      defaults: { max_tokens: 20 },
      cases: Array.from({ length: 10 }, (_, i) => ({
        id: `sum-${i}`,
        prompt: `What is ${i} + ${i}? Digits only.`,
        assert: [{ type: 'regex', value: `^\\s*${2 * i}\\s*$` }],
      })),
    }),
  );
});
afterAll(async () => {
  await fs.rm(project, { recursive: true, force: true });
});

/** `sloppy` gets the sums in `wrong` wrong. */
function model(wrong: ReadonlySet<number>) {
  llm.fake.respond((prompt, _wire, name) => {
    const m = /What is (\d+) \+/.exec(prompt);
    if (!m) return {};
    const i = Number(m[1]);
    return { text: name === 'sloppy' && wrong.has(i) ? String(2 * i + 1) : String(2 * i) };
  });
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      {
        cwd: project,
        env: {
          PATH: process.env.PATH ?? '',
          OPENAI_API_KEY: 'sk-fake-cli',
          OPENAI_BASE_URL: `${llm.fake.url}/v1`,
          TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
          TASK_ORCHESTRATOR_RETRY_BASE_MS: '5',
        },
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('eval command line', { timeout: 90_000 }, () => {
  it('exits 1 under --fail-under, 0 above it, and writes valid JUnit XML', async () => {
    model(new Set([1, 4]));
    const failing = await run([
      'eval',
      'run',
      'evals/math.yaml',
      '--fail-under',
      '0.95',
      '--junit',
      'out/junit.xml',
    ]);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/FAILED: pass rate 0\.9 is under --fail-under 0\.95/);
    expect(XMLValidator.validate(await fs.readFile(path.join(project, 'out', 'junit.xml'), 'utf8'))).toBe(
      true,
    );
    const passing = await run([
      'eval',
      'run',
      'evals/math.yaml',
      '--fail-under',
      '0.9',
      '--junit',
      'out/junit.xml',
      '--pin',
    ]);
    expect(passing.code).toBe(0);
    expect(passing.stdout).toMatch(/PASSED \(evr_\w+ pinned as the baseline\)/);
    const junit = await fs.readFile(path.join(project, 'out', 'junit.xml'), 'utf8');
    expect(XMLValidator.validate(junit)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(junit) as {
      testsuites: { tests: string; failures: string; testsuite: Array<{ name: string; failures: string }> };
    };
    expect(doc.testsuites).toMatchObject({ tests: '20', failures: '2' });
    expect(doc.testsuites.testsuite.map((s) => [s.name, s.failures])).toEqual([
      ['math on openai/good', '0'],
      ['math on openai/sloppy', '2'],
    ]);
  });

  it('fails a run that is significantly worse than the pinned baseline, and compares two runs', async () => {
    // The baseline (pinned above) had 2 sloppy sums; now 9 of 10 are wrong: 7 newly failing.
    model(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8]));
    const worse = await run(['eval', 'run', 'evals/math.yaml', '--baseline', '--json']);
    expect(worse.code).toBe(1);
    const result = JSON.parse(worse.stdout) as {
      run: { id: string };
      baseline: { regression: boolean; newly_failing: number; p_value: number };
      failed: string[];
    };
    expect(result.baseline).toMatchObject({ regression: true, newly_failing: 7, p_value: 0.0156 });
    expect(result.failed[0]).toMatch(/^regression against the baseline: regression: 7 newly failing/);
    // The same comparison from `eval compare`, exit 1; the other way round it is an improvement.
    const list = await run(['eval', 'run', 'evals/math.yaml', '--json']);
    const latest = (JSON.parse(list.stdout) as { run: { id: string } }).run.id;
    const compared = await run(['eval', 'compare', result.run.id, latest]);
    expect(compared.code).toBe(0);
    expect(compared.stdout).toMatch(/no case changed/);
  });

  it('checks a suite file: exit 2 naming the line, ok otherwise', async () => {
    await fs.writeFile(
      path.join(project, 'evals', 'broken.yaml'),
      'name: broken\ncases:\n  - prompt: x\n    assert:\n      - type: length\n',
    );
    const bad = await run(['eval', 'check', 'evals/broken.yaml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /broken\.yaml:5:\d+: cases\[0\]\.assert\[0\] must have required property 'min'/,
    );
    const good = await run(['eval', 'check', 'evals/math.yaml']);
    expect(good).toMatchObject({ code: 0, stdout: 'ok: math, 10 case(s)\n' });
  });
});
