/**
 * What the desk's pages use (the composition root hands in the server's services; each page takes
 * the members it reads).
 */
import type { AuditLog } from '../safety/auditLog.js';
import type { ImmuneSystem } from '../immune/immuneSystem.js';
import type { Supervisor } from '../runs/supervisor/supervisor.js';
import type { CommandRunner } from '../safety/commandRunner.js';
import type { Inbox } from '../safety/inbox.js';
import type { Redactor } from '../safety/redact.js';
import type { EvalRunner } from '../evaluation/suites/runner.js';
import type { TrialStore } from '../evaluation/trials.js';

export interface DeskServices {
  immune: ImmuneSystem;
  audit: AuditLog;
  redact: Redactor;
  inbox: Inbox;
  commands: CommandRunner;
  runs: Supervisor;
  evals: EvalRunner;
  trials: TrialStore;
  /**
   * Hears changes committed by any server (a database announces them); absent on files, where the
   * stream polls the stores once a second.
   */
  changes?: ((listener: () => void) => () => void) | undefined;
}

/** Writes an HTML answer. */
export type Html = (status: number, body: string) => void;
