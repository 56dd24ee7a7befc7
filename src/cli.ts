#!/usr/bin/env node
/**
 * The composition root: parses the command line and the environment, builds services, and starts
 * the requested command. Nothing else in src/ has side effects at import time.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServer as createHttpServer } from 'node:http';
import { Command } from 'commander';
import { loadConfig } from './config.js';
import type { Config } from './config.js';
import { systemClock } from './core/clock.js';
import { describeError } from './core/errors.js';
import { createLogger } from './core/logger.js';
import type { Logger } from './core/logger.js';
import { packageVersion } from './core/version.js';
import { EXPORT_FORMATS, writeExport } from './evaluation/export.js';
import type { ExportFormat } from './evaluation/export.js';
import { buildCatalog, renderEnvMarkdown, renderToolsMarkdown, replaceSection } from './mcp/catalog.js';
import { buildDashboard } from './mcp/dashboard.js';
import { parseTrainingJsonl } from './immune/prediction/dataset.js';
import { renderHtml } from './immune/dashboard/dashboardRender.js';
import { Authenticator, mintToken, parseTtl } from './mcp/http/auth.js';
import { isLoopback, startHttpServer } from './mcp/http/httpServer.js';
import { createServer } from './mcp/server.js';
import { loadPricing } from './cost/pricing.js';
import { LimitedStdioTransport } from './mcp/stdioTransport.js';
import { approveAndRun } from './safety/inbox.js';
import { createRedactor } from './safety/redact.js';
import { openServices } from './mcp/services.js';
import type { Services } from './mcp/services.js';

function fatal(error: unknown): never {
  process.stderr.write(`task-orchestrator: ${describeError(error)}\n`);
  process.exit(1);
}

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    fatal(error);
  }
}

/** A stderr logger whose every line passes the secret redactor. */
function cliLogger(config: Config, level: Config['logLevel'], base?: Record<string, unknown>): Logger {
  return createLogger({
    level,
    redact: createRedactor({ secrets: config.secrets, patterns: config.redactPatterns }),
    ...(base ? { base } : {}),
  });
}

/** Set once stderr cannot be written (the client closed it): nothing more is logged there. */
let stderrBroken = false;

const isBrokenPipe = (error: unknown) =>
  ['EPIPE', 'ERR_STREAM_DESTROYED', 'ECONNRESET'].includes((error as NodeJS.ErrnoException)?.code ?? '');

/** The server's stderr logger; a tool bug must never take the session down (Claude Code does not restart a crashed server). */
function serverLogger(config: Config): Logger {
  const logger = createLogger({
    level: config.logLevel,
    redact: createRedactor({ secrets: config.secrets, patterns: config.redactPatterns }),
    base: { pid: process.pid },
    write: (line) => {
      if (!stderrBroken && !process.stderr.destroyed) process.stderr.write(line);
    },
  });
  process.stderr.on('error', () => {
    stderrBroken = true;
  });
  process.on('unhandledRejection', (error) => logger.error('unhandled rejection', { error }));
  process.on('uncaughtException', (error) => {
    // The client is gone (its end of a pipe closed): logging about it would only fail again.
    if (isBrokenPipe(error)) process.exit(0);
    logger.error('uncaught exception', { error });
  });
  return logger;
}

/**
 * Shuts down once on SIGTERM/SIGINT (or the returned trigger): stops the transport, flushes
 * traces and storage (everything acknowledged is already durable), exits 0.
 */
