import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { syncAlerts } from './syncAlerts.js';
import { syncStatus } from './syncStatus.js';
import { syncTrigger } from './syncTrigger.js';

export function syncCategory(services: Services): Category {
  return {
    name: 'sync',
    description:
      'Sync failure memory with the federation hub: trigger push/pull, lag and history, sync alerts.',
    tools: [syncStatus(services), syncTrigger(services), syncAlerts(services)],
  };
}
