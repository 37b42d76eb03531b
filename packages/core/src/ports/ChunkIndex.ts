/**
 * The chunk index holds every chunk with its text, search tokens, metadata and vector, and answers
 * full-text (BM25) and vector (cosine) searches over one or more knowledge bases.
 *
 * Chunks are addressed by knowledge base and chunk id; an upsert replaces a chunk with the same id in
 * the same knowledge base. All vectors of a knowledge base have one dimension: an upsert, an update
 * or a vector search with another dimension fails with `ChunkIndexError` reason `Mismatch`. The
 * dimension is free again once the knowledge base holds no vectors (e.g. after
 * `deleteKnowledgeBase`).
 *
 * Text search is BM25 over several fields of a chunk, summed with the weights in
 * `SearchFieldWeights`. The index does not tokenize queries: callers pass search tokens produced by
 * the same tokenizer as the chunks' `*_ltks` / `title_tks` fields (or a space-separated string of
 * them). `important_keywords` and `questions` are raw text on a chunk; the index splits them into
 * lower-cased letter/digit runs (`keywordTokens`).
 */
import { Context, Effect, Layer, Option } from "effect"
import { Chunk } from "../domain/Chunk.js"
import { ChunkIndexError } from "../domain/Errors.js"
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

/**
 * Per-field weights of the text search; a chunk's score is the weighted sum of the fields' BM25
 * scores. RAGFlow boosts important keywords ×30, questions ×20 and the title ×10 against content ×2
 * on Elasticsearch, whose scores per field are much smaller for the short fields; with plain BM25
 * per field these lighter weights keep the same order of importance without letting one keyword
 * drown the content.
 */
export const SearchFieldWeights = {
  content_ltks: 1,
  title_tks: 2,
  important_keywords: 5,
  questions: 3
} as const

export type SearchField = keyof typeof SearchFieldWeights

/** BM25 parameters (Lucene's defaults). */
export const Bm25Parameters = { k1: 1.2, b: 0.75 } as const

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
}

export class ChunkIndex extends Context.Tag("@ragkit/core/ChunkIndex")<ChunkIndex, ChunkIndexService>() {}

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
 * What an implementation supplies. Inputs are validated first: vectors are checked against
 * `dimension`, limits and offsets are non-negative integers, searches with no knowledge base, no
 * token or a zero limit never reach the implementation.
 */
export interface ChunkIndexPrimitives extends Omit<ChunkIndexService, "searchText" | "searchVector"> {
  /** The vector dimension of a knowledge base, `None` when it holds no vector. */
  readonly dimension: (kbId: KnowledgeBaseId) => Effect.Effect<Option.Option<number>, ChunkIndexError>
  readonly searchText: (search: ResolvedTextSearch) => Effect.Effect<ReadonlyArray<ScoredChunk>, ChunkIndexError>
  readonly searchVector: (search: ResolvedVectorSearch) => Effect.Effect<ReadonlyArray<ScoredChunk>, ChunkIndexError>
}

const mismatch = (message: string) => new ChunkIndexError({ reason: "Mismatch", message })

const checkVector = (vector: ReadonlyArray<number>, what: string): Effect.Effect<void, ChunkIndexError> =>
  vector.length === 0
    ? Effect.fail(mismatch(`${what}: empty vector`))
    : vector.every(Number.isFinite)
    ? Effect.void
    : Effect.fail(mismatch(`${what}: vector has a non-finite component`))

const nonNegativeInteger = (n: number) => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0)

/** Query tokens: distinct, trimmed, positive weights summed. */
export const resolveTokens = (tokens: ReadonlyArray<WeightedToken> | string): ReadonlyArray<WeightedToken> => {
  const list: ReadonlyArray<WeightedToken> = typeof tokens === "string"
    ? tokens.split(/\s+/).map((token) => ({ token, weight: 1 }))
    : tokens
  const weights = new Map<string, number>()
  for (const { token, weight } of list) {
    const t = token.trim()
    if (t.length === 0 || !(weight > 0) || !Number.isFinite(weight)) continue
    weights.set(t, (weights.get(t) ?? 0) + weight)
  }
  return [...weights].map(([token, weight]) => ({ token, weight }))
}

export const resolveFilter = (filter: ChunkFilter | undefined): ResolvedFilter => ({
  ...filter,
  available: filter?.available ?? true
})

