/** `approve`, `reject`, `waive-gates`: decisions only a person at their own terminal makes. */
import os from 'node:os';
import { systemClock } from '../../core/clock.js';
import { describeError } from '../../core/errors.js';
import { approveAndRun } from '../../safety/inbox.js';
import { checkPerson } from '../../safety/personCheck.js';
import type { Services } from '../../mcp/services.js';
import { openServices } from '../services.js';
import { cliLogger, configOrExit, fatal } from '../process.js';

/**
 * The human's channel for decisions: it runs only for a person at their own terminal (a program
 * without one, or anything inside Claude Code, pty wrappers included, is refused: see
 * safety/personCheck.ts) and asks the person to type the decision.
 */
async function humanDecision(
  what: string,
  run: (services: Services, by: string) => Promise<string>,
  confirmWord: string,
): Promise<void> {
  const config = configOrExit();
  const person = checkPerson({
    stdinIsTTY: Boolean(process.stdin.isTTY),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    insideClaudeCode: config.insideClaudeCode,
  });
  if (!person.ok) {
    process.stderr.write(
      `task-orchestrator: this decision needs a person at their own terminal, and ${person.reason}; an agent cannot decide for the user\n`,
    );
    process.exit(2);
  }
  const logger = cliLogger(config, 'error');
  const services = await openServices(config, logger, systemClock).catch(fatal);
  const by = `${os.userInfo().username} (terminal)`;
  try {
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(`${what}\nType "${confirmWord}" to go on: `);
    rl.close();
    if (answer.trim() !== confirmWord) {
      process.stdout.write('Nothing was decided.\n');
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`${await run(services, by)}\n`);
  } catch (error) {
    process.stderr.write(`task-orchestrator: ${describeError(error)}\n`);
    process.exitCode = 1;
  } finally {
    await services.close();
  }
}

async function describeAction(id: string): Promise<string> {
  const config = configOrExit();
  const logger = cliLogger(config, 'error');
  const services = await openServices(config, logger, systemClock).catch(fatal);
  try {
    const item = await services.inbox.get(id);
    return [
      `Action ${item.id} (${item.status}), requested by ${item.requested_by} at ${item.created_at}:`,
      `  ${item.summary}`,
      `  needs approval because: ${item.reasons.join('; ')}`,
      `  expires ${item.expires_at}; execution is ${config.execute ? 'on' : 'off (it will be a dry run)'}`,
    ].join('\n');
  } catch (error) {
    fatal(error);
  } finally {
    await services.close();
  }
}

export async function approveCommand(id: string): Promise<void> {
  const what = await describeAction(id);
  await humanDecision(
    what,
    async (services, by) => {
      const { item, run, message } = await approveAndRun(services.inbox, services.commands, id, {
        by,
        via: 'terminal',
      });
      const out = run?.result ? `\n${run.result.stdout}${run.result.stderr}`.trimEnd() : '';
      return `Approved ${item.id}: ${message}${out}`;
    },
    'approve',
  );
}

export async function rejectCommand(id: string, options: { reason: string }): Promise<void> {
  const what = await describeAction(id);
  await humanDecision(
    what,
    async (services, by) => {
      const item = await services.inbox.decide(id, {
        approve: false,
        reason: options.reason,
        by,
        via: 'terminal',
      });
      return `Rejected ${item.id}: ${options.reason}`;
    },
    'reject',
  );
}

export async function waiveGatesCommand(taskId: string, options: { reason: string }): Promise<void> {
  await humanDecision(
    `Let task ${taskId} complete without running its command gates (reason: ${options.reason}).`,
    async (services, by) => {
      const task = await services.tasks.waiveGates(taskId, options.reason, by);
      return `Command gates of ${task.id} (${task.title}) are waived; tasks_complete can complete it now.`;
    },
    'waive',
  );
}
