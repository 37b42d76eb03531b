/**
 * The chunk index's statistics and term keys (`PgChunkIndex`), so that a text search reads a few
 * statistics rows and index entries instead of scanning the knowledge bases and the candidates'
 * token lists:
 *
 * - `chunk.term_keys`: one key per search field and distinct token of a chunk, `<field>:<tf> <token>`
 *   (field 0 content, 1 title, 2 important keywords, 3 questions; tf the token's count in the field),
 *   with a GIN index. A search probes the keys of its tokens for every count up to the largest, so
 *   the index yields the candidates together with their term frequencies and no token list is read.
 *   It replaces the token lists (`content_tokens`, ..., `search_tokens`) and their GIN index.
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
    mx0 integer NOT NULL,
    mx1 integer NOT NULL,
    mx2 integer NOT NULL,
    mx3 integer NOT NULL,
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
  `ALTER TABLE chunk ADD COLUMN term_keys text[] NOT NULL DEFAULT '{}'`,
  `UPDATE chunk c SET term_keys = k.keys FROM (
    SELECT kb_id, id, array_agg(f || ':' || n || ' ' || t ORDER BY f, t) AS keys FROM (
      SELECT kb_id, id, 0 AS f, t, count(*) AS n FROM chunk, unnest(content_tokens) AS t GROUP BY 1, 2, 3, 4
      UNION ALL SELECT kb_id, id, 1, t, count(*) FROM chunk, unnest(title_tokens) AS t GROUP BY 1, 2, 3, 4
      UNION ALL SELECT kb_id, id, 2, t, count(*) FROM chunk, unnest(keyword_tokens) AS t GROUP BY 1, 2, 3, 4
      UNION ALL SELECT kb_id, id, 3, t, count(*) FROM chunk, unnest(question_tokens) AS t GROUP BY 1, 2, 3, 4
    ) x GROUP BY kb_id, id
  ) k WHERE c.kb_id = k.kb_id AND c.id = k.id`,
  `ALTER TABLE chunk ALTER COLUMN term_keys DROP DEFAULT`,
  `INSERT INTO chunk_token_stats (kb_id, token, df0, df1, df2, df3, mx0, mx1, mx2, mx3)
  SELECT kb_id, token,
    count(*) FILTER (WHERE f = 0) AS df0, count(*) FILTER (WHERE f = 1) AS df1,
    count(*) FILTER (WHERE f = 2) AS df2, count(*) FILTER (WHERE f = 3) AS df3,
    coalesce(max(n) FILTER (WHERE f = 0), 0) AS mx0, coalesce(max(n) FILTER (WHERE f = 1), 0) AS mx1,
    coalesce(max(n) FILTER (WHERE f = 2), 0) AS mx2, coalesce(max(n) FILTER (WHERE f = 3), 0) AS mx3
  FROM (
    SELECT kb_id, substr(k, 1, 1)::int AS f, split_part(substr(k, 3), ' ', 1)::int AS n, substr(k, strpos(k, ' ') + 1) AS token
    FROM chunk, unnest(term_keys) AS k
  ) x GROUP BY kb_id, token`,
  `INSERT INTO chunk_vector_stats (kb_id, dims, n)
  SELECT kb_id, dims, count(*) FROM chunk WHERE dims IS NOT NULL GROUP BY kb_id, dims`,
  `CREATE INDEX chunk_term_keys_idx ON chunk USING gin (term_keys)`,
  `DROP INDEX chunk_search_tokens_idx`,
  `ALTER TABLE chunk DROP COLUMN content_tokens, DROP COLUMN title_tokens, DROP COLUMN keyword_tokens, ` +
  `DROP COLUMN question_tokens, DROP COLUMN search_tokens`
]

export default Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
)
