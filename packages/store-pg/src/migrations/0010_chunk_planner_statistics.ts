/**
 * Planner statistics of the chunk table only for the columns its queries filter, join or sort on
 * (`kb_id`, `id`, `doc_id`, `available`, `dims`, `ord`, `"index"`). Every other column gets a
 * statistics target of 0, which `ANALYZE` skips: it no longer reads (and decompresses) the text,
 * token, term-key and vector columns of its sample, which made each `ANALYZE chunk` cost about as
 * much as writing a few hundred rows. This holds for the index's own `ANALYZE` (after writes grow
 * the table by a tenth) and for a server's autovacuum alike.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/** The columns whose statistics no query plan uses. */
export const unplannedColumns: ReadonlyArray<string> = [
  "tenant_id",
  "docnm_kwd",
  "content",
  "content_ltks",
  "content_sm_ltks",
  "title_tks",
  "important_keywords",
  "questions",
  "token_num",
  "page_num",
  "positions",
  "img_id",
  "metadata",
  "create_time",
  "embedding",
  "term_keys",
  "content_len",
  "title_len",
  "keyword_len",
  "question_len"
]

export const statement = `ALTER TABLE chunk ${unplannedColumns.map((column) => `ALTER COLUMN ${column} SET STATISTICS 0`).join(", ")}`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement))
