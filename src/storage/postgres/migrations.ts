/**
 * The database's schema, as numbered migrations kept in the repository. Every server applies the
 * ones not yet applied when it starts, under one advisory lock, so that ten servers starting at
 * once apply each migration once. A migration never changes once released: a change is a new one.
 */

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'stores',
    // The three kinds of store the file backend has (storage.ts), one table each, every row under
    // the project it belongs to. Values are the serialised (redacted) JSON the files would hold.
    sql: `
      CREATE TABLE to_events (
        project text NOT NULL,
        store text NOT NULL,
        seq bigint NOT NULL,
        event jsonb NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project, store, seq)
      );
      CREATE TABLE to_documents (
        project text NOT NULL,
        name text NOT NULL,
        value jsonb NOT NULL,
        version bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project, name)
      );
      CREATE TABLE to_logs (
        project text NOT NULL,
        name text NOT NULL,
        id bigserial NOT NULL,
        record jsonb NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project, name, id)
      );
    `,
  },
  {
    version: 2,
    name: 'leases',
    // Claims as rows (one per key), so servers taking different tasks lock different rows and a
    // key another server is taking is skipped (FOR UPDATE SKIP LOCKED), not waited for. The
    // claims that were in the claims document move over (a live one keeps binding).
    sql: `
      CREATE TABLE to_leases (
        project text NOT NULL,
        name text NOT NULL,
        key text NOT NULL,
        holder text NOT NULL,
        label text NOT NULL,
        claimed_at text NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (project, name, key)
      );
      INSERT INTO to_leases (project, name, key, holder, label, claimed_at, expires_at)
      SELECT d.project, 'claims', c.key, c.value->>'holder', coalesce(c.value->>'label', ''),
             coalesce(c.value->>'claimed_at', ''), (c.value->>'expires_at')::bigint
      FROM to_documents d,
           jsonb_each(CASE WHEN jsonb_typeof(d.value->'claims') = 'object' THEN d.value->'claims' END) c
      WHERE d.name = 'claims' AND c.value->>'holder' IS NOT NULL AND c.value->>'expires_at' IS NOT NULL;
      DELETE FROM to_documents WHERE name = 'claims';
    `,
  },
];
