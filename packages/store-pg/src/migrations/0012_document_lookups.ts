/**
 * Indexes for two document lookups that otherwise read every document of a knowledge base:
 *
 * - Every retrieval looks up the disabled documents (`status` "0") of the knowledge bases it
 *   searches, to leave their chunks out: a partial index holds only those, usually none.
 * - `documents/list` pages a knowledge base's documents by `create_time`, newest first by default
 *   (RAGFlow's web client polls it while documents parse). The index's expressions are
 *   PgRecordStore's order terms for that field (missing values last, numbers by value, strings by
 *   code point): scanned backwards it gives the newest first with ties by ascending id, as the store
 *   orders them, so a page reads its own rows instead of sorting them all. The planner takes it
 *   once the table has statistics (on PGlite, from the layer's vacuum), with statistics of the
 *   `kb_id` condition's type check.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const createTime = `NULLIF(data->'create_time', 'null'::jsonb)`

export const statements: ReadonlyArray<string> = [
  `CREATE INDEX document_disabled_idx ON document ((data->>'kb_id')) WHERE (data->>'status') = '0'`,
  `CREATE INDEX document_kb_id_create_time_idx ON document (
    (data->>'kb_id'),
    (${createTime} IS NULL),
    (CASE WHEN jsonb_typeof(${createTime}) = 'number' THEN (${createTime})::numeric END),
    (CASE jsonb_typeof(${createTime}) WHEN 'number' THEN NULL WHEN 'string' THEN ${createTime} #>> '{}' ELSE (${createTime})::text END) COLLATE "C",
    id DESC
  )`,
  // Every string condition of the store also checks the value's JSON type; without statistics on
  // that expression the planner guesses it keeps 0.5% of the rows, so a page of thousands of
  // documents looks like a few dozen, cheaper to sort than to read in order.
  `CREATE STATISTICS document_kb_id_type ON (jsonb_typeof(data->'kb_id')) FROM document`
]

export default Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
)
