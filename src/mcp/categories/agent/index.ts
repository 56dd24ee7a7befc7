import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { auditAppend } from './auditAppend.js';
import { auditStatus } from './auditStatus.js';

export function agentCategory(services: Services): Category {
  return {
    name: 'agent',
    description: "Agents and their paper trail: the project's decision log (audit_append, audit_status).",
    tools: [auditAppend(services), auditStatus(services)],
  };
}
