import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { cancelScheduledTask } from './cancelScheduledTask.js';
import { listScheduledTasks } from './listScheduledTasks.js';
import { listWorkflows } from './listWorkflows.js';
import { runWithErrorCapture } from './runWithErrorCapture.js';
import { scheduleTask } from './scheduleTask.js';
import { triggerWorkflow } from './triggerWorkflow.js';
import { validateCode } from './validateCode.js';

export function workflowCategory(services: Services): Category {
  return {
    name: 'workflow',
    description:
      'Run allowed commands with structured error capture (classified and approval-gated first), validate code without running it, run @Refactor/@TestGen/@Debug/@Review/@Docs workflows, and schedule commands or agent runs.',
    tools: [
      runWithErrorCapture(services),
      validateCode(services),
      triggerWorkflow(services),
      listWorkflows(services),
      scheduleTask(services),
      listScheduledTasks(services),
      cancelScheduledTask(services),
    ],
  };
}
