import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { approveAction } from './approveAction.js';
import { archetypeInfo } from './archetypeInfo.js';
import { auditAppend } from './auditAppend.js';
import { auditStatus } from './auditStatus.js';
import { inboxStatus } from './inboxStatus.js';
import { spawnArchetypeAgent } from './spawnArchetypeAgent.js';
import { spawnParallelAgents } from './spawnParallelAgents.js';
import { workerInterview } from './workerInterview.js';
import { workerList } from './workerList.js';
import { workerProfile } from './workerProfile.js';

export function agentCategory(services: Services): Category {
  return {
    name: 'agent',
    description:
      "More agents: parallel runs, role-based archetypes, the project's decision log, the approval inbox, and model interviews.",
    tools: [
      spawnParallelAgents(services),
      spawnArchetypeAgent(services),
      archetypeInfo(services),
      auditAppend(services),
      auditStatus(services),
      inboxStatus(services),
      approveAction(services),
      workerInterview(services),
      workerList(services),
      workerProfile(services),
    ],
  };
}