function onShutdown(logger: Logger, services: Services, stopTransport: () => Promise<void>) {
  let stopping = false;
  const shutdown = async (reason: string, graceMs = 5_000) => {
    if (stopping) return;
    stopping = true;
    // Whatever hangs (a stuck flush, a broken pipe), the process ends.
    setTimeout(() => process.exit(0), graceMs).unref();
    logger.info('shutting down', { reason });
    await stopTransport().catch(() => {});
    await services.close().catch((error: unknown) => logger.error('storage close failed', { error }));
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  return shutdown;
}

async function serve(options: {
  http?: boolean;
  host?: string;
  port?: string;
  allowedHosts?: string;
}): Promise<void> {
  if (options.http) return serveHttp(options);
  const config = configOrExit();
  const logger = serverLogger(config);

  const services = await openServices(config, logger, systemClock).catch(fatal);
  let server;
  try {
    server = createServer(services);
  } catch (error) {
    fatal(error);
  }
  const shutdown = onShutdown(logger, services, () => server.close());
  process.stdin.on('end', () => void shutdown('stdin closed'));
  // The client went away: a write to its pipes fails. End within a second rather than spin.
  const gone = (what: string) => () => {
    if (what === 'stderr') stderrBroken = true;
    void shutdown(`${what} closed by the client`, 900);
  };
  process.stdout.on('error', gone('stdout'));
  process.stderr.on('error', gone('stderr'));
  const transport = new LimitedStdioTransport(process.stdin, process.stdout, {
    logger,
    maxLineBytes: config.maxRequestBytes,
  });
  transport.onerror = (error) => {
    if (isBrokenPipe(error)) gone('stdout')();
    else logger.warn('stdio transport error', { error });
  };
  await server.connect(transport);
  services.startBackground();
  logger.info('serving on stdio', {
    version: packageVersion(),
    stateDir: config.stateDir,
    tools: config.tools,
  });
}

interface Check {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

async function doctor(options: { json?: boolean }): Promise<void> {
  const checks: Check[] = [];
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  checks.push({
    check: 'node',
    status: major > 20 || (major === 20 && minor >= 17) ? 'ok' : 'fail',
    detail: `v${process.versions.node} (needs >= 20.17)`,
  });
  let config: Config | undefined;
  try {
    config = loadConfig();
    checks.push({
      check: 'config',
      status: 'ok',
      detail: `tools=${Array.isArray(config.tools) ? config.tools.join(',') : String(config.tools)}`,
    });
  } catch (error) {
    checks.push({ check: 'config', status: 'fail', detail: describeError(error) });
  }
  if (config) {
    const logger = cliLogger(config, 'error');
    try {
      const services = await openServices(config, logger, systemClock);
      // Read the stores once, so damage anywhere in them is found and reported here.
      await services.tasks.read(() => undefined).catch(() => undefined);
      await services.trials.list({ limit: 1 }).catch(() => undefined);
      const recoveries = services.storage.recoveries;
      checks.push({
        check: 'state folder',
        status: recoveries.length ? 'warn' : 'ok',
        detail: `${config.stateDir} (writable${
          recoveries.length
            ? `; ${recoveries.length} recovery(ies): ${recoveries
                .slice(0, 5)
                .map(
                  (r) =>
                    `${path.relative(config.stateDir, r.file)}: ${r.problem} (${r.action.replace('_', ' ')}${r.preservedAs ? `, kept as ${path.relative(config.stateDir, r.preservedAs)}` : ''})`,
                )
                .join('; ')}`
            : ''
        })`,
      });
      const catalog = await buildCatalog(services);
      checks.push({
        check: 'tools',
        status: 'ok',
        detail: `${catalog.categories.map((c) => `${c.name}(${c.tools.length})`).join(' ')}; core ~${catalog.coreTokens} tokens`,
      });
      const fed = await services.federation.status();
      checks.push({
        check: 'federation',
        status: fed.configured ? 'ok' : 'warn',
        detail: fed.configured
          ? `hub ${fed.hub} as "${fed.project}": ${fed.projects.length} project(s), subscribed to ${fed.subscriptions.join(', ') || 'none'}`
          : `off (set TASK_ORCHESTRATOR_FEDERATION_DIR to share failure patterns); this project would be "${fed.project}"`,
      });
      const model = services.predictor.current();
      checks.push({
        check: 'predictor',
        status: model ? 'ok' : 'warn',
        detail: model
          ? `model v${model.version} from ${model.samples.total} rows, ROC AUC ${model.metrics.roc_auc} (${model.created_at})`
          : 'no model yet (train_predictor, `task-orchestrator train`, or automatically after enough trials)',
      });
      checks.push({
        check: 'commands',
        status: 'ok',
        detail: `${config.execute ? 'execution ON' : 'dry run (TASK_ORCHESTRATOR_EXECUTE=on to run)'}; allowed: ${config.commands.join(', ')}; gates: ${config.gateCommands.join(', ')}; programs get PATH, HOME, locale${config.execEnv.length ? ` and ${config.execEnv.join(', ')}` : ''}`,
      });
      checks.push({
        check: 'http auth',
        status: config.http.jwtSecret || config.http.jwksUrl ? 'ok' : 'warn',
        detail: config.http.jwtSecret
          ? `HS256 secret set (issuer ${config.http.issuer}, audience ${config.http.audience})`
          : config.http.jwksUrl
            ? `JWKS ${config.http.jwksUrl}`
            : 'serve --http needs JWT_SECRET_KEY or TASK_ORCHESTRATOR_JWKS_URL (stdio needs neither)',
      });
      await services.close();
    } catch (error) {
      checks.push({ check: 'state folder', status: 'fail', detail: describeError(error) });
    }
    for (const name of ['gemini', 'openai', 'anthropic'] as const) {
      const p = config.providers.find((x) => x.name === name);
      const vars = {
        gemini: 'GEMINI_API_KEY/GOOGLE_API_KEY',
        openai: 'OPENAI_API_KEY',
        anthropic: 'ANTHROPIC_API_KEY',
      }[name];
      checks.push({
        check: `provider ${name}`,
        status: p ? 'ok' : 'warn',
        detail: p
          ? `key from ${p.keyVar}${p.baseUrl ? `, base URL ${p.baseUrl}` : ''}`
          : `not configured (set ${vars})`,
      });
    }
    // Models past or near their provider's retirement date fail or will fail every call.
    try {
      const pricing = await loadPricing(config.dataDir, config.stateDir);
      const used = [
        ...config.providers.filter((p) => p.name !== 'claude-code').map((p) => `${p.name}/${p.model}`),
        ...(config.judgeModel?.includes('/') ? [config.judgeModel] : []),
      ];
      const notes = [...new Set(used)].flatMap((spec) => {
        const [provider, ...rest] = spec.split('/');
        const life = pricing.lifecycle(provider!, rest.join('/'), Date.now());
        if (life.status === 'active') return [];
        const instead = life.replacement ? `; use ${life.replacement}` : '';
        return [
          {
            status: life.status === 'retired' ? ('fail' as const) : ('warn' as const),
            text: `${spec} ${life.status === 'retired' ? 'was retired on' : 'retires on'} ${life.retires}${instead}`,
          },
        ];
      });
      checks.push({
        check: 'models',
        status: notes.some((n) => n.status === 'fail') ? 'fail' : notes.length ? 'warn' : 'ok',
        detail: notes.length
          ? notes.map((n) => n.text).join('; ')
          : used.length
            ? `${used.join(', ')}: none retired or retiring within 60 days`
            : 'no API provider configured',
      });
    } catch (error) {
      checks.push({ check: 'models', status: 'fail', detail: describeError(error) });
    }
    const cli = config.providers.find((p) => p.name === 'claude-code');
    checks.push({
      check: 'provider claude-code',
      status: cli ? 'ok' : 'warn',
      detail:
        cli && cli.name === 'claude-code'
          ? `${cli.command} (keyless, uses Claude Code's login)`
          : 'claude CLI not on PATH (or TASK_ORCHESTRATOR_CLAUDE_CLI=off)',
    });
  }
  if (options.json) {
    process.stdout.write(JSON.stringify({ checks }, null, 2) + '\n');
  } else {
    const w1 = Math.max(...checks.map((c) => c.check.length));
    for (const c of checks)
      process.stdout.write(`${c.status.toUpperCase().padEnd(5)} ${c.check.padEnd(w1)}  ${c.detail}\n`);
  }
  if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
}

async function tools(options: { json?: boolean; markdown?: boolean; write?: string }): Promise<void> {
  const config = configOrExit();
  const logger = cliLogger(config, 'error');
  // The catalog never touches storage; use a throwaway folder so listing tools creates no state.
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'task-orchestrator-tools-'));
  try {
    const services = await openServices({ ...config, stateDir: scratch }, logger, systemClock);
    const catalog = await buildCatalog(services);
    await services.close();
    if (options.write) {
      const doc = await fs.readFile(options.write, 'utf8');
      const next = replaceSection(
        replaceSection(doc, 'tools', renderToolsMarkdown(catalog)),
        'env',
        renderEnvMarkdown(),
      );
      if (next !== doc) await fs.writeFile(options.write, next);
      process.stdout.write(`${options.write}: ${next === doc ? 'up to date' : 'updated'}\n`);
    } else if (options.json) {
      process.stdout.write(JSON.stringify(catalog, null, 2) + '\n');
    } else if (options.markdown) {
      process.stdout.write(renderToolsMarkdown(catalog));
    } else {
      for (const c of catalog.categories) {
        process.stdout.write(`${c.name}  (~${c.tokens} tokens)  ${c.description}\n`);
        for (const t of c.tools)
          process.stdout.write(`  ${t.name.padEnd(24)} ${String(t.tokens).padStart(5)}  ${t.title}\n`);
      }
      process.stdout.write(
        `model-facing definitions: core ~${catalog.coreTokens} tokens, all ~${catalog.allTokens} tokens; whole tools/list: core ~${catalog.coreListTokens}, all ~${catalog.allListTokens} (${catalog.tokenizer})\n`,
      );
    }
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

async function exportCommand(options: {
  format: string;
  out: string;
  since?: string;
  label?: string;
  limit?: string;
}): Promise<void> {
  const config = configOrExit();
  if (!(EXPORT_FORMATS as readonly string[]).includes(options.format)) {
    fatal(new Error(`--format must be one of ${EXPORT_FORMATS.join(', ')}`));
  }
  if (options.label && !['pass', 'fail', 'all'].includes(options.label))
    fatal(new Error('--label must be pass, fail or all'));
  const limit = options.limit === undefined ? undefined : Number(options.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    fatal(new Error('--limit must be a positive integer'));
  const logger = cliLogger(config, 'error');
  const services = await openServices(config, logger, systemClock).catch(fatal);
  const trials = (await services.trials.list({ limit: Number.MAX_SAFE_INTEGER })).items.reverse();
  const lines = await writeExport(path.resolve(options.out), trials, {
    format: options.format as ExportFormat,
    since: options.since,
    label: options.label as 'pass' | 'fail' | 'all' | undefined,
    limit,
    secrets: config.secrets,
    patterns: config.redactPatterns,
  });
  await services.close();
  process.stderr.write(`wrote ${lines} line(s) of ${options.format} to ${path.resolve(options.out)}\n`);
}

async function serveHttp(options: { host?: string; port?: string; allowedHosts?: string }): Promise<void> {
  const config = configOrExit();
  const logger = serverLogger(config);
  const host = options.host ?? '127.0.0.1';
  const port = Number(options.port ?? 8765);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fatal(new Error('--port must be 0-65535'));
  const allowedHosts = options.allowedHosts
    ? options.allowedHosts
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean)
    : config.http.allowedHosts;
  let auth: Authenticator;
  try {
    auth = new Authenticator({
      secret: config.http.jwtSecret,
      jwksUrl: config.http.jwksUrl,
      issuer: config.http.issuer,
      audience: config.http.audience,
    });
  } catch (error) {
    fatal(error);
  }
  if (!isLoopback(host) && allowedHosts.length === 0)
    fatal(
      new Error(
        `binding to ${host} needs --allowed-hosts (the host names clients use), or bind to 127.0.0.1`,
      ),
    );
  const services = await openServices(config, logger, systemClock).catch(fatal);
  const http = await startHttpServer(services, auth, {
    host,
    port,
    allowedHosts,
    allowedOrigins: config.http.allowedOrigins,
    maxBodyBytes: config.http.maxBodyBytes,
    ratePerMinute: config.http.ratePerMinute,
    maxConcurrent: config.http.maxConcurrent,
    shutdownGraceMs: 10_000,
    sessionIdleMs: config.http.sessionIdleS * 1000,
    sessionsPerSubject: config.http.sessionsPerSubject,
    preAuthRatePerMinute: config.http.preAuthRatePerMinute,
  }).catch(fatal);
  services.startBackground();
  onShutdown(logger, services, () => http.close());
  logger.info('serving over HTTP', { url: http.url, version: packageVersion(), stateDir: config.stateDir });
  process.stderr.write(`task-orchestrator: MCP over HTTP at ${http.url}\n`);
}

async function tokenCommand(options: { sub: string; ttl: string }): Promise<void> {
  const config = configOrExit();
  const ttl = parseTtl(options.ttl);
  if (ttl === undefined) fatal(new Error('--ttl must be a duration like 90s, 15m, 1h or 7d (at most 366d)'));
  if (!/^[\w.@:-]{1,128}$/.test(options.sub))
    fatal(new Error('--sub must be 1-128 letters, digits or . _ @ : -'));
  try {
    const { token, expires_at } = await mintToken(
      {
        secret: config.http.jwtSecret,
        jwksUrl: config.http.jwksUrl,
        issuer: config.http.issuer,
        audience: config.http.audience,
      },
      options.sub,
      ttl,
    );
    process.stdout.write(`${token}\n`);
    process.stderr.write(`token for "${options.sub}", expires ${expires_at}\n`);
  } catch (error) {
    fatal(error);
  }
}

async function dashboardCommand(options: {
  port: string;
  host: string;
  days: string;
  out?: string;
}): Promise<void> {
  const config = configOrExit();
  const port = Number(options.port);
  const days = Number(options.days);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fatal(new Error('--port must be 0-65535'));
  if (!Number.isInteger(days) || days < 1 || days > 365) fatal(new Error('--days must be 1-365'));
  if (!['127.0.0.1', 'localhost', '::1'].includes(options.host))
    fatal(
      new Error(
        '--host must be a loopback address (127.0.0.1, localhost or ::1): the dashboard has no authentication',
      ),
    );
  const logger = cliLogger(config, config.logLevel);
  const services = await openServices(config, logger, systemClock).catch(fatal);
  if (options.out) {
    await fs.writeFile(path.resolve(options.out), renderHtml(await buildDashboard(services, days)));
    await services.close();
    process.stderr.write(`wrote ${path.resolve(options.out)}\n`);
    return;
  }
  const server = createHttpServer((req, res) => {
    // Only this machine, by its own name: refuses DNS-rebinding requests for other host names.
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden host\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' || !['/', '/data.json'].includes(url.pathname)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try / or /data.json\n');
      return;
    }
    const window = Number(url.searchParams.get('days') ?? days);
    buildDashboard(services, Number.isInteger(window) && window >= 1 && window <= 365 ? window : days)
      .then((d) => {
        if (url.pathname === '/data.json')
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(d));
        else
          res
            .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
            .end(renderHtml(d));
      })
      .catch((error: unknown) => {
        logger.error('dashboard failed', { error });
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${describeError(error)}\n`);
      });
  });
  server.listen(port, options.host, () => {
    const address = server.address();
    const actual = typeof address === 'object' && address ? address.port : port;
    const shown = options.host === '::1' ? '[::1]' : options.host;
    process.stdout.write(`immune dashboard at http://${shown}:${actual}/ (Ctrl-C to stop)\n`);
  });
  server.on('error', (error) => fatal(error));
  const stop = () => {
    server.close();
    void services.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function trainCommand(options: { data?: string; fromTrials?: boolean; seed?: string }): Promise<void> {
  const config = configOrExit();
  if (!options.data === !options.fromTrials)
    fatal(new Error('pass exactly one of --data FILE or --from-trials'));
  const seed = options.seed === undefined ? undefined : Number(options.seed);
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0))
    fatal(new Error('--seed must be a non-negative integer'));
  const logger = cliLogger(config, 'error');
  const services = await openServices(config, logger, systemClock).catch(fatal);
  try {
    let rows;
    let skipped = 0;
    let source = 'trials';
    if (options.data) {
      const parsed = parseTrainingJsonl(await fs.readFile(path.resolve(options.data), 'utf8'));
      rows = parsed.rows;
      skipped = parsed.skipped;
      source = `file ${path.resolve(options.data)}`;
    } else rows = await services.trialRows();
    process.stderr.write(
      `training on ${rows.length} row(s)${skipped ? ` (${skipped} line(s) skipped)` : ''}...\n`,
    );
    const m = await services.predictor.train(rows, source, seed);
    const x = m.metrics;
    process.stdout.write(
      `model v${m.version} (${m.trees} trees, ${m.feature_spec.vocabulary.length} terms) in ${(m.training_ms / 1000).toFixed(1)} s\n` +
        `held-out ${x.support} rows: ROC AUC ${x.roc_auc} (constant 0.5), accuracy ${x.accuracy}, precision ${x.precision}, recall ${x.recall}, F1 ${x.f1}\n` +
        `saved under ${path.join(config.stateDir, 'models')}\n`,
    );
  } catch (error) {
    process.stderr.write(`task-orchestrator: ${describeError(error)}\n`);
    process.exitCode = 1;
  } finally {
    await services.close();
  }
}

/**
 * The human's channel for decisions: it runs only in a terminal (a program without one, such as an
 * agent's shell tool, is refused) and asks the person to type the decision.
 */
async function humanDecision(
  what: string,
  run: (services: Services, by: string) => Promise<string>,
  confirmWord: string,
): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write(
      `task-orchestrator: ${what} needs a person at a terminal (stdin and stdout must be a TTY); an agent cannot decide for the user\n`,
    );
    process.exit(2);
  }
  const config = configOrExit();
  const logger = cliLogger(config, 'error');
  const services = await openServices(config, logger, systemClock).catch(fatal);
  const by = `${os.userInfo().username} (terminal)`;
  try {
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(`${what}\nType "${confirmWord}" to go on: `);
    rl.close();
    if (answer.trim() !== confirmWord) {
      process.stdout.write('Nothing was decided.\n');
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`${await run(services, by)}\n`);
  } catch (error) {
    process.stderr.write(`task-orchestrator: ${describeError(error)}\n`);
    process.exitCode = 1;
  } finally {
    await services.close();
  }
}

