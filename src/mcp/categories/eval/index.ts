import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { evaluateOutput } from './evaluateOutput.js';

export function evalCategory(services: Services): Category {
  return {
    name: 'eval',
    description: 'Grade outputs with code graders (non-empty, length, JSON, JSON Schema, regex, contains).',
    tools: [evaluateOutput(services)],
  };
}
