/**
 * The federation hub: where projects publish the failure patterns they share and read each
 * other's. The interface is what a networked hub would implement; the embedded one is a folder
 * (TASK_ORCHESTRATOR_FEDERATION_DIR) with one document per project, written under that document's
 * lock, so several server processes of several projects can publish and read at once.
 *
 * Every change to a project's document bumps its revision; entries carry the revision that last
 * wrote them, so readers fetch only what changed since the revision they saw. Two writers of one
 * entry resolve by last-writer-wins on `updated_at`, ties broken by a content hash: every process
 * reaches the same answer, and the loser is reported as a conflict.
 */
import { createHash } from 'node:crypto';
import { AppError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { openStorage } from '../../storage/storage.js';
import type { Storage } from '../../storage/storage.js';
import type { PortablePattern } from '../patterns.js';
import { TfIdfIndex } from '../tfidf.js';

export interface HubEntry extends PortablePattern {
  /** Revision of the project document that last wrote this entry. */
  rev: number;
}

export interface HubProject {
  project: string;
  path: string;
  rev: number;
  patterns: number;
  updated_at: string;
}

export interface HubConflict {
  pattern_id: string;
  project: string;
  kept: 'hub' | 'incoming';
  reason: string;
}

export interface PublishResult {
  rev: number;
  published: number;
  withdrawn: number;
  unchanged: number;
  conflicts: HubConflict[];
}

export interface HubChanges {
  rev: number;
  patterns: HubEntry[];
  withdrawn: string[];
}

export interface HubMatch extends HubEntry {
  similarity: number;
}

/** What any hub (the embedded folder, or a networked one) provides. */
export interface FederationHub {
  /** Where it is, for status output. */
  readonly location: string;
  projects(): Promise<HubProject[]>;
  /** Writes a project's shared patterns and withdrawals; the project name is claimed by its path. */
  publish(
    project: { name: string; path: string },
    patterns: PortablePattern[],
    withdraw: string[],
  ): Promise<PublishResult>;
  /** A project's entries written after `sinceRev`. */
  changes(project: string, sinceRev: number): Promise<HubChanges>;
  /** Entries by id in one project. */
  get(project: string, ids: string[]): Promise<HubEntry[]>;
  /** Entries across projects ranked by TF-IDF similarity to `query`. */
  search(
    query: string,
    options: { projects?: string[]; exclude?: string; limit: number },
  ): Promise<HubMatch[]>;
  close(): Promise<void>;
}

interface ProjectDoc {
  project: string;
  path: string;
  rev: number;
  updated_at: string;
  patterns: Record<string, HubEntry>;
  /** Withdrawn pattern ids -> the revision that withdrew them. */
  withdrawn: Record<string, number>;
}

export const PROJECT_NAME = /^[a-z0-9][a-z0-9_-]{0,47}$/;
/** The hub's own rows in a team database (PROJECT_NAME never matches it). */
const HUB_PROJECT = '_hub';

function contentHash(p: PortablePattern): string {
  const { updated_at: _u, ...rest } = p;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

function docName(project: string): string {
  return `p-${project}`;
}

/** The embedded hub: a folder shared by every project on this machine that points at it. */
export class FolderHub implements FederationHub {
  private constructor(
    readonly location: string,
    private readonly storage: Storage,
    private readonly logger: Logger,
  ) {}

  /** @throws AppError CONFIG_INVALID when the folder cannot be created or written. */
  static async open(dir: string, logger: Logger): Promise<FolderHub> {
    return new FolderHub(dir, await openStorage({ stateDir: dir, logger }), logger);
  }

  /**
   * The same hub in the team database: its documents under a project no real project can be named
   * (`_hub`), so every project on that database shares patterns by the same rules.
   */
  static async onDatabase(url: string, stateDir: string, logger: Logger): Promise<FolderHub> {
    const storage = await openStorage({ stateDir, logger, database: { url, project: HUB_PROJECT } });
    return new FolderHub(`postgres:${HUB_PROJECT}`, storage, logger);
  }

  private doc(project: string) {
    if (!PROJECT_NAME.test(project))
      throw new AppError('INVALID_INPUT', `Invalid project name "${project}"`, {
        hint: 'Project names are lower-case letters, digits, - and _ (federation_status lists them)',
      });
    return this.storage.document<ProjectDoc>(docName(project), {
      project,
      path: '',
      rev: 0,
      updated_at: '',
      patterns: {},
      withdrawn: {},
    });
  }

  private async names(): Promise<string[]> {
    return (await this.storage.documentNames()).flatMap((n) => {
      const m = /^p-([a-z0-9][a-z0-9_-]*)$/.exec(n);
      return m ? [m[1]!] : [];
    });
  }

  async projects(): Promise<HubProject[]> {
    const out: HubProject[] = [];
    for (const name of await this.names()) {
      // One unreadable project document must not hide the others.
      const info = await this.doc(name)
        .read((d) => ({
          project: d.project,
          path: d.path,
          rev: d.rev,
          patterns: Object.keys(d.patterns).length,
          updated_at: d.updated_at,
        }))
        .catch((error: unknown) => {
          this.logger.warn('unreadable hub project', { project: name, error });
          return undefined;
        });
      if (info) out.push(info);
    }
    return out.sort((a, b) => a.project.localeCompare(b.project));
  }

  async publish(
    project: { name: string; path: string },
    patterns: PortablePattern[],
    withdraw: string[],
  ): Promise<PublishResult> {
    const now = new Date().toISOString();
    return this.doc(project.name).update((d) => {
      if (d.path && d.path !== project.path)
        throw new AppError(
          'CONFLICT',
          `Project name "${project.name}" is already used in the hub by ${d.path}`,
          { hint: 'Give this project another name with TASK_ORCHESTRATOR_PROJECT' },
        );
      d.path = project.path;
      const result: PublishResult = { rev: d.rev, published: 0, withdrawn: 0, unchanged: 0, conflicts: [] };
      for (const p of patterns) {
        const existing = d.patterns[p.pattern_id];
        if (existing) {
          const incomingHash = contentHash(p);
          const hubHash = contentHash(existing);
          if (incomingHash === hubHash) {
            result.unchanged++;
            continue;
          }
          const hubWins =
            existing.updated_at > p.updated_at ||
            (existing.updated_at === p.updated_at && hubHash > incomingHash);
          if (hubWins) {
            result.conflicts.push({
              pattern_id: p.pattern_id,
              project: project.name,
              kept: 'hub',
              reason: `the hub's copy is newer (${existing.updated_at} vs ${p.updated_at})`,
            });
            continue;
          }
        }
        d.rev++;
        d.patterns[p.pattern_id] = { ...p, project: project.name, rev: d.rev };
        delete d.withdrawn[p.pattern_id];
        result.published++;
      }
      for (const id of withdraw) {
        if (!d.patterns[id]) continue;
        d.rev++;
        delete d.patterns[id];
        d.withdrawn[id] = d.rev;
        result.withdrawn++;
      }
      if (result.published + result.withdrawn > 0) d.updated_at = now;
      result.rev = d.rev;
      return result;
    });
  }

  async changes(project: string, sinceRev: number): Promise<HubChanges> {
    return this.doc(project).read((d) => ({
      rev: d.rev,
      patterns: Object.values(d.patterns)
        .filter((p) => p.rev > sinceRev)
        .sort((a, b) => a.rev - b.rev)
        .map((p) => structuredClone(p)),
      withdrawn: Object.entries(d.withdrawn)
        .filter(([, rev]) => rev > sinceRev)
        .map(([id]) => id),
    }));
  }

  async get(project: string, ids: string[]): Promise<HubEntry[]> {
    return this.doc(project).read((d) =>
      ids.flatMap((id) => (d.patterns[id] ? [structuredClone(d.patterns[id])] : [])),
    );
  }

  /** Index over the searched projects, rebuilt only when one of their revisions changed. */
  private cache: { key: string; index: TfIdfIndex; entries: Map<string, HubEntry> } | null = null;

  async search(
    query: string,
    options: { projects?: string[]; exclude?: string; limit: number },
  ): Promise<HubMatch[]> {
    const names = (await this.names()).filter(
      (n) => n !== options.exclude && (!options.projects || options.projects.includes(n)),
    );
    const revs = await Promise.all(names.map((n) => this.doc(n).read((d) => d.rev)));
    const key = names.map((n, i) => `${n}:${revs[i]}`).join(',');
    if (this.cache?.key !== key) {
      const index = new TfIdfIndex();
      const entries = new Map<string, HubEntry>();
      for (const n of names) {
        const list = await this.doc(n).read((d) => Object.values(d.patterns).map((p) => structuredClone(p)));
        for (const p of list) {
          const id = `${p.project}/${p.pattern_id}`;
          entries.set(id, p);
          index.add(id, p.text);
        }
      }
      this.cache = { key, index, entries };
    }
    const { index, entries } = this.cache;
    return index.query(query, options.limit, 0.05).map((m) => ({
      ...entries.get(m.id)!,
      similarity: Number(m.similarity.toFixed(4)),
    }));
  }

  close(): Promise<void> {
    return this.storage.close();
  }
}
