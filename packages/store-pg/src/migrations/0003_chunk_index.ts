/**
 * The chunk index (`PgChunkIndex`): one `chunk` table for every knowledge base.
 *
 * Not one of the record store's migrations: it needs the pgvector extension, which a server may
 * lack, so it runs from its own migration table (`ragkit_chunk_index_migrations`) when a chunk index
 * layer is built, after `CREATE EXTENSION vector` (see `internal/chunkIndexSchema.ts`).
 *
 * - `embedding` is an untyped `vector` (any dimension) with its dimension in `dims`; the HNSW
 *   indexes are partial expression indexes, one per dimension, created when the first vector of
 *   that dimension is written: `USING hnsw ((embedding::vector(d)) vector_cosine_ops) WHERE dims = d`.
 * - The search fields' tokens (`*_tokens`, split exactly as core's `searchFieldTokens`) and their
 *   lengths are stored for BM25; `search_tokens` (their distinct union) has a GIN index that finds
 *   the candidates of a text search.
 * - Numbers are `double precision` (a chunk's numbers are JavaScript numbers); lists and metadata
 *   are `jsonb`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export const statements: ReadonlyArray<string> = [
  `CREATE TABLE chunk (
    kb_id text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    doc_id text COLLATE "C" NOT NULL,
    tenant_id text NOT NULL,
    docnm_kwd text NOT NULL,
    content text NOT NULL,
    content_ltks text NOT NULL,
    content_sm_ltks text NOT NULL,
    title_tks text NOT NULL,
    important_keywords jsonb NOT NULL,
    questions jsonb NOT NULL,
    available boolean NOT NULL,
    token_num double precision NOT NULL,
    page_num jsonb NOT NULL,
    positions jsonb NOT NULL,
    "index" double precision NOT NULL,
    img_id text,
    metadata jsonb NOT NULL,
    create_time double precision NOT NULL,
    embedding vector,
    dims integer,
    content_tokens text[] NOT NULL,
    title_tokens text[] NOT NULL,
    keyword_tokens text[] NOT NULL,
    question_tokens text[] NOT NULL,
    content_len integer NOT NULL,
    title_len integer NOT NULL,
    keyword_len integer NOT NULL,
    question_len integer NOT NULL,
    search_tokens text[] NOT NULL,
    PRIMARY KEY (kb_id, id),
    CHECK ((embedding IS NULL) = (dims IS NULL))
  )`,
  // list, countByDocument, deleteByDocument
  `CREATE INDEX chunk_doc_idx ON chunk (kb_id, doc_id, "index", id)`,
  // the dimension of a knowledge base, the size of a vector search
  `CREATE INDEX chunk_dims_idx ON chunk (kb_id, dims) WHERE dims IS NOT NULL`,
  // candidates of a text search
  `CREATE INDEX chunk_search_tokens_idx ON chunk USING gin (search_tokens)`
]

export default Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
)