/** Builds a `ChunkIndex` from primitives: validation of vectors, limits and queries, and spans. */
export const make = (primitives: ChunkIndexPrimitives): ChunkIndexService => {
  const checkDimension = (kbId: KnowledgeBaseId, length: number, what: string) =>
    Effect.flatMap(primitives.dimension(kbId), (dimension) =>
      Option.isSome(dimension) && dimension.value !== length
        ? Effect.fail(
          mismatch(`${what}: vector of dimension ${length}, knowledge base ${kbId} has dimension ${dimension.value}`)
        )
        : Effect.void)

  const upsert = Effect.fn("ChunkIndex.upsert")(function*(chunks: ReadonlyArray<Chunk>) {
    if (chunks.length === 0) return
    const dimensions = new Map<KnowledgeBaseId, number>()
    for (const chunk of chunks) {
      if (chunk.vector === undefined) continue
      yield* checkVector(chunk.vector, `chunk ${chunk.id}`)
      const seen = dimensions.get(chunk.kb_id)
      if (seen === undefined) dimensions.set(chunk.kb_id, chunk.vector.length)
      else if (seen !== chunk.vector.length) {
        return yield* mismatch(
          `chunk ${chunk.id}: vector of dimension ${chunk.vector.length}, other chunks of knowledge base ${chunk.kb_id} in the batch have ${seen}`
        )
      }
    }
    for (const [kbId, length] of dimensions) yield* checkDimension(kbId, length, "upsert")
    yield* primitives.upsert(chunks)
  })

  const update = Effect.fn("ChunkIndex.update")(
    function*(kbId: KnowledgeBaseId, chunkId: ChunkId, patch: ChunkPatch) {
      if (patch.vector !== undefined) {
        yield* checkVector(patch.vector, `chunk ${chunkId}`)
        yield* checkDimension(kbId, patch.vector.length, `update of chunk ${chunkId}`)
      }
      return yield* primitives.update(kbId, chunkId, patch)
    }
  )

  const searchText = Effect.fn("ChunkIndex.searchText")(function*(search: TextSearch) {
    const tokens = resolveTokens(search.tokens)
    const limit = nonNegativeInteger(search.limit)
    if (search.kbIds.length === 0 || tokens.length === 0 || limit === 0) return []
    return yield* primitives.searchText({ kbIds: search.kbIds, tokens, filter: resolveFilter(search.filter), limit })
  })

  const searchVector = Effect.fn("ChunkIndex.searchVector")(function*(search: VectorSearch) {
    yield* checkVector(search.vector, "vector search")
    for (const kbId of search.kbIds) yield* checkDimension(kbId, search.vector.length, "vector search")
    const limit = nonNegativeInteger(search.limit)
    if (search.kbIds.length === 0 || limit === 0) return []
    const minSimilarity = search.minSimilarity ?? -Infinity
    const results = yield* primitives.searchVector({
      kbIds: search.kbIds,
      vector: search.vector,
      filter: resolveFilter(search.filter),
      limit,
      minSimilarity
    })
    return results.filter((result) => result.score >= minSimilarity)
  })

  return ChunkIndex.of({
    upsert,
    get: (kbId, chunkId) => primitives.get(kbId, chunkId).pipe(Effect.withSpan("ChunkIndex.get")),
    deleteByDocument: (kbId, docId) =>
      primitives.deleteByDocument(kbId, docId).pipe(Effect.withSpan("ChunkIndex.deleteByDocument")),
    deleteChunks: (kbId, chunkIds) =>
      chunkIds.length === 0
        ? Effect.succeed(0)
        : primitives.deleteChunks(kbId, chunkIds).pipe(Effect.withSpan("ChunkIndex.deleteChunks")),
    deleteKnowledgeBase: (kbId) =>
      primitives.deleteKnowledgeBase(kbId).pipe(Effect.withSpan("ChunkIndex.deleteKnowledgeBase")),
    update,
    list: (query) =>
      primitives.list({
        ...query,
        offset: nonNegativeInteger(query.offset),
        limit: nonNegativeInteger(query.limit)
      }).pipe(Effect.withSpan("ChunkIndex.list")),
    countByDocument: (kbId, docId) =>
      primitives.countByDocument(kbId, docId).pipe(Effect.withSpan("ChunkIndex.countByDocument")),
    searchText,
    searchVector
  })
}

// ---------------------------------------------------------------------------------------------
// Filter semantics, shared by implementations that filter in process.

