import type { Services } from '../../services.js';
import { syncTool } from '../../schemas/sync.js';

export function syncTrigger(services: Pick<Services, 'federation'>) {
  return syncTool(
    services,
    'sync_trigger',
    'Sync with the federation hub',
    "Sync this project's failure memory with the federation hub now: push publishes own shared patterns changed since the last push, pull imports what subscribed projects changed since the last pull. Incremental; conflicting writes resolve last-writer-wins and are reported.",
  );
}
