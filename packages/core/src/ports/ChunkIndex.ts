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
 *
 * The service and its requests are in `ChunkIndexService.ts`, re-exported here; what a search means
 * (fields, BM25, filters, order) is in `ChunkIndexScoring.ts`, which every implementation calls.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { Chunk } from "../domain/Chunk.js"
import { ChunkIndexError } from "../domain/Errors.js"
import type { ChunkId, KnowledgeBaseId } from "../domain/Ids.js"
import { makeMemoryPrimitives } from "../internal/memoryChunkIndex.js"
import type {
  ChunkFilter,
  ChunkIndexPrimitives,
  ChunkRef,
  ChunkIndexService,
  ChunkPatch,
  ResolvedFilter,
  ResolvedTextSearch,
  ResolvedVectorSearch,
  ScoredSummary,
  TextSearch,
  VectorSearch,
  WeightedToken
} from "./ChunkIndexService.js"

export * from "./ChunkIndexService.js"

// Reachable as `ChunkIndex.X`, as before the scoring semantics had a module of their own.
export {
  Bm25Parameters,
  bm25Idf,
  bm25Term,
  cosineSimilarity,
  keywordTokens,
  matchesCondition,
  matchesFilter,
  type SearchField,
  searchFieldTokens,
  SearchFieldWeights
} from "./ChunkIndexScoring.js"

export class ChunkIndex extends Context.Tag("@ragkit/core/ChunkIndex")<ChunkIndex, ChunkIndexService>() {}

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

  /** A text search, validated, run by `run`. */
  const textSearch = <A>(run: (search: ResolvedTextSearch) => Effect.Effect<ReadonlyArray<A>, ChunkIndexError>) =>
  (search: TextSearch): Effect.Effect<ReadonlyArray<A>, ChunkIndexError> => {
    const tokens = resolveTokens(search.tokens)
    const limit = nonNegativeInteger(search.limit)
    if (search.kbIds.length === 0 || tokens.length === 0 || limit === 0) return Effect.succeed([])
    return run({ kbIds: search.kbIds, tokens, filter: resolveFilter(search.filter), limit })
  }

  /** A vector search, validated, run by `run`; results under `minSimilarity` dropped. */
  const vectorSearch = <A extends { readonly score: number }>(
    run: (search: ResolvedVectorSearch) => Effect.Effect<ReadonlyArray<A>, ChunkIndexError>
  ) =>
  (search: VectorSearch): Effect.Effect<ReadonlyArray<A>, ChunkIndexError> =>
    Effect.gen(function*() {
      yield* checkVector(search.vector, "vector search")
      for (const kbId of search.kbIds) yield* checkDimension(kbId, search.vector.length, "vector search")
      const limit = nonNegativeInteger(search.limit)
      if (search.kbIds.length === 0 || limit === 0) return []
      const minSimilarity = search.minSimilarity ?? -Infinity
      const results = yield* run({
        kbIds: search.kbIds,
        vector: search.vector,
        filter: resolveFilter(search.filter),
        limit,
        minSimilarity
      })
      return results.filter((result) => result.score >= minSimilarity)
    })

  const searchText = (search: TextSearch) =>
    textSearch(primitives.searchText)(search).pipe(Effect.withSpan("ChunkIndex.searchText"))
  const searchVector = (search: VectorSearch) =>
    vectorSearch(primitives.searchVector)(search).pipe(Effect.withSpan("ChunkIndex.searchVector"))
  const searchTextSummaries = (search: TextSearch) =>
    textSearch<ScoredSummary>(primitives.searchTextSummaries ?? primitives.searchText)(search).pipe(
      Effect.withSpan("ChunkIndex.searchTextSummaries")
    )
  const searchVectorSummaries = (search: VectorSearch) =>
    vectorSearch<ScoredSummary>(primitives.searchVectorSummaries ?? primitives.searchVector)(search).pipe(
      Effect.withSpan("ChunkIndex.searchVectorSummaries")
    )
  const getMany = (refs: ReadonlyArray<ChunkRef>): Effect.Effect<ReadonlyArray<Chunk>, ChunkIndexError> =>
    (refs.length === 0
      ? Effect.succeed([])
      : primitives.getMany !== undefined
      ? primitives.getMany(refs)
      : Effect.map(
        Effect.forEach(refs, (ref) => primitives.get(ref.kb_id, ref.id), { concurrency: 8 }),
        (found) => found.flatMap(Option.toArray)
      )).pipe(Effect.withSpan("ChunkIndex.getMany"))

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
    searchVector,
    searchTextSummaries,
    searchVectorSummaries,
    getMany
  })
}

/** Chunks by knowledge base, in order: an index commits each knowledge base's on its own. */
export const byKnowledgeBase = <A extends { readonly kb_id: KnowledgeBaseId } = Chunk>(
  chunks: ReadonlyArray<A>
): Map<KnowledgeBaseId, Array<A>> => {
  const byKb = new Map<KnowledgeBaseId, Array<A>>()
  for (const chunk of chunks) {
    const list = byKb.get(chunk.kb_id)
    if (list === undefined) byKb.set(chunk.kb_id, [chunk])
    else list.push(chunk)
  }
  return byKb
}

/** The dimension of the first vector among the chunks (undefined without vectors). */
export const dimensionOf = (chunks: ReadonlyArray<Chunk>): number | undefined =>
  chunks.find((c) => c.vector !== undefined)?.vector?.length

/**
 * Upserts queued for a group commit, in runs to commit together, in arrival order: a run ends where
 * an upsert's vector dimension disagrees with the run's (upserts without vectors join any run), so
 * that an upsert with the wrong dimension fails alone.
 */
export const dimensionRuns = <A extends { readonly dimension: number | undefined }>(
  queued: ReadonlyArray<A>
): Array<Array<A>> => {
  const runs: Array<Array<A>> = []
  let runDimension: number | undefined
  for (const entry of queued) {
    const last = runs.at(-1)
    const disagrees = entry.dimension !== undefined && runDimension !== undefined && entry.dimension !== runDimension
    if (last === undefined || disagrees) {
      runs.push([entry])
      runDimension = entry.dimension
    } else {
      last.push(entry)
      runDimension ??= entry.dimension
    }
  }
  return runs
}

/** An exact in-memory index (brute force): the reference the other implementations are compared with. */
export const makeMemory: Effect.Effect<ChunkIndexService> = Effect.map(makeMemoryPrimitives, make)

export const layerMemory: Layer.Layer<ChunkIndex> = Layer.effect(ChunkIndex, makeMemory)