async function describeAction(id: string): Promise<string> {
  const config = configOrExit();
  const logger = cliLogger(config, 'error');
  const services = await openServices(config, logger, systemClock).catch(fatal);
  try {
    const item = await services.inbox.get(id);
    return [
      `Action ${item.id} (${item.status}), requested by ${item.requested_by} at ${item.created_at}:`,
      `  ${item.summary}`,
      `  needs approval because: ${item.reasons.join('; ')}`,
      `  expires ${item.expires_at}; execution is ${config.execute ? 'on' : 'off (it will be a dry run)'}`,
    ].join('\n');
  } catch (error) {
    fatal(error);
  } finally {
    await services.close();
  }
}

async function approveCommand(id: string): Promise<void> {
  const what = await describeAction(id);
  await humanDecision(
    what,
    async (services, by) => {
      const { item, run } = await approveAndRun(services.inbox, services.commands, id, {
        by,
        via: 'terminal',
      });
      const out = run.result ? `\n${run.result.stdout}${run.result.stderr}`.trimEnd() : '';
      return `Approved ${item.id}: ${run.message}${out}`;
    },
    'approve',
  );
}

async function rejectCommand(id: string, options: { reason: string }): Promise<void> {
  const what = await describeAction(id);
  await humanDecision(
    what,
    async (services, by) => {
      const item = await services.inbox.decide(id, {
        approve: false,
        reason: options.reason,
        by,
        via: 'terminal',
      });
      return `Rejected ${item.id}: ${options.reason}`;
    },
    'reject',
  );
}

