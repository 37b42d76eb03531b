/**
 * Every retrieval looks up the disabled documents (`status` "0") of the knowledge bases it
 * searches, to leave their chunks out. Without an index that lookup reads every document of the
 * knowledge base; this partial index holds only the disabled ones, usually none.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export const statements: ReadonlyArray<string> = [
  `CREATE INDEX document_disabled_idx ON document ((data->>'kb_id')) WHERE (data->>'status') = '0'`
]

export default Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
)
