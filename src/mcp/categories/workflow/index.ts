import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { runWithErrorCapture } from './runWithErrorCapture.js';

export function workflowCategory(services: Services): Category {
  return {
    name: 'workflow',
    description: 'Run allowed commands with structured error capture (classified and approval-gated first).',
    tools: [runWithErrorCapture(services)],
  };
}
