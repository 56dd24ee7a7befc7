import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { healingStatus } from './healingStatus.js';
import { requestTool } from './requestTool.js';
import { spawnAgent } from './spawnAgent.js';
import { tasksAdd } from './tasksAdd.js';
import { tasksList } from './tasksList.js';

export function coreCategory(services: Services): Category {
  return {
    name: 'core',
    description:
      'Always loaded: add and list work orders, run an LLM agent, load other categories, server health.',
    tools: [
      tasksList(services),
      tasksAdd(services),
      spawnAgent(services),
      requestTool(services),
      healingStatus(services),
    ],
  };
}
