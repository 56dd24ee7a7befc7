import type { Services } from '../../services.js';
import { syncTool } from '../../schemas/sync.js';

export function immuneSync(services: Pick<Services, 'federation'>) {
  return syncTool(
    services,
    'immune_sync',
    'Share and receive failure patterns',
    'Shortcut for sync_trigger from the immune side: push this project’s shared failure patterns to the federation hub and pull those of subscribed projects, so failures learned elsewhere guard prompts here.',
  );
}
