/**
 * Issue 13 benchmarks: what the safety layer costs. The classifier and the command policy run
 * before every command; the redactor runs on every result and every state write; the quoting
 * function on every untrusted text. In-process CPU costs, with the exec boundary's own start-up
 * (a `true` through the boundary) beside them for scale.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, percentile, root, tempDir } from '../lib.mjs';

const load = (p) => import(pathToFileURL(path.join(root, 'dist', p)).href);
const { OperationClassifier } = await load('safety/classifier.js');
const { CommandPolicy } = await load('safety/commandPolicy.js');
const { createRedactor } = await load('safety/redact.js');
const { quoteUntrusted } = await load('safety/quote.js');
const { createExecBoundary } = await load('safety/exec.js');

async function time(fn, n) {
  const runs = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    runs.push(performance.now() - t);
  }
  return runs;
}

const COMMANDS = [
  ['npm', 'test'],
  ['git', 'log', '--oneline', '-n', '5'],
  ['git', '-c', 'alias.x=!rm -rf /', 'x'],
  ['git', 'push', 'origin', '+feature:main'],
  ['make', 'SHELL=/tmp/x.sh', 'test'],
  ['grep', '-r', 'TODO', 'src'],
  ['npm', 'exec', 'rimraf', '/'],
  ['cat', 'README.md'],
];

export default {
  name: 'safety',
  title: 'Safety: classifier, command policy, redaction, quoting',
  async run() {
    const temp = tempDir('to-bench-safety-');
    const project = await fs.realpath(temp.dir);
    await fs.mkdir(path.join(project, 'src'));
    await fs.writeFile(path.join(project, 'README.md'), '# x\n');
    await fs.writeFile(path.join(project, 'package.json'), JSON.stringify({ scripts: { test: 'true' } }));
    try {
      const classifier = await OperationClassifier.load(
        path.join(root, 'data'),
        path.join(project, '.state'),
      );
      const policy = await CommandPolicy.load(path.join(root, 'data'), path.join(project, '.state'), {
        projectDir: project,
        stateDir: path.join(project, '.state'),
        gatePrograms: ['npm', 'make'],
        commandPrograms: ['npm', 'git', 'make', 'grep', 'cat'],
      });
      const classify = () => {
        for (const c of COMMANDS) classifier.classify(c);
      };
      await time(classify, 200);
      const classifyRuns = (await time(classify, 2000)).map((ms) => ms / COMMANDS.length);
      const check = async () => {
        for (const c of COMMANDS) await policy.check(c, { cwd: project, profile: 'command' });
      };
      await time(check, 100);
      const policyRuns = (await time(check, 1000)).map((ms) => ms / COMMANDS.length);

      const redact = createRedactor({ secrets: ['my-configured-secret-value'] });
      const result = JSON.stringify({
        tasks: Array.from({ length: 20 }, (_, i) => ({
          id: `t_${i}abcdef`,
          title: `Task number ${i} about the release notes`,
          status: 'ready',
          tags: ['docs', 'release'],
        })),
      });
      await time(() => redact(result), 500);
      const resultRuns = await time(() => redact(result), 5000);
      const clean = 'The build log says: compiled 1200 modules in 3.2 s; warning: unused import. '.repeat(
        14_000,
      );
      const mb = `${clean} key sk-proj-Zx81KQm2pLw9Tr4Vb7Ny3Hc6Jd0Fg5Se1Ua`;
      await time(() => redact(mb), 2);
      const mbMs = median(await time(() => redact(mb), 10));
      const cleanMs = median(await time(() => redact(clean), 10));
      const output = 'x'.repeat(4000);
      const quoteRuns = await time(
        () => quoteUntrusted(output, { label: 'command output', maxChars: 4000 }),
        5000,
      );

      const boundary = createExecBoundary({ env: { PATH: process.env.PATH ?? '' } });
      const spawnOpts = { file: 'true', args: [], cwd: project, timeoutMs: 5000, maxBytes: 1024 };
      await time(() => boundary.run(spawnOpts), 5);
      const spawnMs = median(await time(() => boundary.run(spawnOpts), 30));
      return {
        rows: [
          {
            metric: `classifier, per command (${COMMANDS.length} commands incl. disguises), p50 / p99`,
            value: `${median(classifyRuns).toFixed(3)} / ${percentile(classifyRuns, 99).toFixed(3)}`,
            unit: 'ms',
          },
          {
            metric: 'command policy check (paths resolved on disk), per command, p50 / p99',
            value: `${median(policyRuns).toFixed(3)} / ${percentile(policyRuns, 99).toFixed(3)}`,
            unit: 'ms',
          },
          {
            metric: 'classifier + policy vs starting `true` through the exec boundary',
            value: ((median(classifyRuns) + median(policyRuns)) / spawnMs) * 100,
            unit: '%',
            target: '<= 10%',
            pass: (median(classifyRuns) + median(policyRuns)) / spawnMs <= 0.1,
          },
          { metric: 'exec boundary start-up (`true`), median', value: spawnMs, unit: 'ms' },
          {
            metric: `redacting a tasks_list-sized result (${result.length} chars), p50`,
            value: median(resultRuns),
            unit: 'ms',
          },
          {
            metric: `redaction of a ${(mb.length / 1e6).toFixed(1)} MB output holding one key (every pattern runs)`,
            value: mb.length / 1e6 / (mbMs / 1000),
            unit: 'MB/s',
          },
          {
            metric: 'the same output without a secret (the probe alone)',
            value: clean.length / 1e6 / (cleanMs / 1000),
            unit: 'MB/s',
          },
          {
            metric: 'quoting a 4,000-character output (random fence), p50',
            value: median(quoteRuns),
            unit: 'ms',
          },
        ],
        notes: [
          'The policy check resolves each path operand with realpath (links followed), so it touches the disk; the classifier is pure CPU over several readings of each command.',
          'Round trips of the cheapest tool, which now include redaction of every result, are in the foundation suite.',
        ],
      };
    } finally {
      temp.remove();
    }
  },
};
