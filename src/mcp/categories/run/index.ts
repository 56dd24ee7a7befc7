import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { tasksExpand } from './tasksExpand.js';
import { tasksRun } from './tasksRun.js';
import { tasksRunCancel } from './tasksRunCancel.js';
import { tasksRunStatus } from './tasksRunStatus.js';

export function runCategory(services: Services): Category {
  return {
    name: 'run',
    description:
      'Supervisor runs: split a task with AI, run a task graph with onboarded workers (parallel, graded, reviewed, retried, reassigned, synthesised; or handed to you node by node), watch and cancel it.',
    tools: [tasksRun(services), tasksRunStatus(services), tasksRunCancel(services), tasksExpand(services)],
  };
}
