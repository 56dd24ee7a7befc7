import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { alertClear } from './alertClear.js';
import { alertList } from './alertList.js';
import { immuneCheck } from './immuneCheck.js';
import { immuneDashboard } from './immuneDashboard.js';
import { immuneFeedback } from './immuneFeedback.js';
import { immuneSync } from './immuneSync.js';
import { predictRisk } from './predictRisk.js';
import { immuneFailures } from './immuneFailures.js';
import { immuneStatus } from './immuneStatus.js';

export function immuneCategory(services: Services): Category {
  return {
    name: 'immune',
    description:
      'Failure memory: check a prompt against past failures (TF-IDF), remembered patterns, feedback, the dashboard, sync with other projects, the failure predictor and alerts.',
    tools: [
      immuneCheck(services),
      immuneStatus(services),
      immuneFailures(services),
      immuneFeedback(services),
      immuneDashboard(services),
      immuneSync(services),
      predictRisk(services),
      alertList(services),
      alertClear(services),
    ],
  };
}
