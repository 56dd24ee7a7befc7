/**
 * A hook with no server to ask, on the database: it reads the memory through the match index a
 * process that held the whole memory left in its state folder, brought up to the database with the
 * events written since (one query), instead of replaying the log. It answers what a replay
 * answers, sees a failure another developer learned since, records its checks in the database, and
 * never takes an index of another log for this one (a database recreated with as many events).
 * Skipped (and said so) without a database, required with CI=true.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { ImmuneSystem } from '../../src/immune/immuneSystem.js';
import { IndexedMemory } from '../../src/immune/indexedMemory.js';
import { MATCH_INDEX_FILE, MatchIndex } from '../../src/immune/matchIndex.js';
import { openStorage } from '../../src/storage/storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { freshProject, HAVE_DATABASE, sql, TEST_DATABASE_URL } from '../helpers/postgres.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');

const contextOf = (stdout: string): string =>
  stdout
    ? (JSON.parse(stdout) as { hookSpecificOutput: { additionalContext: string } }).hookSpecificOutput
        .additionalContext
    : '';

/** A failure of an agent's run, learned offline (no judge, no embedding model). */
const failed = (memory: ImmuneSystem, prompt: string, failure_type: string) =>
  memory.recordFailure(
    { operation: 'spawn_agent', failure_type, prompt, output: 'I cannot help.', grader_scores: {} },
    { offline: true },
  );

