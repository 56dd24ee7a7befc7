/**
 * `migrate`: moves this project's stores between its state folder and the team database
 * (TASK_ORCHESTRATOR_DATABASE_URL, under TASK_ORCHESTRATOR_PROJECT), checks the copy record by
 * record, and never overwrites (storage/postgres/transfer.ts).
 */
import path from 'node:path';
import { AppError } from '../../core/errors.js';
import { databaseToFolder, folderToDatabase } from '../../storage/postgres/transfer.js';
import type { TransferCounts } from '../../storage/postgres/transfer.js';
import { cliLogger, configOrExit, fatal } from '../process.js';

function summary(c: TransferCounts): string {
  const events = Object.entries(c.events).map(([n, k]) => `${n} ${k}`);
  const logs = Object.entries(c.logs).map(([n, k]) => `${n} ${k}`);
  return [
    `event stores: ${events.join(', ') || 'none'}`,
    `documents: ${c.documents.join(', ') || 'none'}`,
    `logs: ${logs.join(', ') || 'none'}`,
    'every record was read back from the copy and compared with the source',
  ].join('\n');
}

export async function migrateCommand(options: { toDatabase?: boolean; toFolder?: string }): Promise<void> {
  const config = configOrExit();
  if (Boolean(options.toDatabase) === Boolean(options.toFolder))
    fatal(new Error('say where to: --to-database, or --to-folder <dir>'));
  const url = config.databaseUrl;
  if (!url)
    fatal(
      new AppError('CONFIG_INVALID', 'TASK_ORCHESTRATOR_DATABASE_URL is not set', {
        hint: 'Set it to the team database (postgres://user@host:5432/db) and run migrate again',
      }),
    );
  const logger = cliLogger(config, 'warn');
  const counts = options.toDatabase
    ? await folderToDatabase({ stateDir: config.stateDir, url, project: config.projectName, logger }).catch(
        fatal,
      )
    : await databaseToFolder({
        url,
        project: config.projectName,
        stateDir: path.resolve(options.toFolder!),
        logger,
      }).catch(fatal);
  process.stdout.write(
    `${options.toDatabase ? `copied ${config.stateDir} into the database as project "${config.projectName}"` : `copied project "${config.projectName}" into ${path.resolve(options.toFolder!)}`}\n${summary(counts)}\n`,
  );
}
