import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { costSetBudget } from './costSetBudget.js';
import { costSummary } from './costSummary.js';

export function costCategory(services: Services): Category {
  return {
    name: 'cost',
    description: 'LLM spending from real token usage, and daily/monthly budgets per provider.',
    tools: [costSummary(services), costSetBudget(services)],
  };
}
