/** `doctor`: checks configuration, the state folder, tools, providers and models. */
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadConfig } from '../../config/config.js';
import type { Config } from '../../config/config.js';
import { PROVIDERS } from '../../config/defaults.js';
import { systemClock } from '../../core/clock.js';
import { describeError } from '../../core/errors.js';
import { loadPricing } from '../../cost/pricing.js';
import { buildCatalog } from '../../mcp/catalog.js';
import { openServices } from '../services.js';
import { cliLogger } from '../process.js';
import { VARIABLES } from '../../config/variables.js';
import type { VariableName } from '../../config/variables.js';

const require = createRequire(import.meta.url);
// natural's submodule (its root prints to stdout); loaded only by doctor.
const { LevenshteinDistance: levenshtein } =
  require('natural/lib/natural/distance/levenshtein_distance.js') as {
    LevenshteinDistance(this: void, a: string, b: string): number;
  };

/**
 * The variables of the table that are set (credentials only as "set"), and any
 * TASK_ORCHESTRATOR_* name the table does not know: a typo that would silently do nothing.
 */
function environmentCheck(env: NodeJS.ProcessEnv): Check {
  const known = new Set(Object.keys(VARIABLES));
  const set = (Object.keys(VARIABLES) as VariableName[]).filter((name) => (env[name] ?? '').trim() !== '');
  const shown = set
    .filter((name) => name !== 'PATH')
    .map((name) => {
      const row: { secret?: boolean } = VARIABLES[name];
      return row.secret ? `${name} (set)` : `${name}=${env[name]!.trim().slice(0, 60)}`;
    });
  const unknown = Object.keys(env).filter(
    (name) => name.startsWith('TASK_ORCHESTRATOR_') && !known.has(name),
  );
  const near = (name: string) => {
    const close = [...known].find((k) => levenshtein(k, name) <= 3);
    return close ? `${name} (did you mean ${close}?)` : name;
  };
  return {
    check: 'environment',
    status: unknown.length ? 'warn' : 'ok',
    detail: [
      shown.length ? shown.join(', ') : 'no variables set (all defaults)',
      ...(unknown.length ? [`unknown, ignored: ${unknown.map(near).join(', ')}`] : []),
    ].join('; '),
  };
}

export interface Check {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

export async function doctor(options: { json?: boolean }): Promise<void> {
  const checks: Check[] = [];
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  checks.push({
    check: 'node',
    status: major > 20 || (major === 20 && minor >= 17) ? 'ok' : 'fail',
    detail: `v${process.versions.node} (needs >= 20.17)`,
  });
  checks.push(environmentCheck(process.env));
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
  if (config?.databaseUrl) {
    const { inspectDatabase } = await import('../../storage/postgres/pgStorage.js');
    const report = await inspectDatabase(config.databaseUrl, config.projectName);
    checks.push({ check: 'database', status: report.ok ? 'ok' : 'fail', detail: report.findings.join('; ') });
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
    for (const { name, configuredBy: vars } of PROVIDERS.filter((p) => p.name !== 'claude-code')) {
      const p = config.providers.find((x) => x.name === name);
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
