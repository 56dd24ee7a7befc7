/**
 * The command line: commander only. Each command's module (commands/) is imported when that
 * command runs, so a short command (`--version`) does not load the whole server.
 */
import { Command } from 'commander';
import { describeError } from '../core/errors.js';
import { packageVersion } from '../core/version.js';
import { EXPORT_FORMATS } from '../evaluation/exportFormats.js';

/** An action that imports its command's module only when the command runs. */
function lazy<A extends unknown[]>(load: () => Promise<(...args: A) => Promise<void>>) {
  return async (...args: A): Promise<void> => (await load())(...args);
}

export async function runCommandLine(): Promise<void> {
  const program = new Command()
    .name('task-orchestrator')
    .description('MCP server: persistent work orders, graded LLM agents, failure memory.')
    .version(packageVersion());

  program
    .command('serve', { isDefault: true })
    .description('run the MCP server on stdio (what `claude mcp add` starts), or over HTTP with --http')
    .option('--http', 'serve MCP Streamable HTTP at /mcp (bearer JWT required) instead of stdio')
    .option('--host <addr>', 'HTTP: address to bind', '127.0.0.1')
    .option('--port <n>', 'HTTP: port (0 = any free port)', '8765')
    .option('--allowed-hosts <names>', 'HTTP: comma list of host names clients use (needed off loopback)')
    .action(lazy(async () => (await import('./commands/serve.js')).serve));

  program
    .command('token')
    .description('mint a bearer token for HTTP mode (HS256 with JWT_SECRET_KEY)')
    .requiredOption('--sub <name>', 'the subject: who acts with this token')
    .option('--ttl <duration>', 'lifetime, e.g. 15m, 1h, 7d', '1h')
    .option(
      '--approver',
      "this subject may approve inbox items in HTTP mode (a person's token; never an agent's)",
    )
    .action(lazy(async () => (await import('./commands/token.js')).tokenCommand));

  program
    .command('dashboard')
    .description('serve the immune dashboard (HTML with charts) on this machine')
    .option('--port <n>', 'port (0 = any free port)', '8766')
    .option('--host <addr>', 'loopback address to bind', '127.0.0.1')
    .option('--days <n>', 'window of the trend and totals', '14')
    .option('--out <file>', 'write the page to a file and exit instead of serving')
    .action(lazy(async () => (await import('./commands/dashboard.js')).dashboardCommand));

  program
    .command('train')
    .description("train the failure predictor from a JSONL file or this project's trials")
    .option(
      '--data <file>',
      'JSONL with prompt/input/input_prompt and label (1 = failure)/success/pass_fail/error',
    )
    .option('--from-trials', "use this project's graded trials")
    .option('--seed <n>', 'split and forest seed (default 42)')
    .action(lazy(async () => (await import('./commands/train.js')).trainCommand));

  program
    .command('approve <id>')
    .description('approve an inbox action and run it once (in a terminal: a person decides)')
    .action(lazy(async () => (await import('./commands/decisions.js')).approveCommand));

  program
    .command('reject <id>')
    .description('reject an inbox action (in a terminal)')
    .requiredOption('--reason <text>', 'why it must not run')
    .action(lazy(async () => (await import('./commands/decisions.js')).rejectCommand));

  program
    .command('waive-gates <task>')
    .description('let a task complete without running its command gates (execution off); in a terminal')
    .requiredOption('--reason <text>', 'why they need not run')
    .action(lazy(async () => (await import('./commands/decisions.js')).waiveGatesCommand));

  program
    .command('hook <event>')
    .description(
      "Claude Code hook handler (the plugin installs it): the event's JSON on stdin, Claude Code's hook answer on stdout; never fails Claude Code",
    )
    .action(lazy(async () => (await import('./commands/hook.js')).hookCommand));

  program
    .command('doctor')
    .description('check configuration, state folder, tools and providers')
    .option('--json', 'machine-readable output')
    .action(lazy(async () => (await import('./commands/doctor.js')).doctor));

  program
    .command('tools')
    .description('list categories and tools with token estimates')
    .option('--json', 'machine-readable output')
    .option('--markdown', 'the README tool reference')
    .option('--write <readme>', 'regenerate the tools and env sections of a README in place')
    .action(lazy(async () => (await import('./commands/tools.js')).tools));

  program
    .command('export')
    .description('write graded trials as training data (JSONL)')
    .requiredOption('--format <format>', `one of ${EXPORT_FORMATS.join(', ')}`)
    .requiredOption('--out <file>', 'where to write the JSONL')
    .option('--since <date>', 'only trials from this ISO date on')
    .option('--label <label>', 'pass, fail or all (default: pass for SFT formats)')
    .option('--limit <n>', 'most lines to write')
    .option('--source <source>', "only this source: claude_code (Claude Code's own work), spawn_agent, ...")
    .action(lazy(async () => (await import('./commands/export.js')).exportCommand));

  program
    .command('migrate')
    .description(
      "copy this project's stores between its state folder and the team database (TASK_ORCHESTRATOR_DATABASE_URL), checked record by record; never overwrites",
    )
    .option('--to-database', 'from the state folder into the database (under TASK_ORCHESTRATOR_PROJECT)')
    .option('--to-folder <dir>', 'from the database into a folder that holds no stores yet')
    .action(lazy(async () => (await import('./commands/migrate.js')).migrateCommand));

  const evals = program
    .command('eval')
    .description('evaluation suites: run a suite across models (exits 1 on a regression), compare runs');
  evals
    .command('run <suite>')
    .description(
      'run a suite file (YAML) and report; exit 1 on a regression or an early stop, 2 on a bad suite',
    )
    .option('--providers <list>', "comma list of provider/model (default: the suite's providers)")
    .option('--concurrency <n>', 'calls at once (default 4)')
    .option('--max-cost <usd>', 'stop before the call that could pass this spend')
    .option('--fail-under <rate>', 'exit 1 when the pass rate (0-1) is below this')
    .option('--baseline', "compare with the suite's pinned baseline; exit 1 on a significant regression")
    .option('--pin', 'pin this run as the baseline when it passes')
    .option('--resume <run>', 'continue a stopped or crashed run')
    .option(
      '--memory <arm>',
      "off, on (the failure memory's guardrails on every call) or both (each model in both arms)",
    )
    .option('--junit <file>', 'write JUnit XML (inside the project)')
    .option('--json', 'print the result as JSON')
    .action(lazy(async () => (await import('./commands/evalCommand.js')).evalRunCommand));
  evals
    .command('compare <before> <after>')
    .description('what flipped between two runs; exit 1 on a significant regression')
    .option('--json', 'print the diff as JSON')
    .action(lazy(async () => (await import('./commands/evalCommand.js')).evalCompareCommand));
  evals
    .command('check <suite>')
    .description('check a suite file against the format; exit 2 naming the line of each problem')
    .action(lazy(async () => (await import('./commands/evalCommand.js')).evalCheckCommand));

  await program.parseAsync().catch((error: unknown) => {
    process.stderr.write(`task-orchestrator: ${describeError(error)}\n`);
    process.exit(1);
  });
}
