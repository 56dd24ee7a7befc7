/** Every category the server offers. A category appears only once it has real tools. */
import type { Services } from '../services.js';
import type { Category } from '../tool.js';
import { agentCategory } from './agent/index.js';
import { coreCategory } from './core/index.js';
import { costCategory } from './cost/index.js';
import { evalCategory } from './eval/index.js';
import { federationCategory } from './federation/index.js';
import { immuneCategory } from './immune/index.js';
import { runCategory } from './run/index.js';
import { syncCategory } from './sync/index.js';
import { taskCategory } from './task/index.js';
import { workflowCategory } from './workflow/index.js';

export function buildCategories(services: Services): Category[] {
  return [
    coreCategory(services),
    taskCategory(services),
    agentCategory(services),
    runCategory(services),
    evalCategory(services),
    immuneCategory(services),
    federationCategory(services),
    syncCategory(services),
    workflowCategory(services),
    costCategory(services),
  ];
}
