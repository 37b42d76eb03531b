/**
 * A task no longer carries progress: a document's progress is written once, on the document, by the
 * one owner of its run state (core's `DocumentRuns`); the task says only whether it is queued,
 * leased, done or failed, and why.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export default Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.unsafe("ALTER TABLE task DROP COLUMN IF EXISTS progress, DROP COLUMN IF EXISTS progress_msg")
)
