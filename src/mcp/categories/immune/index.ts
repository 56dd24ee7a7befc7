import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { immuneCheck } from './immuneCheck.js';
import { immuneFailures } from './immuneFailures.js';
import { immuneStatus } from './immuneStatus.js';

export function immuneCategory(services: Services): Category {
  return {
    name: 'immune',
    description:
      'Failure memory: check a prompt against past failures (TF-IDF), see remembered patterns and their status.',
    tools: [immuneCheck(services), immuneStatus(services), immuneFailures(services)],
  };
}
