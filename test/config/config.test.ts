import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { AppError } from '../../src/core/errors.js';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return (error as AppError).describe();
  }
  throw new Error('expected loadConfig to fail');
}

describe('loadConfig', () => {
  it('has sane defaults and puts state under the working directory', () => {
    const c = loadConfig({}, { cwd: '/projects/app' });
    expect(c.stateDir).toBe(path.resolve('/projects/app/.task-orchestrator'));
    expect(c.tools).toBe('core');
    expect(c.logLevel).toBe('info');
    expect(c.contextBudgetTokens).toBe(200_000);
    expect(c.contextReserveRatio).toBe(0.1);
    expect(c.listChangedWaitMs).toBe(2000);
    expect(c.providers).toEqual([]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads providers, base URLs and the state folder', () => {
    const c = loadConfig(
      {
        TASK_ORCHESTRATOR_HOME: 'state',
        GOOGLE_API_KEY: 'g-key-1234',
        OPENAI_API_KEY: 'sk-abcdef',
        OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1/',
        TASK_ORCHESTRATOR_TOOLS: 'core, Agent',
      },
      { cwd: '/w' },
    );
    expect(c.stateDir).toBe(path.resolve('/w/state'));
    expect(c.tools).toEqual(['core', 'agent']);
    expect(c.providers.map((p) => [p.name, p.keyVar, p.baseUrl])).toEqual([
      ['gemini', 'GOOGLE_API_KEY', undefined],
      ['openai', 'OPENAI_API_KEY', 'http://127.0.0.1:11434/v1'],
    ]);
    expect(c.secrets).toEqual(expect.arrayContaining(['g-key-1234', 'sk-abcdef']));
  });

  it('takes a team database URL, keeps it and its password secret, and refuses other URLs or a hub without it', () => {
    const url = 'postgres://team:s3cr%40t-pw@db.internal:5432/orchestrator';
    const c = loadConfig({
      TASK_ORCHESTRATOR_DATABASE_URL: url,
      TASK_ORCHESTRATOR_FEDERATION_DIR: 'database',
    });
    expect(c.databaseUrl).toBe(url);
    expect(c.federationInDatabase).toBe(true);
    expect(c.federationDir).toBeUndefined();
    expect(c.secrets).toEqual(expect.arrayContaining([url, 's3cr@t-pw']));
    const refused = configError({ TASK_ORCHESTRATOR_DATABASE_URL: 'mysql://team@db/x' });
    expect(refused).toMatch(/TASK_ORCHESTRATOR_DATABASE_URL must be a postgres:\/\/ connection URL/);
    expect(refused).not.toContain('mysql://team@db/x');
    expect(configError({ TASK_ORCHESTRATOR_FEDERATION_DIR: 'database' })).toMatch(
      /FEDERATION_DIR=database needs TASK_ORCHESTRATOR_DATABASE_URL/,
    );
  });

  it('names the variable and the expected form for every bad value', () => {
    expect(configError({ TASK_ORCHESTRATOR_CONTEXT_BUDGET: 'lots' })).toMatch(
      /TASK_ORCHESTRATOR_CONTEXT_BUDGET must be an integer/,
    );
    expect(configError({ TASK_ORCHESTRATOR_CONTEXT_RESERVE: '2' })).toMatch(
      /TASK_ORCHESTRATOR_CONTEXT_RESERVE must be a fraction/,
    );
    expect(configError({ TASK_ORCHESTRATOR_LOG_LEVEL: 'loud' })).toMatch(
      /TASK_ORCHESTRATOR_LOG_LEVEL must be debug, info, warn or error/,
    );
    expect(configError({ OPENAI_BASE_URL: 'localhost:11434' })).toMatch(
      /OPENAI_BASE_URL must be an http\(s\) URL/,
    );
    expect(configError({ TASK_ORCHESTRATOR_TOOLS: 'core;agent' })).toMatch(/TASK_ORCHESTRATOR_TOOLS must be/);
    expect(configError({ TASK_ORCHESTRATOR_REDACT_PATTERNS: 'ok;;(' })).toMatch(
      /TASK_ORCHESTRATOR_REDACT_PATTERNS has an invalid regex/,
    );
    expect(configError({ TASK_ORCHESTRATOR_JUDGE_GRADERS: 'relevance,vibes' })).toMatch(
      /unknown graders vibes/,
    );
    expect(configError({ TASK_ORCHESTRATOR_JUDGE_MODEL: 'mistral/large' })).toMatch(
      /TASK_ORCHESTRATOR_JUDGE_MODEL must be provider/,
    );
    const both = configError({
      TASK_ORCHESTRATOR_LOG_LEVEL: 'x',
      TASK_ORCHESTRATOR_LIST_CHANGED_WAIT_MS: '-1',
    });
    expect(both).toMatch(/LOG_LEVEL/);
    expect(both).toMatch(/LIST_CHANGED_WAIT_MS/);
  });
});
