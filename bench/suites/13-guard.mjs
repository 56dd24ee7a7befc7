/**
 * Issue 25: the Bash guard in front of Claude Code's Bash tool. What one classification costs (the
 * shell parsed with tree-sitter-bash, every simple command judged), its worst cases (a 1 MB
 * command, 64 KiB texts built to be slow), how much everyday work it asks about, and what the
 * PreToolUse hook costs on the warm path against bare `node -e 0`. The command lists are the test
 * fixtures (data, never run): test/fixtures/shell/{everyday,destructive}.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cliPath, percentile, root, startOrchestrator, tempDir } from '../lib.mjs';

const { OperationClassifier, MAX_SHELL_CHARS } = await import(
  pathToFileURL(path.join(root, 'dist', 'safety', 'classifier.js')).href
);
const fixtures = path.join(root, 'test', 'fixtures', 'shell');
const everyday = JSON.parse(readFileSync(path.join(fixtures, 'everyday.json'), 'utf8')).commands;
const destructive = JSON.parse(readFileSync(path.join(fixtures, 'destructive.json'), 'utf8'));

/** A project like the tests': tools installed, a state folder, a link into it. */
function makeProject() {
  const temp = tempDir('to-bench-guard-');
  const dir = realpathSync(temp.dir);
  const project = path.join(dir, 'project');
  const home = path.join(dir, 'home');
  for (const d of [
    project,
    home,
    path.join(project, '.task-orchestrator'),
    path.join(project, 'node_modules', '.bin'),
    path.join(project, 'src'),
    path.join(project, '.venv', 'bin'),
    path.join(project, 'scripts'),
  ])
    mkdirSync(d, { recursive: true });
  for (const bin of ['tsc', 'vitest', 'eslint', 'prettier', 'vite', 'next', 'jest'])
    writeFileSync(path.join(project, 'node_modules', '.bin', bin), '#!/bin/sh\n');
  for (const [file, text] of Object.entries(destructive.files)) {
    mkdirSync(path.dirname(path.join(project, file)), { recursive: true });
    writeFileSync(path.join(project, file), text);
  }
  writeFileSync(path.join(project, '.venv', 'bin', 'activate'), 'export VIRTUAL_ENV="$PWD/.venv"\n');
  writeFileSync(path.join(project, 'scripts', 'check.sh'), '#!/bin/sh\nnpm test\n');
  symlinkSync(path.join(project, '.task-orchestrator'), path.join(project, 'link-to-state'));
  return { ...temp, project, home };
}

const commandOf = (row) => {
  const b = row.build;
  if (!b) return row.command;
  return `${b.prefix}${b.repeat.repeat(b.times)}${b.middle}${(b.close ?? '').repeat(b.close ? b.times : 0)}${b.suffix}`;
};

