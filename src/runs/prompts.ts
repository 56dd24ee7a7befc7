/**
 * What a supervisor run asks models (and the caller): every task text, result and reason from a
 * model or a caller is quoted as data with a fresh fence, and cut to a bound.
 */
import type { Archetype } from '../agents/archetypes.js';
import { quoteUntrusted } from '../safety/quote.js';
import type { Task } from '../tasks/model.js';
import { trimResult } from './runModel.js';
import type { Run, RunNode } from './runModel.js';

/** Most characters of a dependency's result in a dependent's prompt. */
export const DEPENDENCY_CHARS = 2_000;
/** Longest summary of a long result the leader may write for a dependent. */
export const DIGEST_CHARS = 2_500;

/** What the leader is asked to summarise a long result for the tasks that build on it. */
export function digestPrompt(dep: RunNode, dependents: string[]): string {
  return [
    `Summarise the result of task ${dep.task} for the tasks that build on it (the task's title, theirs and the result are quoted below).`,
    `Keep every fact, number, name, decision and interface they may need; leave out the rest. At most ${DEPENDENCY_CHARS} characters, plain text.`,
    quoteUntrusted(
      `${dep.title}\n\nBuilt on by:\n${dependents.map((t) => `- ${t.slice(0, 120)}`).join('\n')}`,
      {
        label: `titles for ${dep.task}`,
        maxChars: 2_000,
      },
    ),
    quoteUntrusted(dep.output ?? '', { label: `result of ${dep.task}`, maxChars: 24_000 }),
  ].join('\n\n');
}
/** Most characters of each child's result in the synthesis prompt. */
const SYNTHESIS_CHARS = 3_000;

export const REVIEW_SCHEMA: Record<string, unknown> = {
  type: 'object',
  required: ['approve', 'reasons'],
  properties: {
    approve: { type: 'boolean' },
    reasons: { type: 'array', maxItems: 10, items: { type: 'string', maxLength: 500 } },
    add: {
      type: 'array',
      maxItems: 5,
      items: {
        type: 'object',
        required: ['title'],
        properties: {
          title: { type: 'string', maxLength: 200 },
          description: { type: 'string', maxLength: 2000 },
          command_gates: {
            type: 'array',
            maxItems: 3,
            items: {
              type: 'object',
              required: ['command'],
              properties: {
                command: { type: 'string', maxLength: 100 },
                args: { type: 'array', maxItems: 20, items: { type: 'string', maxLength: 500 } },
              },
            },
          },
        },
      },
    },
  },
};

export const WORKER_SYSTEM =
  'You are a worker in a supervised run. Do exactly the task you are given; your answer is checked against its acceptance criteria and may be reviewed before it counts.';

export function taskText(task: Pick<Task, 'title' | 'description'>): string {
  return `Title: ${task.title}${task.description ? `\n\n${task.description}` : ''}`;
}

/** What a worker is asked: the task, the results it builds on, the reasons a last answer failed. */
export function workerPrompt(run: Run, node: RunNode, task: Task): string {
  // Every text here came from a client or a model: the run's goal too, quoted like the rest.
  const parts = [
    `Task ${task.id} of the run whose goal is quoted first; the task itself follows it:`,
    quoteUntrusted(run.title, { label: 'run goal', maxChars: 400 }),
    quoteUntrusted(taskText(task), { label: 'task', maxChars: 6000 }),
  ];
  for (const d of node.depends_on) {
    if (d.kind !== 'data') continue;
    const dep = run.nodes[d.task];
    if (!dep?.output) continue;
    if (dep.digest) {
      parts.push(
        `The leader's summary of the result of ${dep.task}, which this task builds on (the result itself is ${dep.output.length} characters); the task's title, then the summary:`,
        quoteUntrusted(dep.title, { label: `title of ${dep.task}`, maxChars: 200 }),
        quoteUntrusted(dep.digest.text, {
          label: `summary of ${dep.task}`,
          maxChars: DIGEST_CHARS + 200,
        }),
      );
      continue;
    }
    parts.push(
      `The result of ${dep.task}, which this task builds on; the task's title, then the result:`,
      quoteUntrusted(dep.title, { label: `title of ${dep.task}`, maxChars: 200 }),
      quoteUntrusted(trimResult(dep.output, DEPENDENCY_CHARS), {
        label: `result of ${dep.task}`,
        maxChars: DEPENDENCY_CHARS + 200,
      }),
    );
  }
  const last = node.attempts.at(-1);
  if (last && !last.pass && last.reasons.length)
    parts.push(
      'A previous answer to this task was refused for these reasons; avoid them:',
      quoteUntrusted(last.reasons.join('\n'), { label: 'reasons', maxChars: 2000 }),
    );
  parts.push('Do the task and answer with its result.');
  return parts.join('\n\n');
}

/** What the leader is asked to review: the task with its criteria and the answer, both quoted. */
export function reviewPrompt(node: RunNode, task: Task, output: string, canAdd: boolean): string {
  return [
    `Review a worker's answer to task ${task.id}${node.critical ? ' (critical)' : ''} against the task and its acceptance criteria.`,
    quoteUntrusted(taskText(task), { label: 'task', maxChars: 6000 }),
    quoteUntrusted(output, { label: 'answer', maxChars: 12_000 }),
    `Answer JSON: {"approve": boolean, "reasons": [short reasons]${canAdd ? ', "add": [{"title", "description", "command_gates"?: [{"command", "args"}]}] only when the result shows work the plan is missing (a node with command gates waits for a person to approve it)' : ''}}.`,
  ].join('\n\n');
}

/** What the leader is asked at the end: the goal and every child's result. */
export function synthesisPrompt(run: Run, root: Task): string {
  const done = run.order.map((t) => run.nodes[t]!).filter((n) => n.state === 'done');
  const skipped = run.order.map((t) => run.nodes[t]!).filter((n) => n.state !== 'done');
  return [
    `Synthesise the results of the subtasks below into the result of the goal. Say what was achieved, how the parts fit, and what is missing.`,
    quoteUntrusted(taskText(root), { label: 'goal', maxChars: 4000 }),
    ...done.map((n) =>
      quoteUntrusted(`${n.title}\n\n${trimResult(n.output ?? '', SYNTHESIS_CHARS)}`, {
        label: `result of ${n.task}`,
        maxChars: SYNTHESIS_CHARS + 400,
      }),
    ),
    skipped.length
      ? `Not done (their titles and reasons quoted):\n${quoteUntrusted(
          skipped
            .map(
              (n) =>
                `${n.task} ${n.title.slice(0, 120)} (${n.state}${n.reason ? `: ${n.reason.slice(0, 200)}` : ''})`,
            )
            .join('\n'),
          { label: 'not done', maxChars: 4000 },
        )}`
      : '',
  ]
    .filter(Boolean)
    .join('\n\n');
}

/** What the caller is handed in caller mode: its role, the worker prompt, how to report. */
export function callerPrompt(run: Run, node: RunNode, task: Task, role: Archetype | undefined): string {
  return [
    role ? `Work as the ${role.name}: ${role.system_prompt}` : '',
    workerPrompt(run, node, task),
    `When done, call tasks_complete {task_id: "${task.id}", summary, detailed_work${task.output_schema ? ', result (matching its output_schema)' : ''}}; its graders${node.critical ? ", the leader's review" : ''} and gates decide whether it counts.`,
  ]
    .filter(Boolean)
    .join('\n\n');
}
