import { createAuditLog } from '../agents/auditLog.js';
import type { AuditLog } from '../agents/auditLog.js';
import type { Config } from '../config.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { openStorage } from '../storage/storage.js';
import { TaskService } from '../tasks/taskService.js';
import { loadTemplates } from '../tasks/templates.js';
import type { TemplateCatalog } from '../tasks/templates.js';
import type { Storage } from '../storage/storage.js';

/** Long-lived, process-wide dependencies the tools use. Built once by the composition root. */
export interface Services {
  config: Config;
  logger: Logger;
  clock: Clock;
  storage: Storage;
  audit: AuditLog;
  tasks: TaskService;
  /** Built-in and project templates, read fresh each call (files may change). */
  templates: () => Promise<TemplateCatalog>;
}

/** Opens the state folder and builds the process-wide services from config. */
export async function openServices(config: Config, logger: Logger, clock: Clock): Promise<Services> {
  const storage = await openStorage({ stateDir: config.stateDir, logger });
  const tasks = new TaskService({
    storage,
    logger,
    clock,
    projectDir: config.projectDir,
    gateCommands: config.gateCommands,
  });
  return {
    config,
    logger,
    clock,
    storage,
    audit: createAuditLog(storage, clock),
    tasks,
    templates: () => loadTemplates(config.dataDir, config.stateDir),
  };
}
