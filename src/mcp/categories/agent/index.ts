import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { archetypeInfo } from './archetypeInfo.js';
import { auditAppend } from './auditAppend.js';
import { auditStatus } from './auditStatus.js';
import { spawnArchetypeAgent } from './spawnArchetypeAgent.js';
import { spawnParallelAgents } from './spawnParallelAgents.js';

export function agentCategory(services: Services): Category {
  return {
    name: 'agent',
    description: "More agents: parallel runs, role-based archetypes, and the project's decision log.",
    tools: [
      spawnParallelAgents(services),
      spawnArchetypeAgent(services),
      archetypeInfo(services),
      auditAppend(services),
      auditStatus(services),
    ],
  };
}
