/**
 * Failed logins get a table (`RecordStore.Tables.loginFailures`), read by key within a window, so
 * that every server process on the database shares the failed-login limit. API keys' `beta` (the
 * embed credential, looked up when it authenticates) gets a unique index.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export const statements: ReadonlyArray<string> = [
  `CREATE TABLE login_failure (id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE INDEX login_failure_key_idx ON login_failure ((data->>'key'))`,
  `CREATE UNIQUE INDEX api_token_beta_key ON api_token ((data->>'beta'))`
]

export default Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
)
