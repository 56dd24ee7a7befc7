import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { tasksAnalyze } from './tasksAnalyze.js';
import { tasksBriefing } from './tasksBriefing.js';
import { tasksComplete } from './tasksComplete.js';
import { tasksDepend } from './tasksDepend.js';
import { tasksFromTemplate } from './tasksFromTemplate.js';
import { tasksGet } from './tasksGet.js';
import { tasksHistory } from './tasksHistory.js';
import { tasksMaintain } from './tasksMaintain.js';
import { tasksNext } from './tasksNext.js';
import { tasksPlan } from './tasksPlan.js';
import { tasksQuery } from './tasksQuery.js';
import { tasksSchedule } from './tasksSchedule.js';
import { tasksStart } from './tasksStart.js';
import { tasksSynthesize } from './tasksSynthesize.js';
import { tasksSyncEmail } from './tasksSyncEmail.js';
import { tasksTransition } from './tasksTransition.js';
import { tasksUpdate } from './tasksUpdate.js';

export function taskCategory(services: Services): Category {
  return {
    name: 'task',
    description:
      'Work-order lifecycle: start, complete with enforced gates, dependencies, history, search, next task, templates, planning, synthesis, analysis, briefing, maintenance, import from mail/calendar files, scheduling.',
    tools: [
      tasksGet(services),
      tasksStart(services),
      tasksComplete(services),
      tasksUpdate(services),
      tasksTransition(services),
      tasksDepend(services),
      tasksHistory(services),
      tasksQuery(services),
      tasksNext(services),
      tasksFromTemplate(services),
      tasksSynthesize(services),
      tasksPlan(services),
      tasksAnalyze(services),
      tasksBriefing(services),
      tasksMaintain(services),
      tasksSyncEmail(services),
      tasksSchedule(services),
    ],
  };
}
