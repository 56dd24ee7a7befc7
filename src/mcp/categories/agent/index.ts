import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { approveAction } from './approveAction.js';
import { archetypeInfo } from './archetypeInfo.js';
import { auditAppend } from './auditAppend.js';
import { auditStatus } from './auditStatus.js';
import { inboxStatus } from './inboxStatus.js';
import { spawnArchetypeAgent } from './spawnArchetypeAgent.js';
import { spawnParallelAgents } from './spawnParallelAgents.js';

export function agentCategory(services: Services): Category {
  return {
    name: 'agent',
    description:
      "More agents: parallel runs, role-based archetypes, the project's decision log, and the approval inbox.",
    tools: [
      spawnParallelAgents(services),
      spawnArchetypeAgent(services),
      archetypeInfo(services),
      auditAppend(services),
      auditStatus(services),
      inboxStatus(services),
      approveAction(services),
    ],
  };
}
