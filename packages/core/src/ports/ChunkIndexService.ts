/**
 * The contract of the `ChunkIndex` port: the service, its requests and results, and the primitives
 * an implementation supplies (with the requests as `ChunkIndex.make` resolves them). Implementations
 * (the memory index, pgvector, LanceDB) and the shared search semantics (`ChunkIndexScoring`) build on
 * this module; hosts and services use `ChunkIndex`, which re-exports it.
 */
import type { Effect, Option } from "effect"
import type { Chunk } from "../domain/Chunk.js"
import type { ChunkIndexError } from "../domain/Errors.js"
import type { ChunkId, DocumentId, KnowledgeBaseId } from "../domain/Ids.js"

/** Fields a chunk update may change; absent fields are kept. */
export interface ChunkPatch {
  readonly content?: string
  readonly content_ltks?: string
  readonly content_sm_ltks?: string
  readonly important_keywords?: ReadonlyArray<string>
  readonly questions?: ReadonlyArray<string>
  readonly available?: boolean
  readonly token_num?: number
  readonly vector?: ReadonlyArray<number>
}

/**
 * Operators of a metadata condition. Comparisons are numeric when both sides read as numbers,
 * otherwise on strings; `contains`, `starts_with` and `ends_with` ignore case. When a metadata value
 * is a list, a positive operator holds if it holds for one element; `ne`, `not_in`, `not_contains`
 * and `not_empty` are the negations of `eq`, `in`, `contains` and `empty`. A missing key is empty.
 */
export type MetadataOperator =
  | "eq"
  | "ne"
  | "gt"
  | "gte"
  | "lt"
  | "lte"
  | "in"
  | "not_in"
  | "contains"
  | "not_contains"
  | "starts_with"
  | "ends_with"
  | "empty"
  | "not_empty"

export interface MetadataCondition {
  readonly key: string
  readonly op: MetadataOperator
  /** The operand; a list for `in` / `not_in`; ignored by `empty` / `not_empty`. */
  readonly value?: unknown
}

export interface ChunkFilter {
  /** Only chunks of these documents (all documents when absent). */
  readonly docIds?: ReadonlyArray<DocumentId>
  /** Searches see available chunks unless this says `false` (then only unavailable ones). */
  readonly available?: boolean
  readonly metadata?: ReadonlyArray<MetadataCondition>
  /** How metadata conditions combine; `and` by default. */
  readonly metadataLogic?: "and" | "or"
}

export interface ListChunksQuery {
  readonly kbId: KnowledgeBaseId
  readonly docId: DocumentId
  /** Case-insensitive substring of the content. */
  readonly keywords?: string
  readonly offset: number
  readonly limit: number
  /** Only available (`true`) or unavailable (`false`) chunks; all when absent. */
  readonly available?: boolean
}

export interface ChunkPage {
  /** The page, ordered by `index` then id. */
  readonly chunks: ReadonlyArray<Chunk>
  /** How many chunks match the query, over all pages. */
  readonly total: number
}

export interface WeightedToken {
  readonly token: string
  readonly weight: number
}

export interface TextSearch {
  readonly kbIds: ReadonlyArray<KnowledgeBaseId>
  /** Weighted search tokens, or a space-separated string of tokens (each of weight 1). */
  readonly tokens: ReadonlyArray<WeightedToken> | string
  readonly filter?: ChunkFilter
  readonly limit: number
}

export interface VectorSearch {
  readonly kbIds: ReadonlyArray<KnowledgeBaseId>
  readonly vector: ReadonlyArray<number>
  readonly filter?: ChunkFilter
  readonly limit: number
  /** Drop results with a lower cosine similarity. */
  readonly minSimilarity?: number
}

export interface ScoredChunk {
  readonly chunk: Chunk
  /** BM25 score (positive, unbounded) for text search; cosine similarity for vector search. */
  readonly score: number
}

/** What fusing two searches needs of a chunk: no text. A `Chunk` is one too. */
export type ChunkSummary = Pick<Chunk, "id" | "kb_id" | "doc_id" | "docnm_kwd" | "vector">

/** A search result without the chunk's text (`searchTextSummaries`, `searchVectorSummaries`). */
export interface ScoredSummary {
  readonly chunk: ChunkSummary
  readonly score: number
}

/** A chunk by knowledge base and id. */
export interface ChunkRef {
  readonly kb_id: KnowledgeBaseId
  readonly id: ChunkId
}