async function waiveGatesCommand(taskId: string, options: { reason: string }): Promise<void> {
  await humanDecision(
    `Let task ${taskId} complete without running its command gates (reason: ${options.reason}).`,
    async (services, by) => {
      const task = await services.tasks.waiveGates(taskId, options.reason, by);
      return `Command gates of ${task.id} (${task.title}) are waived; tasks_complete can complete it now.`;
    },
    'waive',
  );
}

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
  .action(serve);

program
  .command('token')
  .description('mint a bearer token for HTTP mode (HS256 with JWT_SECRET_KEY)')
  .requiredOption('--sub <name>', 'the subject: who acts with this token')
  .option('--ttl <duration>', 'lifetime, e.g. 15m, 1h, 7d', '1h')
  .action(tokenCommand);

program
  .command('dashboard')
  .description('serve the immune dashboard (HTML with charts) on this machine')
  .option('--port <n>', 'port (0 = any free port)', '8766')
  .option('--host <addr>', 'loopback address to bind', '127.0.0.1')
  .option('--days <n>', 'window of the trend and totals', '14')
  .option('--out <file>', 'write the page to a file and exit instead of serving')
  .action(dashboardCommand);

program
  .command('train')
  .description("train the failure predictor from a JSONL file or this project's trials")
  .option(
    '--data <file>',
    'JSONL with prompt/input/input_prompt and label (1 = failure)/success/pass_fail/error',
  )
  .option('--from-trials', "use this project's graded trials")
  .option('--seed <n>', 'split and forest seed (default 42)')
  .action(trainCommand);

