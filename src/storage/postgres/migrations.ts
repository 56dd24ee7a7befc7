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
];