function spawnTime(args, input, cwd, env) {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { input, cwd, env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return { ms: performance.now() - t, stdout: r.stdout };
}

export default {
  name: 'guard',
  title: 'Bash guard: classification cost, worst cases, everyday asks, PreToolUse against bare node',
  async run() {
    const rows = [];
    const world = makeProject();
    const classifier = await OperationClassifier.load(
      path.join(root, 'data'),
      path.join(world.project, '.task-orchestrator'),
      {
        projectDir: world.project,
        home: world.home,
        cliPath,
      },
    );
    const classify = (command) => classifier.classifyShell(command, { cwd: world.project });
    // Warm the parser and the code paths once.
    for (const c of everyday.slice(0, 20)) classify(c);

    // Per command: every command of both lists (long generated rows apart), ten rounds.
    const per = [];
    const commands = [
      ...everyday,
      ...destructive.rows
        .filter((r) => r.command && !r.build)
        .map((r) => r.command.replaceAll('{project}', world.project).replaceAll('{cli}', cliPath)),
    ];
    for (let round = 0; round < 10; round++)
      for (const c of commands) {
        const t = performance.now();
        classify(c);
        per.push(performance.now() - t);
      }
    rows.push({
      metric: `classification per command (${commands.length} commands x 10), p50`,
      value: percentile(per, 50),
      unit: 'ms',
    });
    rows.push({ metric: 'classification per command, p99', value: percentile(per, 99), unit: 'ms' });
    rows.push({ metric: 'classification per command, max', value: Math.max(...per), unit: 'ms' });

    // Everyday work: how much of it is put to the person.
    const verdicts = everyday.map((c) => classify(c).verdict);
    const asked = verdicts.filter((v) => v === 'REQUIRES_APPROVAL').length;
    const denied = verdicts.filter((v) => v === 'BLOCKED').length;
    rows.push({
      metric: `everyday commands asked about (${everyday.length} commands)`,
      value: (100 * asked) / everyday.length,
      unit: '%',
      target: '<= 5',
      pass: asked / everyday.length <= 0.05,
    });
    rows.push({ metric: 'everyday commands denied', value: denied, target: '0', pass: denied === 0 });
    const missed = destructive.rows.filter((row) => {
      if (row.tool) return false;
      const v = classify(
        commandOf(row).replaceAll('{project}', world.project).replaceAll('{cli}', cliPath),
      ).verdict;
      const miss = row.expect === 'deny' ? v !== 'BLOCKED' : v === 'SAFE';
      if (miss) process.stderr.write(`  missed: ${commandOf(row).slice(0, 100)} -> ${v}\n`);
      return miss;
    }).length;
    rows.push({
      metric: `destructive Bash forms let through (${destructive.rows.filter((r) => !r.tool).length} forms)`,
      value: missed,
      target: '0',
      pass: missed === 0,
    });

    // Worst cases: a 1 MB command (above the cap: decided unread), and texts at the cap built to be slow.
    const mb = `echo ${'a'.repeat(1024 * 1024)}`;
    const times1mb = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      const v = classify(mb).verdict;
      times1mb.push(performance.now() - t);
      if (v !== 'REQUIRES_APPROVAL') throw new Error('a 1 MB command must be asked about');
    }
    rows.push({
      metric: '1 MB command, in process (max of 10)',
      value: Math.max(...times1mb),
      unit: 'ms',
      target: '< 100',
      pass: Math.max(...times1mb) < 100,
    });
    const cap = MAX_SHELL_CHARS - 16;
    const fill = (unit) => unit.repeat(Math.floor(cap / unit.length));
    const shapes = {
      'one word repeated (a a a ...)': `echo ${fill('a ')}`,
      'rm repeated (rm rm rm ...)': fill('rm '),
      backslashes: `echo ${fill('\\a')}`,
      colons: `echo ${fill(':')}`,
      'many simple commands (ls;ls;...)': fill('ls;'),
      'a long pipeline (cat|cat|...)': `cat x${fill('|cat')}`,
      'nested subshells ((((...': `${'('.repeat(4000)}ls${')'.repeat(4000)}`,
      'nested substitutions $($($(...': `echo ${'$('.repeat(3000)}ls${')'.repeat(3000)}`,
      'many file writes (touch f1 f2 ...)': `touch ${Array.from({ length: Math.floor(cap / 8) }, (_, i) => `f${i}`).join(' ')}`,
      'many variables (X1=a; ...)': Array.from({ length: Math.floor(cap / 12) }, (_, i) => `X${i}=a;`).join(
        ' ',
      ),
      'SQL for a client (update x set ...)': `psql -c '${fill('update x set ')}'`,
    };
    const worst = [];
    for (const [name, text] of Object.entries(shapes)) {
      const t = performance.now();
      const v = classify(text.slice(0, MAX_SHELL_CHARS)).verdict;
      const ms = performance.now() - t;
      worst.push(ms);
      rows.push({ metric: `64 KiB ${name}: decided (${v.toLowerCase()}) in`, value: ms, unit: 'ms' });
    }
    rows.push({
      metric: '64 KiB worst of the shapes above',
      value: Math.max(...worst),
      unit: 'ms',
      target: '< 500',
      pass: Math.max(...worst) < 500,
    });

    // The hook as Claude Code runs it: warm (the session's server answers), interleaved with node -e 0.
    const env = { PATH: process.env.PATH, HOME: world.home, CLAUDE_PROJECT_DIR: world.project };
    const server = await startOrchestrator({
      TASK_ORCHESTRATOR_HOME: path.join(world.project, '.task-orchestrator'),
      HOME: world.home,
    });
    const typical = JSON.stringify({
      hook_event_name: 'PreToolUse',
      cwd: world.project,
      tool_name: 'Bash',
      tool_input: {
        command: `git add -A && git commit -m "$(cat <<'EOF'\nFix the parser\nEOF\n)" && npm test 2>&1 | tail -20`,
      },
    });
    const bare = [];
    const hook = [];
    for (let i = 0; i < 43; i++) {
      const b = spawnTime(['-e', '0'], '', world.project, env).ms;
      const h = spawnTime([cliPath, 'hook', 'PreToolUse'], typical, world.project, env).ms;
      if (i < 3) continue;
      bare.push(b);
      hook.push(h);
    }
    const ratio = percentile(hook, 50) / percentile(bare, 50);
    rows.push({ metric: 'node -e 0 p50', value: percentile(bare, 50), unit: 'ms' });
    rows.push({
      metric: 'hook PreToolUse (warm) p50 / p99',
      value: `${percentile(hook, 50).toFixed(0)} / ${percentile(hook, 99).toFixed(0)}`,
      unit: 'ms',
    });
    rows.push({
      metric: 'hook PreToolUse (warm) p50 / node p50',
      value: ratio,
      unit: 'x',
      target: '<= 2',
      pass: ratio <= 2,
    });
    const bigEvent = JSON.stringify({
      hook_event_name: 'PreToolUse',
      cwd: world.project,
      tool_name: 'Bash',
      tool_input: { command: mb },
    });
    const big = spawnTime([cliPath, 'hook', 'PreToolUse'], bigEvent, world.project, env);
    if (!/"ask"/.test(big.stdout)) throw new Error(`the 1 MB command was not asked about: ${big.stdout}`);
    rows.push({
      metric: '1 MB command through the hook process (warm), decided in',
      value: big.ms,
      unit: 'ms',
    });
    await server.close();
    world.remove();
    return {
      rows,
      notes: [
        "In process: OperationClassifier.classifyShell on a project like the tests' (tools installed, a state folder, a link into it). Each command is parsed with tree-sitter-bash (WebAssembly) and every simple command is judged; paths a command writes are resolved through links.",
        `Texts longer than ${MAX_SHELL_CHARS} characters are not read: the answer is ask, at once. The 64 KiB shapes are texts at that cap built to be slow for a regex- or backtracking-based reader; each is decided in one linear pass.`,
        'The hook rows start a new node process per event, as Claude Code does; warm means the MCP server of the session answers on its socket. Ratios are to node -e 0 measured interleaved on the same machine.',
      ],
    };
  },
};