program
  .command('approve <id>')
  .description('approve an inbox action and run it once (in a terminal: a person decides)')
  .action(approveCommand);

program
  .command('reject <id>')
  .description('reject an inbox action (in a terminal)')
  .requiredOption('--reason <text>', 'why it must not run')
  .action(rejectCommand);

program
  .command('waive-gates <task>')
  .description('let a task complete without running its command gates (execution off); in a terminal')
  .requiredOption('--reason <text>', 'why they need not run')
  .action(waiveGatesCommand);

program
  .command('doctor')
  .description('check configuration, state folder, tools and providers')
  .option('--json', 'machine-readable output')
  .action(doctor);

program
  .command('tools')
  .description('list categories and tools with token estimates')
  .option('--json', 'machine-readable output')
  .option('--markdown', 'the README tool reference')
  .option('--write <readme>', 'regenerate the tools and env sections of a README in place')
  .action(tools);

program
  .command('export')
  .description('write graded trials as training data (JSONL)')
  .requiredOption('--format <format>', `one of ${EXPORT_FORMATS.join(', ')}`)
  .requiredOption('--out <file>', 'where to write the JSONL')
  .option('--since <date>', 'only trials from this ISO date on')
  .option('--label <label>', 'pass, fail or all (default: pass for SFT formats)')
  .option('--limit <n>', 'most lines to write')
  .action(exportCommand);

program.parseAsync().catch(fatal);
