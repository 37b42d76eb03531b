/**
 * The chunk index's statistics (`PgChunkIndex`), kept next to the `chunk` table so that searches
 * read a few rows instead of scanning the knowledge bases:
 *
 * - `chunk_kb_stats`: per knowledge base and search field (0 content, 1 title, 2 important keywords,
 *   3 questions) the number of chunks where the field is not empty (`n*`) and the sum of its
 *   lengths in tokens (`l*`): BM25's document count and average length.
 * - `chunk_token_stats`: per knowledge base and search token, the number of chunks holding the token
 *   in each field (`df*`): BM25's document frequencies. Rows that fall to zero are deleted.
 * - `chunk_vector_stats`: per knowledge base and dimension, the number of vectors: the knowledge
 *   base's dimension and the size of a vector search (exact or HNSW).
 *
 * Every write of the chunk index changes these in the same transaction as the `chunk` rows, under the
 * knowledge base's write lock, so they are exact. This migration fills them from existing rows.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export const statements: ReadonlyArray<string> = [
  `CREATE TABLE chunk_kb_stats (
    kb_id text COLLATE "C" PRIMARY KEY,
    n0 bigint NOT NULL, l0 bigint NOT NULL,
    n1 bigint NOT NULL, l1 bigint NOT NULL,
    n2 bigint NOT NULL, l2 bigint NOT NULL,
    n3 bigint NOT NULL, l3 bigint NOT NULL
  )`,
  `CREATE TABLE chunk_token_stats (
    kb_id text COLLATE "C" NOT NULL,
    token text COLLATE "C" NOT NULL,
    df0 integer NOT NULL,
    df1 integer NOT NULL,
    df2 integer NOT NULL,
    df3 integer NOT NULL,
    PRIMARY KEY (kb_id, token)
  )`,
  `CREATE TABLE chunk_vector_stats (
    kb_id text COLLATE "C" NOT NULL,
    dims integer NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (kb_id, dims)
  )`,
  // the vector counts of one dimension over all knowledge bases (when to build its HNSW index)
  `CREATE INDEX chunk_vector_stats_dims_idx ON chunk_vector_stats (dims)`,
  `INSERT INTO chunk_kb_stats (kb_id, n0, l0, n1, l1, n2, l2, n3, l3)
  SELECT kb_id,
    count(*) FILTER (WHERE content_len > 0), coalesce(sum(content_len), 0),
    count(*) FILTER (WHERE title_len > 0), coalesce(sum(title_len), 0),
    count(*) FILTER (WHERE keyword_len > 0), coalesce(sum(keyword_len), 0),
    count(*) FILTER (WHERE question_len > 0), coalesce(sum(question_len), 0)
  FROM chunk GROUP BY kb_id`,
  `INSERT INTO chunk_token_stats (kb_id, token, df0, df1, df2, df3)
  SELECT kb_id, t,
    count(*) FILTER (WHERE t = ANY(content_tokens)), count(*) FILTER (WHERE t = ANY(title_tokens)),
    count(*) FILTER (WHERE t = ANY(keyword_tokens)), count(*) FILTER (WHERE t = ANY(question_tokens))
  FROM chunk, unnest(search_tokens) AS t GROUP BY kb_id, t`,
  `INSERT INTO chunk_vector_stats (kb_id, dims, n)
  SELECT kb_id, dims, count(*) FROM chunk WHERE dims IS NOT NULL GROUP BY kb_id, dims`
]

export default Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
)
