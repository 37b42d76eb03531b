/**
 * The chunk index's postings (`PgChunkIndex`, `internal/chunkIndexPostings.ts`): an inverted index of
 * our own, so that a text search reads a few packed rows per query token instead of visiting the
 * heap tuple of every matching chunk (which the GIN index on `term_keys` needed: linear in matches,
 * see bench/README.md).
 *
 * - `chunk.ord`: a chunk version's ordinal in its knowledge base. Every write gives its rows new
 *   ordinals (so a replaced row's old ordinal names nothing any more), ordinals are never reused,
 *   and `(kb_id, ord)` is unique.
 * - `chunk_segments`: the postings are written in segments, one per write batch of a knowledge base,
 *   each covering a range of ordinals `[first_ord, end_ord)`; the ranges of a knowledge base are
 *   disjoint and together cover every ordinal given out. `size` counts the rows its postings hold
 *   (live or not), `live` the rows of the range still in `chunk`. Small segments are merged into
 *   larger ones, segments whose rows are mostly gone are rewritten without them.
 * - `chunk_postings`: per knowledge base, token, search field and segment, the chunks holding the
 *   token in the field, as `n` records of 12 bytes in ordinal order: ordinal, the token's count in
 *   the field, the field's length, each a big-endian int4 (`int4send`).
 *
 * This migration gives existing rows ordinals (by id) and builds one segment per knowledge base from
 * `term_keys`; `term_keys` stays (a write reads the keys of the rows it removes to update the
 * statistics), its GIN index goes, and so do the largest counts in `chunk_token_stats` (`mx*`),
 * which told the GIN probes how many keys to try.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export const statements: ReadonlyArray<string> = [
  `ALTER TABLE chunk ADD COLUMN ord integer`,
  `UPDATE chunk c SET ord = r.n FROM (
    SELECT kb_id, id, (row_number() OVER (PARTITION BY kb_id ORDER BY id) - 1)::int AS n FROM chunk
  ) r WHERE c.kb_id = r.kb_id AND c.id = r.id`,
  `ALTER TABLE chunk ALTER COLUMN ord SET NOT NULL`,
  `CREATE UNIQUE INDEX chunk_ord_idx ON chunk (kb_id, ord)`,
  `CREATE SEQUENCE chunk_segment_id_seq`,
  `CREATE TABLE chunk_segments (
    kb_id text COLLATE "C" NOT NULL,
    id bigint NOT NULL DEFAULT nextval('chunk_segment_id_seq'),
    first_ord integer NOT NULL,
    end_ord integer NOT NULL,
    size integer NOT NULL,
    live integer NOT NULL,
    PRIMARY KEY (kb_id, id),
    CHECK (first_ord <= end_ord AND 0 <= live AND live <= end_ord - first_ord)
  )`,
  `CREATE UNIQUE INDEX chunk_segments_ord_idx ON chunk_segments (kb_id, first_ord)`,
  `CREATE TABLE chunk_postings (
    kb_id text COLLATE "C" NOT NULL,
    token text COLLATE "C" NOT NULL,
    field smallint NOT NULL,
    segment bigint NOT NULL,
    n integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (kb_id, token, field, segment)
  )`,
  // Packed integers do not compress: stored out of line as they are.
  `ALTER TABLE chunk_postings ALTER COLUMN data SET STORAGE EXTERNAL`,
  // a segment's postings, in pages (merges, rewrites)
  `CREATE INDEX chunk_postings_segment_idx ON chunk_postings (kb_id, segment, token, field)`,
  `INSERT INTO chunk_segments (kb_id, first_ord, end_ord, size, live)
  SELECT kb_id, 0, count(*), count(*), count(*) FROM chunk GROUP BY kb_id`,
  `INSERT INTO chunk_postings (kb_id, token, field, segment, n, data)
  SELECT x.kb_id, x.token, x.field, s.id, count(*), string_agg(int4send(x.ord) || int4send(x.tf) || int4send(x.len), ''::bytea ORDER BY x.ord)
  FROM (
    SELECT c.kb_id, c.ord, substr(k, 1, 1)::smallint AS field,
      split_part(substr(k, 3), ' ', 1)::int AS tf, substr(k, strpos(k, ' ') + 1) AS token,
      CASE substr(k, 1, 1) WHEN '0' THEN c.content_len WHEN '1' THEN c.title_len WHEN '2' THEN c.keyword_len
        ELSE c.question_len END AS len
    FROM chunk c, unnest(c.term_keys) AS k
  ) x JOIN chunk_segments s ON s.kb_id = x.kb_id
  GROUP BY x.kb_id, x.token, x.field, s.id`,
  `DROP INDEX chunk_term_keys_idx`,
  // The largest count per token and field served the GIN probes only.
  `ALTER TABLE chunk_token_stats DROP COLUMN mx0, DROP COLUMN mx1, DROP COLUMN mx2, DROP COLUMN mx3`
]

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ readonly n: number }>`SELECT count(*)::float8 AS n FROM chunk`
  const rows = row?.n ?? 0
  // Minutes for a large table (bench/README.md has the time at 100k): worth a line in the log.
  if (rows >= 10_000) {
    yield* Effect.logInfo(`chunk index: building the text-search postings of ${rows} chunks (a one-time migration)`)
  }
  const started = Date.now()
  yield* Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
  if (rows >= 10_000) yield* Effect.logInfo(`chunk index: postings built in ${((Date.now() - started) / 1000).toFixed(0)} s`)
})
