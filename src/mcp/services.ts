import { createAuditLog } from '../agents/auditLog.js';
import type { AuditLog } from '../agents/auditLog.js';
import type { Config } from '../config.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { openStorage } from '../storage/storage.js';
import type { Storage } from '../storage/storage.js';

/** Long-lived, process-wide dependencies the tools use. Built once by the composition root. */
export interface Services {
  config: Config;
  logger: Logger;
  clock: Clock;
  storage: Storage;
  audit: AuditLog;
}

/** Opens the state folder and builds the process-wide services from config. */
export async function openServices(config: Config, logger: Logger, clock: Clock): Promise<Services> {
  const storage = await openStorage({ stateDir: config.stateDir, logger });
  return { config, logger, clock, storage, audit: createAuditLog(storage, clock) };
}
