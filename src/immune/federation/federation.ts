/**
 * This project's side of the federation: subscriptions, search and import across projects, and
 * incremental sync with the hub. Push publishes own shared patterns changed since the last push
 * (and withdraws unshared or pruned ones); pull imports the subscribed projects' entries written
 * since the revision last seen. Sync history, conflicts and failures are kept (bounded) for
 * sync_status and sync_alerts. Without a hub, every operation says how to configure one.
 */
import type { Clock } from '../../core/clock.js';
import { isoTime } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { DocumentStore } from '../../storage/documentStore.js';
import type { FederationHub, HubConflict, HubMatch, HubProject } from './federationHub.js';
import { PROJECT_NAME } from './federationHub.js';
import type { ImmuneSystem } from '../immuneSystem.js';
import type { PortablePattern } from '../patterns.js';

export type SyncDirection = 'push' | 'pull' | 'both';

export interface SyncRun {
  at: string;
  direction: SyncDirection;
  trigger: 'tool' | 'schedule';
  ok: boolean;
  pushed: number;
  withdrawn: number;
  pulled: number;
  updated: number;
  removed: number;
  conflicts: number;
  duration_ms: number;
  error?: string;
}

export interface SyncDoc {
  subscriptions: string[];
  /** Immune event sequence number up to which own changes were pushed. */
  pushed_seq: number;
  /** Hub revision seen per subscribed project. */
  cursors: Record<string, number>;
  last_push?: string;
  last_pull?: string;
  history: SyncRun[];
  conflicts: Array<HubConflict & { at: string }>;
}

export const EMPTY_SYNC: SyncDoc = {
  subscriptions: [],
  pushed_seq: 0,
  cursors: {},
  history: [],
  conflicts: [],
};

const HISTORY = 50;
/** Patterns per import event (an event stays well under the store's 4 MiB limit). */
const IMPORT_CHUNK = 500;

export interface SyncResult {
  direction: SyncDirection;
  pushed: number;
  withdrawn: number;
  pulled: number;
  updated: number;
  removed: number;
  conflicts: HubConflict[];
  duration_ms: number;
}

export interface FederationDeps {
  immune: ImmuneSystem;
  /** Absent when TASK_ORCHESTRATOR_FEDERATION_DIR is unset. */
  hub: FederationHub | undefined;
  doc: DocumentStore<SyncDoc>;
  project: { name: string; path: string };
  clock: Clock;
  logger: Logger;
  /** Scheduled sync interval in seconds (0 = off), for lag alerts. */
  syncIntervalS: number;
}

function notConfigured(): AppError {
  return new AppError('CONFIG_INVALID', 'No federation hub is configured', {
    hint: 'Set TASK_ORCHESTRATOR_FEDERATION_DIR to a folder every project that should share patterns can write, and restart the server',
  });
}

export class Federation {
  constructor(private readonly deps: FederationDeps) {}

  get configured(): boolean {
    return this.deps.hub !== undefined;
  }

  get project(): string {
    return this.deps.project.name;
  }

  private hub(): FederationHub {
    if (!this.deps.hub) throw notConfigured();
    return this.deps.hub;
  }

  async status(): Promise<{
    configured: boolean;
    hub?: string;
    project: string;
    subscriptions: string[];
    projects: Array<HubProject & { subscribed: boolean; self: boolean }>;
    shared: number;
    imported: number;
  }> {
    const [doc, immune] = await Promise.all([
      this.deps.doc.read((d) => structuredClone(d)),
      this.deps.immune.status(),
    ]);
    const base = {
      configured: this.configured,
      project: this.project,
      subscriptions: doc.subscriptions,
      shared: immune.shared,
      imported: immune.imported,
    };
    if (!this.deps.hub) return { ...base, projects: [] };
    const projects = (await this.deps.hub.projects()).map((p) => ({
      ...p,
      subscribed: doc.subscriptions.includes(p.project),
      self: p.project === this.project,
    }));
    return { ...base, hub: this.deps.hub.location, projects };
  }

  /**
   * Subscribes to (or unsubscribes from) another project's shared patterns.
   * @throws AppError INVALID_INPUT for this project's own name or a bad name.
   */
  async subscribe(
    project: string,
    unsubscribe = false,
  ): Promise<{ subscriptions: string[]; known: boolean }> {
    const hub = this.hub();
    if (!PROJECT_NAME.test(project))
      throw new AppError('INVALID_INPUT', `Invalid project name "${project}"`, {
        hint: 'federation_status lists the projects in the hub',
      });
    if (project === this.project)
      throw new AppError('INVALID_INPUT', 'A project cannot subscribe to itself', {
        hint: 'federation_status lists the other projects in the hub',
      });
    const known = (await hub.projects()).some((p) => p.project === project);
    const subscriptions = await this.deps.doc.update((d) => {
      if (unsubscribe) {
        d.subscriptions = d.subscriptions.filter((s) => s !== project);
        delete d.cursors[project];
      } else if (!d.subscriptions.includes(project)) d.subscriptions.push(project);
      d.subscriptions.sort();
      return d.subscriptions;
    });
    return { subscriptions, known };
  }

