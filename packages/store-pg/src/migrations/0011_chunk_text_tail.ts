/**
 * The text-search tail of the chunk index (`PgChunkIndex`): rows written but not yet in the postings
 * and the BM25 statistics, indexed later in large batches, off the write path.
 *
 * `chunk_ords`, per knowledge base:
 * - `next_ord`: the ordinals given out so far (the next row gets this one);
 * - `indexed_ord`: the segments of `chunk_segments` cover the ordinals below it, and `chunk_kb_stats`
 *   and `chunk_token_stats` count exactly the rows below it. Rows at or above it (the tail) are
 *   counted and scored by a text search from their term keys.
 *
 * Existing knowledge bases have no tail: both are the end of their last segment.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export const statements: ReadonlyArray<string> = [
  `CREATE TABLE chunk_ords (
    kb_id text COLLATE "C" PRIMARY KEY,
    next_ord integer NOT NULL,
    indexed_ord integer NOT NULL,
    CHECK (0 <= indexed_ord AND indexed_ord <= next_ord)
  )`,
  `INSERT INTO chunk_ords (kb_id, next_ord, indexed_ord)
  SELECT kb_id, max(end_ord), max(end_ord) FROM chunk_segments GROUP BY kb_id`
]

export default Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
)
