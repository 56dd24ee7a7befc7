import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { healingStatus } from './healingStatus.js';
import { requestTool } from './requestTool.js';

export function coreCategory(services: Services): Category {
  return {
    name: 'core',
    description: 'Always loaded: load other categories, server health.',
    tools: [requestTool(services), healingStatus(services)],
  };
}