const asNumber = (value: unknown): number | undefined => {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined
  if (typeof value === "string" && value.trim() !== "") {
    const n = Number(value)
    return Number.isFinite(n) ? n : undefined
  }
  return undefined
}

const asText = (value: unknown): string =>
  typeof value === "string" ? value : typeof value === "object" && value !== null ? JSON.stringify(value) : String(value)

const compare = (a: unknown, b: unknown): number => {
  const na = asNumber(a)
  const nb = asNumber(b)
  if (na !== undefined && nb !== undefined) return na - nb
  const sa = asText(a)
  const sb = asText(b)
  return sa < sb ? -1 : sa > sb ? 1 : 0
}

const lower = (value: unknown) => asText(value).toLowerCase()

/** Whether a chunk's metadata satisfies one condition. */
export const matchesCondition = (
  metadata: Readonly<Record<string, unknown>>,
  condition: MetadataCondition
): boolean => {
  const raw = Object.prototype.hasOwnProperty.call(metadata, condition.key) ? metadata[condition.key] : undefined
  const values: ReadonlyArray<unknown> = raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw : [raw]
  const operand = condition.value
  const any = (p: (value: unknown) => boolean) => values.some(p)
  const operands: ReadonlyArray<unknown> = Array.isArray(operand) ? operand : [operand]
  switch (condition.op) {
    case "eq":
      return any((v) => compare(v, operand) === 0)
    case "ne":
      return !any((v) => compare(v, operand) === 0)
    case "gt":
      return any((v) => compare(v, operand) > 0)
    case "gte":
      return any((v) => compare(v, operand) >= 0)
    case "lt":
      return any((v) => compare(v, operand) < 0)
    case "lte":
      return any((v) => compare(v, operand) <= 0)
    case "in":
      return any((v) => operands.some((o) => compare(v, o) === 0))
    case "not_in":
      return !any((v) => operands.some((o) => compare(v, o) === 0))
    case "contains":
      return any((v) => lower(v).includes(lower(operand)))
    case "not_contains":
      return !any((v) => lower(v).includes(lower(operand)))
    case "starts_with":
      return any((v) => lower(v).startsWith(lower(operand)))
    case "ends_with":
      return any((v) => lower(v).endsWith(lower(operand)))
    case "empty":
      return values.every((v) => asText(v).trim() === "")
    case "not_empty":
      return !values.every((v) => asText(v).trim() === "")
  }
}

/** Whether a chunk passes a resolved search filter. */
export const matchesFilter = (chunk: Chunk, filter: ResolvedFilter): boolean => {
  if (chunk.available !== filter.available) return false
  if (filter.docIds !== undefined && !filter.docIds.includes(chunk.doc_id)) return false
  const conditions = filter.metadata ?? []
  if (conditions.length === 0) return true
  return filter.metadataLogic === "or"
    ? conditions.some((c) => matchesCondition(chunk.metadata, c))
    : conditions.every((c) => matchesCondition(chunk.metadata, c))
}

// ---------------------------------------------------------------------------------------------
// Scoring, exact: the memory index is the reference the other implementations are compared with.

/** Search tokens of raw text (keywords, questions): lower-cased runs of letters, marks and digits. */
export const keywordTokens = (text: string): ReadonlyArray<string> =>
  text.toLowerCase().split(/[^\p{L}\p{M}\p{N}_]+/u).filter((t) => t.length > 0)

const spaceTokens = (text: string): ReadonlyArray<string> => text.split(/\s+/).filter((t) => t.length > 0)

/** The tokens of each search field of a chunk. */
export const searchFieldTokens = (chunk: Chunk): Readonly<Record<SearchField, ReadonlyArray<string>>> => ({
  content_ltks: spaceTokens(chunk.content_ltks),
  title_tks: spaceTokens(chunk.title_tks),
  important_keywords: chunk.important_keywords.flatMap(keywordTokens),
  questions: chunk.questions.flatMap(keywordTokens)
})

/** Lucene's BM25 idf: `ln(1 + (N - df + 0.5) / (df + 0.5))`. */
export const bm25Idf = (documents: number, documentFrequency: number): number =>
  Math.log(1 + (documents - documentFrequency + 0.5) / (documentFrequency + 0.5))

/** BM25 term score for one field: `idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))`. */
export const bm25Term = (idf: number, tf: number, length: number, averageLength: number): number => {
  const { b, k1 } = Bm25Parameters
  return (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * length) / averageLength))
}