describe.skipIf(!HAVE_DATABASE)('a hook with no server, on the database', () => {
  it('answers through the match index in its state folder, kept up with the database, and never from another log', async () => {
    const folder = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-coldhook-db-')));
    const name = freshProject();
    const env = {
      PATH: process.env.PATH ?? '',
      TASK_ORCHESTRATOR_DATABASE_URL: TEST_DATABASE_URL,
      TASK_ORCHESTRATOR_PROJECT: name,
    };
    const prompt = (text: string): string => {
      const r = spawnSync(process.execPath, [cli, 'hook', 'UserPromptSubmit'], {
        input: JSON.stringify({
          hook_event_name: 'UserPromptSubmit',
          session_id: 's1',
          cwd: folder,
          prompt: text,
        }),
        cwd: folder,
        env,
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      return contextOf(r.stdout);
    };
    // Another developer (another machine: a folder of its own) on the same database.
    const openElsewhere = (): Promise<Storage> =>
      openStorage({
        stateDir: path.join(folder, 'elsewhere'),
        logger: silentLogger,
        database: { url: TEST_DATABASE_URL, project: name },
      });
    let elsewhere = await openElsewhere();
    const learn = (text: string, failure_type = 'low_quality') =>
      failed(new ImmuneSystem(elsewhere, systemClock, { matchIndex: false }), text, failure_type);
    const replayed = async () => {
      const reader = await openStorage({
        stateDir: path.join(folder, 'reader'),
        logger: silentLogger,
        database: { url: TEST_DATABASE_URL, project: name },
      });
      try {
        return (await new ImmuneSystem(reader, systemClock, { matchIndex: false }).list({ limit: 50 })).items;
      } finally {
        await reader.close();
      }
    };
    try {
      await learn('summarise the quarterly churn report for the board');

      // The first hook replays the database's log and leaves an index in this state folder.
      expect(prompt('summarise the quarterly churn report')).toMatch(/low_quality \(spawn_agent, 1x\)/);
      const cache = path.join(folder, '.task-orchestrator', 'cache');
      const [dbFolder] = readdirSync(cache);
      const dir = path.join(cache, dbFolder!, 'events', 'immune');
      const file = path.join(dir, MATCH_INDEX_FILE);
      const written = (await fs.stat(file)).mtimeMs;
      const at = () => {
        const index = MatchIndex.open(dir, { tail: false })!;
        index.close();
        return index.header;
      };
      expect(at().anchor).toMatch(/^\d+$/);

      // The next ones answer from the index and record their checks in the database after it:
      // the index is not rewritten (a replaying hook would leave a fresh one).
      expect(prompt('summarise the quarterly churn report again')).toMatch(/low_quality/);
      expect(prompt('please refactor the logging of the web server')).toBe('');
      expect((await fs.stat(file)).mtimeMs).toBe(written);
      expect((await replayed()).find((p) => p.prompt_summary.includes('churn'))!.hits).toBe(2);

      // A failure learned elsewhere since is seen at once (it changes what is indexed: a replay,
      // which leaves a fresh index).
      await learn('rotate the signing keys of the payments service', 'tool_error');
      expect(prompt('rotate the signing keys of the payments service now')).toMatch(/tool_error/);
      expect((await fs.stat(file)).mtimeMs).not.toBe(written);
      const fresh = at();

      // The database is emptied and a different log written, one event longer than the index
      // reaches, its last event a check (which an index follows without a replay). Its event at
      // the index's number is another: the index is not this log's and is not used.
      await sql('DELETE FROM to_events WHERE project = $1', [name]);
      await elsewhere.close();
      elsewhere = await openElsewhere();
      await learn('translate the onboarding emails into german', 'tool_error');
      const other = new ImmuneSystem(elsewhere, systemClock, { matchIndex: false });
      while ((await other.version()) < fresh.seq + 1)
        await other.recordCheck(await other.check('translate the onboarding emails into german'));
      expect(prompt('rotate the signing keys of the payments service now')).toBe('');
      expect(prompt('summarise the quarterly churn report')).toBe('');
      expect(prompt('translate the onboarding emails into german please')).toMatch(/tool_error/);

      // A server of this folder writes the index too (after its own changes), where hooks read it.
      const own = await openStorage({
        stateDir: path.join(folder, '.task-orchestrator'),
        logger: silentLogger,
        database: { url: TEST_DATABASE_URL, project: name },
      });
      try {
        const server = new ImmuneSystem(own, systemClock);
        await failed(server, 'draft the release notes for 4.2', 'empty_output');
        expect(await server.writeMatchIndex()).toBe(true);
        expect(at().seq).toBe(await server.version());
        const byServer = (await fs.stat(file)).mtimeMs;
        expect(prompt('draft the release notes for 4.2 again')).toMatch(/empty_output/);
        expect((await fs.stat(file)).mtimeMs).toBe(byServer);
      } finally {
        await own.close();
      }
    } finally {
      await elsewhere.close();
      await fs.rm(folder, { recursive: true, force: true });
    }
  });

  it('follows an index only so far behind the database; further, the caller replays', async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-coldhook-behind-'));
    const storage = await openStorage({
      stateDir,
      logger: silentLogger,
      database: { url: TEST_DATABASE_URL, project: freshProject() },
    });
    try {
      const memory = new ImmuneSystem(storage, systemClock, { matchIndex: false });
      await failed(memory, 'draft the release notes for 4.2', 'empty_output');
      expect(await memory.writeMatchIndex()).toBe(true);
      const check = await memory.check('draft the release notes for 4.2 again');
      expect(check.matches).toHaveLength(1);
      const open = (maxBehind: number) =>
        IndexedMemory.following(
          storage.eventsDir('immune'),
          (seq, limit) => storage.eventsFrom!('immune', seq, limit),
          {},
          () => Date.now(),
          () => Promise.reject(new Error('not recorded here')),
          maxBehind,
        );
      await memory.recordCheck(check);
      await memory.recordCheck(check);
      const near = await open(3);
      expect(near).toBeDefined();
      // Two checks behind: followed, and it answers as the memory does.
      expect((await near!.check('draft the release notes for 4.2 again')).matches[0]!.pattern_id).toBe(
        check.matches[0]!.pattern_id,
      );
      near!.close();
      await memory.recordCheck(check);
      expect(await open(3)).toBeUndefined();
      const far = await open(4);
      expect(far).toBeDefined();
      far!.close();
    } finally {
      await storage.close();
      await fs.rm(stateDir, { recursive: true, force: true });
    }
  });
});