/** The service; `ChunkIndex` is its tag. */
export interface ChunkIndexService {
  /** Inserts or replaces chunks (by knowledge base and id). */
  readonly upsert: (chunks: ReadonlyArray<Chunk>) => Effect.Effect<void, ChunkIndexError>
  readonly get: (kbId: KnowledgeBaseId, chunkId: ChunkId) => Effect.Effect<Option.Option<Chunk>, ChunkIndexError>
  /** Removes a document's chunks; returns how many. */
  readonly deleteByDocument: (kbId: KnowledgeBaseId, docId: DocumentId) => Effect.Effect<number, ChunkIndexError>
  /** Removes these chunks; returns how many existed. */
  readonly deleteChunks: (
    kbId: KnowledgeBaseId,
    chunkIds: ReadonlyArray<ChunkId>
  ) => Effect.Effect<number, ChunkIndexError>
  /** Removes every chunk of the knowledge base (and frees its vector dimension). */
  readonly deleteKnowledgeBase: (kbId: KnowledgeBaseId) => Effect.Effect<void, ChunkIndexError>
  /** Changes some fields of a chunk; `false` when there is no such chunk. */
  readonly update: (
    kbId: KnowledgeBaseId,
    chunkId: ChunkId,
    patch: ChunkPatch
  ) => Effect.Effect<boolean, ChunkIndexError>
  readonly list: (query: ListChunksQuery) => Effect.Effect<ChunkPage, ChunkIndexError>
  /** All chunks of a document, available or not. */
  readonly countByDocument: (kbId: KnowledgeBaseId, docId: DocumentId) => Effect.Effect<number, ChunkIndexError>
  /** BM25 over the search fields; best first, only chunks with a positive score. */
  readonly searchText: (search: TextSearch) => Effect.Effect<ReadonlyArray<ScoredChunk>, ChunkIndexError>
  /** Cosine similarity to the vector; best first, only chunks that have a vector. */
  readonly searchVector: (search: VectorSearch) => Effect.Effect<ReadonlyArray<ScoredChunk>, ChunkIndexError>
  /**
   * `searchText`'s results (the same chunks, scores and order) without their text, for a caller
   * that fuses many candidates and reads few (`getMany`). A result may be the whole chunk.
   */
  readonly searchTextSummaries: (search: TextSearch) => Effect.Effect<ReadonlyArray<ScoredSummary>, ChunkIndexError>
  /** `searchVector`'s results without their text, as `searchTextSummaries`. */
  readonly searchVectorSummaries: (search: VectorSearch) => Effect.Effect<ReadonlyArray<ScoredSummary>, ChunkIndexError>
  /** The chunks asked for, in their order; those not found are left out. */
  readonly getMany: (refs: ReadonlyArray<ChunkRef>) => Effect.Effect<ReadonlyArray<Chunk>, ChunkIndexError>
}

/** A filter with the search defaults applied, as implementations receive it. */
export interface ResolvedFilter extends ChunkFilter {
  readonly available: boolean
}

export interface ResolvedTextSearch {
  readonly kbIds: ReadonlyArray<KnowledgeBaseId>
  /** Distinct tokens with positive weights. */
  readonly tokens: ReadonlyArray<WeightedToken>
  readonly filter: ResolvedFilter
  readonly limit: number
}

export interface ResolvedVectorSearch {
  readonly kbIds: ReadonlyArray<KnowledgeBaseId>
  readonly vector: ReadonlyArray<number>
  readonly filter: ResolvedFilter
  readonly limit: number
  readonly minSimilarity: number
}

/**
 * What an implementation supplies to `ChunkIndex.make`. Inputs are validated first: vectors are
 * checked against `dimension`, limits and offsets are non-negative integers, searches with no
 * knowledge base, no token or a zero limit never reach the implementation.
 */
export interface ChunkIndexPrimitives extends
  Omit<ChunkIndexService, "searchText" | "searchVector" | "searchTextSummaries" | "searchVectorSummaries" | "getMany">
{
  /** The vector dimension of a knowledge base, `None` when it holds no vector. */
  readonly dimension: (kbId: KnowledgeBaseId) => Effect.Effect<Option.Option<number>, ChunkIndexError>
  readonly searchText: (search: ResolvedTextSearch) => Effect.Effect<ReadonlyArray<ScoredChunk>, ChunkIndexError>
  readonly searchVector: (search: ResolvedVectorSearch) => Effect.Effect<ReadonlyArray<ScoredChunk>, ChunkIndexError>
  /** `searchText` without reading the chunks' text; `searchText` itself when absent. */
  readonly searchTextSummaries?: (search: ResolvedTextSearch) => Effect.Effect<ReadonlyArray<ScoredSummary>, ChunkIndexError>
  /** `searchVector` without reading the chunks' text; `searchVector` itself when absent. */
  readonly searchVectorSummaries?: (search: ResolvedVectorSearch) => Effect.Effect<ReadonlyArray<ScoredSummary>, ChunkIndexError>
  /** Several chunks at once; `get` one by one when absent. */
  readonly getMany?: (refs: ReadonlyArray<ChunkRef>) => Effect.Effect<ReadonlyArray<Chunk>, ChunkIndexError>
}