/** Cosine similarity; 0 when either vector is all zeros. */
export const cosineSimilarity = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    dot += x * y
    na += x * x
    nb += y * y
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}

interface FieldCounts {
  readonly length: number
  readonly counts: ReadonlyMap<string, number>
}

const countTokens = (tokens: ReadonlyArray<string>): FieldCounts => {
  const counts = new Map<string, number>()
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1)
  return { length: tokens.length, counts }
}

const searchFields = Object.keys(SearchFieldWeights) as ReadonlyArray<SearchField>

const byScoreThenId = (a: ScoredChunk, b: ScoredChunk) =>
  b.score - a.score || (a.chunk.id < b.chunk.id ? -1 : a.chunk.id > b.chunk.id ? 1 : 0)

const byIndexThenId = (a: Chunk, b: Chunk) =>
  a.index - b.index || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/**
 * An exact in-memory index (brute force). BM25 statistics (number of chunks, document frequency and
 * average length per field, Lucene-style: over the chunks where the field is not empty) are taken
 * over all chunks of the searched knowledge bases, before filters, as Elasticsearch does.
 */
export const makeMemory: Effect.Effect<ChunkIndexService> = Effect.sync(() => {
  const kbs = new Map<KnowledgeBaseId, Map<ChunkId, Chunk>>()
  const tokenCache = new WeakMap<Chunk, Readonly<Record<SearchField, FieldCounts>>>()

  const fieldsOf = (chunk: Chunk) => {
    let cached = tokenCache.get(chunk)
    if (cached === undefined) {
      const tokens = searchFieldTokens(chunk)
      cached = {
        content_ltks: countTokens(tokens.content_ltks),
        title_tks: countTokens(tokens.title_tks),
        important_keywords: countTokens(tokens.important_keywords),
        questions: countTokens(tokens.questions)
      }
      tokenCache.set(chunk, cached)
    }
    return cached
  }

  /** The ids of each document's chunks, by `kb/doc`, so document operations need not scan. */
  const byDocument = new Map<string, Set<ChunkId>>()
  const docKey = (kbId: string, docId: string) => `${kbId}/${docId}`
  const indexChunk = (chunk: Chunk) => {
    const key = docKey(chunk.kb_id, chunk.doc_id)
    let ids = byDocument.get(key)
    if (ids === undefined) byDocument.set(key, (ids = new Set()))
    ids.add(chunk.id)
  }
  const unindexChunk = (chunk: Chunk) => {
    const key = docKey(chunk.kb_id, chunk.doc_id)
    const ids = byDocument.get(key)
    ids?.delete(chunk.id)
    if (ids !== undefined && ids.size === 0) byDocument.delete(key)
  }
  const chunksOfDocument = (kbId: KnowledgeBaseId, docId: DocumentId): Array<Chunk> => {
    const map = kbs.get(kbId)
    const ids = byDocument.get(docKey(kbId, docId))
    return map === undefined || ids === undefined ? [] : [...ids].map((id) => map.get(id)!)
  }

  const chunksOf = (kbId: KnowledgeBaseId): ReadonlyArray<Chunk> => [...(kbs.get(kbId)?.values() ?? [])]
  const chunksOfAll = (kbIds: ReadonlyArray<KnowledgeBaseId>) => [...new Set(kbIds)].flatMap(chunksOf)

  const dimensionOf = (kbId: KnowledgeBaseId): Option.Option<number> => {
    for (const chunk of kbs.get(kbId)?.values() ?? []) {
      if (chunk.vector !== undefined) return Option.some(chunk.vector.length)
    }
    return Option.none()
  }

  const removeChunks = (kbId: KnowledgeBaseId, ids: Iterable<string>) => {
    const chunks = kbs.get(kbId)
    if (chunks === undefined) return 0
    let removed = 0
    for (const id of ids) {
      const chunk = chunks.get(id as ChunkId)
      if (chunk === undefined) continue
      chunks.delete(chunk.id)
      unindexChunk(chunk)
      removed++
    }
    if (chunks.size === 0) kbs.delete(kbId)
    return removed
  }

  return make({
    dimension: (kbId) => Effect.sync(() => dimensionOf(kbId)),
    upsert: (chunks) =>
      Effect.suspend(() => {
        // Re-checked here, synchronously with the write, so concurrent upserts cannot disagree.
        for (const chunk of chunks) {
          if (chunk.vector === undefined) continue
          const dimension = dimensionOf(chunk.kb_id)
          if (Option.isSome(dimension) && dimension.value !== chunk.vector.length) {
            return Effect.fail(
              mismatch(`upsert: vector of dimension ${chunk.vector.length}, knowledge base ${chunk.kb_id} has ${dimension.value}`)
            )
          }
        }
        for (const chunk of chunks) {
          let map = kbs.get(chunk.kb_id)
          if (map === undefined) kbs.set(chunk.kb_id, map = new Map())
          const old = map.get(chunk.id)
          if (old !== undefined) unindexChunk(old)
          map.set(chunk.id, chunk)
          indexChunk(chunk)
        }
        return Effect.void
      }),
    get: (kbId, chunkId) => Effect.sync(() => Option.fromNullable(kbs.get(kbId)?.get(chunkId))),
    deleteByDocument: (kbId, docId) =>
      Effect.sync(() => removeChunks(kbId, [...(byDocument.get(docKey(kbId, docId)) ?? [])])),
    deleteChunks: (kbId, chunkIds) => Effect.sync(() => removeChunks(kbId, new Set<string>(chunkIds))),
    deleteKnowledgeBase: (kbId) =>
      Effect.sync(() => {
        for (const chunk of kbs.get(kbId)?.values() ?? []) unindexChunk(chunk)
        kbs.delete(kbId)
      }),
    update: (kbId, chunkId, patch) =>
      Effect.sync(() => {
        const map = kbs.get(kbId)
        const old = map?.get(chunkId)
        if (map === undefined || old === undefined) return false
        const changes = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined))
        map.set(chunkId, new Chunk({ ...old, ...changes }))  // same document: the index stays
        return true
      }),
    list: (query) =>
      Effect.sync(() => {
        const needle = query.keywords?.trim().toLowerCase() ?? ""
        const matching = chunksOfDocument(query.kbId, query.docId)
          .filter((chunk) =>
            (query.available === undefined || chunk.available === query.available) &&
            (needle === "" || chunk.content.toLowerCase().includes(needle))
          )
          .sort(byIndexThenId)
        return { chunks: matching.slice(query.offset, query.offset + query.limit), total: matching.length }
      }),
    countByDocument: (kbId, docId) =>
      Effect.sync(() => byDocument.get(docKey(kbId, docId))?.size ?? 0),
    searchText: (search) =>
      Effect.sync(() => {
        const corpus = chunksOfAll(search.kbIds)
        const stats = searchFields.map((field) => {
          let documents = 0
          let totalLength = 0
          const frequency = new Map<string, number>()
          for (const chunk of corpus) {
            const counts = fieldsOf(chunk)[field]
            if (counts.length === 0) continue
            documents++
            totalLength += counts.length
            for (const { token } of search.tokens) {
              if (counts.counts.has(token)) frequency.set(token, (frequency.get(token) ?? 0) + 1)
            }
          }
          const idf = new Map(
            [...frequency].map(([token, df]) => [token, bm25Idf(documents, df)] as const)
          )
          return { field, weight: SearchFieldWeights[field], idf, averageLength: totalLength / Math.max(documents, 1) }
        })
        const results: Array<ScoredChunk> = []
        for (const chunk of corpus) {
          if (!matchesFilter(chunk, search.filter)) continue
          const fields = fieldsOf(chunk)
          let score = 0
          for (const { averageLength, field, idf, weight } of stats) {
            const counts = fields[field]
            if (counts.length === 0) continue
            for (const { token, weight: tokenWeight } of search.tokens) {
              const tf = counts.counts.get(token)
              if (tf === undefined) continue
              score += tokenWeight * weight * bm25Term(idf.get(token)!, tf, counts.length, averageLength)
            }
          }
          if (score > 0) results.push({ chunk, score })
        }
        return results.sort(byScoreThenId).slice(0, search.limit)
      }),
    searchVector: (search) =>
      Effect.sync(() => {
        const results: Array<ScoredChunk> = []
        for (const chunk of chunksOfAll(search.kbIds)) {
          if (chunk.vector === undefined || chunk.vector.length !== search.vector.length) continue
          if (!matchesFilter(chunk, search.filter)) continue
          const score = cosineSimilarity(search.vector, chunk.vector)
          if (score >= search.minSimilarity) results.push({ chunk, score })
        }
        return results.sort(byScoreThenId).slice(0, search.limit)
      })
  })
})

export const layerMemory: Layer.Layer<ChunkIndex> = Layer.effect(ChunkIndex, makeMemory)
