/**
 * Login sessions get a table of their own (`RecordStore.Tables.sessions`): a user may hold several
 * at once. The single session hash on the user record goes, with its unique index; sessions kept
 * there end (their users log in again).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export const statements: ReadonlyArray<string> = [
  `CREATE TABLE session (id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE UNIQUE INDEX session_token_hash_key ON session ((data->>'token_hash'))`,
  `CREATE INDEX session_user_id_idx ON session ((data->>'user_id'))`,
  `DROP INDEX IF EXISTS user_access_token_hash_key`,
  `UPDATE "user" SET data = data - 'access_token_hash' WHERE data ? 'access_token_hash'`
]

export default Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
)