  async search(query: string, options: { projects?: string[]; limit: number }): Promise<HubMatch[]> {
    return this.hub().search(query, { ...options, exclude: this.project });
  }

  /**
   * Imports hub patterns (`project/pattern_id`) into the local store with their lineage.
   * @throws AppError NOT_FOUND naming ids the hub does not hold.
   */
  async import(hubIds: string[]): Promise<{ imported: number; updated: number }> {
    const hub = this.hub();
    const byProject = new Map<string, string[]>();
    for (const hubId of hubIds) {
      const slash = hubId.indexOf('/');
      if (slash <= 0)
        throw new AppError('INVALID_INPUT', `"${hubId}" is not a hub id`, {
          hint: 'Hub ids are project/pattern_id, as federation_search returns them',
        });
      const project = hubId.slice(0, slash);
      if (project === this.project)
        throw new AppError('INVALID_INPUT', `"${hubId}" is this project's own pattern`, {
          hint: 'Import patterns of other projects',
        });
      byProject.set(project, [...(byProject.get(project) ?? []), hubId.slice(slash + 1)]);
    }
    const found: PortablePattern[] = [];
    const missing: string[] = [];
    for (const [project, ids] of byProject) {
      const entries = await hub.get(project, ids);
      const have = new Set(entries.map((e) => e.pattern_id));
      missing.push(...ids.filter((id) => !have.has(id)).map((id) => `${project}/${id}`));
      found.push(...entries.map(({ rev: _rev, ...p }) => p));
    }
    if (missing.length)
      throw new AppError('NOT_FOUND', `The hub holds no pattern ${missing.join(', ')}`, {
        hint: 'federation_search returns the hub ids',
      });
    return this.deps.immune.importPatterns(found);
  }

  /** Pushes, pulls or both; records the run (also when it fails). */
  async sync(direction: SyncDirection, trigger: SyncRun['trigger'] = 'tool'): Promise<SyncResult> {
    const hub = this.hub();
    const started = this.deps.clock.now();
    const result: SyncResult = {
      direction,
      pushed: 0,
      withdrawn: 0,
      pulled: 0,
      updated: 0,
      removed: 0,
      conflicts: [],
      duration_ms: 0,
    };
    try {
      if (direction !== 'pull') {
        const since = await this.deps.doc.read((d) => d.pushed_seq);
        const changes = await this.deps.immune.changesSince(since, this.project);
        if (changes.publish.length + changes.withdraw.length > 0) {
          const r = await hub.publish(this.deps.project, changes.publish, changes.withdraw);
          result.pushed = r.published;
          result.withdrawn = r.withdrawn;
          result.conflicts.push(...r.conflicts);
        }
        await this.deps.doc.update((d) => {
          d.pushed_seq = Math.max(d.pushed_seq, changes.seq);
          d.last_push = isoTime(this.deps.clock);
        });
      }
      if (direction !== 'push') {
        const doc = await this.deps.doc.read((d) => structuredClone(d));
        const cursors: Record<string, number> = {};
        for (const project of doc.subscriptions) {
          const changes = await hub.changes(project, doc.cursors[project] ?? 0);
          const portable = changes.patterns.map(({ rev: _rev, ...p }) => p);
          for (let i = 0; i < portable.length; i += IMPORT_CHUNK) {
            const r = await this.deps.immune.importPatterns(portable.slice(i, i + IMPORT_CHUNK));
            result.pulled += r.imported;
            result.updated += r.updated;
          }
          if (changes.withdrawn.length)
            result.removed += await this.deps.immune.withdrawImported(
              changes.withdrawn.map((pattern_id) => ({ project, pattern_id })),
            );
          cursors[project] = changes.rev;
        }
        await this.deps.doc.update((d) => {
          for (const [project, rev] of Object.entries(cursors))
            if (d.subscriptions.includes(project))
              d.cursors[project] = Math.max(d.cursors[project] ?? 0, rev);
          d.last_pull = isoTime(this.deps.clock);
        });
      }
      result.duration_ms = this.deps.clock.now() - started;
      await this.record(
        { ...result, ok: true, trigger, conflicts: result.conflicts.length },
        result.conflicts,
      );
      return result;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.record(
        {
          ...result,
          ok: false,
          trigger,
          conflicts: result.conflicts.length,
          duration_ms: this.deps.clock.now() - started,
          error: message,
        },
        result.conflicts,
      ).catch(() => undefined);
      throw error instanceof AppError
        ? error
        : new AppError('INTERNAL', `Sync ${direction} failed: ${message}`, {
            hint: 'Check that TASK_ORCHESTRATOR_FEDERATION_DIR is reachable and writable; sync_alerts keeps the failures',
            cause: error,
          });
    }
  }

  private async record(run: Omit<SyncRun, 'at'>, conflicts: HubConflict[]): Promise<void> {
    const at = isoTime(this.deps.clock);
    await this.deps.doc.update((d) => {
      d.history.push({ at, ...run });
      if (d.history.length > HISTORY) d.history.splice(0, d.history.length - HISTORY);
      d.conflicts.push(...conflicts.map((c) => ({ ...c, at })));
      if (d.conflicts.length > HISTORY) d.conflicts.splice(0, d.conflicts.length - HISTORY);
    });
  }

  /** Lag both ways and the recent runs. */
  async syncStatus(): Promise<{
    configured: boolean;
    project: string;
    last_push?: string;
    last_pull?: string;
    unpushed_changes: number;
    behind: Record<string, number>;
    recent: SyncRun[];
    failures_24h: number;
  }> {
    const doc = await this.deps.doc.read((d) => structuredClone(d));
    const changes = await this.deps.immune.changesSince(doc.pushed_seq, this.project);
    const behind: Record<string, number> = {};
    if (this.deps.hub) {
      const projects = await this.deps.hub.projects();
      for (const s of doc.subscriptions) {
        const rev = projects.find((p) => p.project === s)?.rev ?? 0;
        behind[s] = Math.max(0, rev - (doc.cursors[s] ?? 0));
      }
    }
    const dayAgo = new Date(this.deps.clock.now() - 86_400_000).toISOString();
    return {
      configured: this.configured,
      project: this.project,
      ...(doc.last_push ? { last_push: doc.last_push } : {}),
      ...(doc.last_pull ? { last_pull: doc.last_pull } : {}),
      unpushed_changes: changes.publish.length + changes.withdraw.length,
      behind,
      recent: doc.history.slice(-10).reverse(),
      failures_24h: doc.history.filter((h) => !h.ok && h.at >= dayAgo).length,
    };
  }

  /** Sync problems worth a human's attention: failures, conflicts, and lag past two intervals. */
  async alerts(): Promise<
    Array<{ severity: 'warning' | 'critical'; kind: string; message: string; at: string }>
  > {
    const status = await this.syncStatus();
    const doc = await this.deps.doc.read((d) => structuredClone(d));
    const now = this.deps.clock.now();
    const out: Array<{ severity: 'warning' | 'critical'; kind: string; message: string; at: string }> = [];
    const failures = doc.history.filter((h) => !h.ok).slice(-5);
    const lastOk = [...doc.history].reverse().find((h) => h.ok);
    for (const f of failures)
      if (!lastOk || f.at > lastOk.at)
        out.push({
          severity: 'critical',
          kind: 'sync_failed',
          message: `${f.direction} sync failed: ${f.error}`,
          at: f.at,
        });
    for (const c of doc.conflicts.slice(-10))
      out.push({
        severity: 'warning',
        kind: 'sync_conflict',
        message: `conflict on ${c.project}/${c.pattern_id}: kept the ${c.kept} copy (${c.reason})`,
        at: c.at,
      });
    const interval = this.deps.syncIntervalS * 1000;
    if (this.configured && interval > 0 && status.unpushed_changes > 0) {
      // Lag counts from the oldest change still waiting to be pushed.
      const changes = await this.deps.immune.changesSince(doc.pushed_seq, this.project);
      const oldest = Math.min(now, ...changes.publish.map((p) => Date.parse(p.updated_at)));
      if (now - oldest > 2 * interval)
        out.push({
          severity: 'warning',
          kind: 'sync_lag',
          message: `${status.unpushed_changes} local change(s) not pushed for over ${Math.round((2 * interval) / 60000)} min`,
          at: new Date(now).toISOString(),
        });
    }
    for (const [project, n] of Object.entries(status.behind))
      if (n > 0 && interval > 0 && (!doc.last_pull || now - Date.parse(doc.last_pull) > 2 * interval))
        out.push({
          severity: 'warning',
          kind: 'sync_lag',
          message: `${n} change(s) of ${project} not pulled`,
          at: new Date(now).toISOString(),
        });
    const rank = { critical: 0, warning: 1 };
    return out.sort((a, b) => rank[a.severity] - rank[b.severity] || b.at.localeCompare(a.at));
  }
}
