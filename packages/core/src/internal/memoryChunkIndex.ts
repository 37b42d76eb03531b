/**
 * The exact in-memory chunk index (brute force): the reference the other implementations are
 * compared with. BM25 statistics (number of chunks, document frequency and average length per field,
 * Lucene-style: over the chunks where the field is not empty) are taken over all chunks of the
 * searched knowledge bases, before filters, as Elasticsearch does.
 *
 * A text search reads, per knowledge base, the chunks' counted fields, the field statistics and the
 * postings (which chunks hold a token in a field), built on the first search after a change: only
 * the chunks holding a query token are scored (the others score 0, so the results are the same as a
 * scan's), and the statistics of several knowledge bases are added up (integers, so exactly).
 */
import { Effect, Option } from "effect"
import { Chunk } from "../domain/Chunk.js"
import { ChunkIndexError } from "../domain/Errors.js"
import type { ChunkId, DocumentId, KnowledgeBaseId } from "../domain/Ids.js"
import * as Scoring from "../ports/ChunkIndexScoring.js"
import type {
  ChunkIndexPrimitives,
  ChunkPage,
  ChunkPatch,
  ListChunksQuery,
  ResolvedTextSearch,
  ResolvedVectorSearch,
  ScoredChunk
} from "../ports/ChunkIndexService.js"

const docKey = (kbId: string, docId: string) => `${kbId}/${docId}`

/** What text searches of one knowledge base read. */
interface TextIndex {
  readonly chunks: ReadonlyArray<Chunk>
  /** Each chunk's counted search fields. */
  readonly counted: ReadonlyArray<ReadonlyArray<Scoring.FieldCounts>>
  readonly statistics: ReadonlyArray<Scoring.FieldStatistics>
  /** Per search field, the positions (in `chunks`) of the chunks holding each token. */
  readonly postings: ReadonlyArray<ReadonlyMap<string, ReadonlyArray<number>>>
}

/**
 * The chunks, by knowledge base and id, with the ids of each document's chunks so that document
 * operations need not scan.
 */
class MemoryChunks {
  private readonly kbs = new Map<KnowledgeBaseId, Map<ChunkId, Chunk>>()
  private readonly byDocument = new Map<string, Set<ChunkId>>()
  /** Chunks are immutable: their search fields are counted once. */
  private readonly counted = new WeakMap<Chunk, ReadonlyArray<Scoring.FieldCounts>>()
  /** Per knowledge base, its text index; dropped when any of its chunks changes. */
  private readonly textIndexes = new Map<KnowledgeBaseId, TextIndex>()

  dimension(kbId: KnowledgeBaseId): Option.Option<number> {
    for (const chunk of this.kbs.get(kbId)?.values() ?? []) {
      if (chunk.vector !== undefined) return Option.some(chunk.vector.length)
    }
    return Option.none()
  }

  /** Fails when a vector disagrees with its knowledge base's dimension, writing nothing then. */
  upsert(chunks: ReadonlyArray<Chunk>): ChunkIndexError | undefined {
    // Checked again here, synchronously with the write, so that concurrent upserts cannot disagree.
    for (const chunk of chunks) {
      if (chunk.vector === undefined) continue
      const dimension = this.dimension(chunk.kb_id)
      if (Option.isSome(dimension) && dimension.value !== chunk.vector.length) {
        const message =
          `upsert: vector of dimension ${chunk.vector.length}, knowledge base ${chunk.kb_id} has ${dimension.value}`
        return new ChunkIndexError({ reason: "Mismatch", message })
      }
    }
    for (const chunk of chunks) {
      let map = this.kbs.get(chunk.kb_id)
      if (map === undefined) this.kbs.set(chunk.kb_id, map = new Map())
      const old = map.get(chunk.id)
      if (old !== undefined) this.unindex(old)
      map.set(chunk.id, chunk)
      this.textIndexes.delete(chunk.kb_id)
      this.index(chunk)
    }
    return undefined
  }

  get(kbId: KnowledgeBaseId, chunkId: ChunkId): Option.Option<Chunk> {
    return Option.fromNullable(this.kbs.get(kbId)?.get(chunkId))
  }

  idsOfDocument(kbId: KnowledgeBaseId, docId: DocumentId): ReadonlySet<ChunkId> {
    return this.byDocument.get(docKey(kbId, docId)) ?? new Set()
  }

  /** Removes these chunks; returns how many there were. */
  remove(kbId: KnowledgeBaseId, ids: Iterable<ChunkId>): number {
    const chunks = this.kbs.get(kbId)
    if (chunks === undefined) return 0
    let removed = 0
    for (const id of [...ids]) {
      const chunk = chunks.get(id)
      if (chunk === undefined) continue
      chunks.delete(chunk.id)
      this.unindex(chunk)
      removed++
    }
    if (removed > 0) this.textIndexes.delete(kbId)
    if (chunks.size === 0) this.kbs.delete(kbId)
    return removed
  }

  removeKnowledgeBase(kbId: KnowledgeBaseId): void {
    for (const chunk of this.kbs.get(kbId)?.values() ?? []) this.unindex(chunk)
    this.kbs.delete(kbId)
    this.textIndexes.delete(kbId)
  }

  update(kbId: KnowledgeBaseId, chunkId: ChunkId, patch: ChunkPatch): boolean {
    const map = this.kbs.get(kbId)
    const old = map?.get(chunkId)
    if (map === undefined || old === undefined) return false
    const changes = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined))
    map.set(chunkId, new Chunk({ ...old, ...changes })) // same document: the document index stays
    this.textIndexes.delete(kbId)
    return true
  }

  list(query: ListChunksQuery): ChunkPage {
    const needle = query.keywords?.trim().toLowerCase() ?? ""
    const map = this.kbs.get(query.kbId)
    const matching = [...this.idsOfDocument(query.kbId, query.docId)]
      .map((id) => map!.get(id)!)
      .filter((chunk) =>
        (query.available === undefined || chunk.available === query.available) &&
        (needle === "" || chunk.content.toLowerCase().includes(needle))
      )
      .sort(Scoring.byIndexThenId)
    return { chunks: matching.slice(query.offset, query.offset + query.limit), total: matching.length }
  }

  searchText(search: ResolvedTextSearch): Array<ScoredChunk> {
    const indexes = [...new Set(search.kbIds)].flatMap((kbId) => Option.toArray(this.textIndexOf(kbId)))
    const statistics = Scoring.searchFields.map((_, f) => ({
      documents: indexes.reduce((n, index) => n + index.statistics[f]!.documents, 0),
      totalLength: indexes.reduce((n, index) => n + index.statistics[f]!.totalLength, 0)
    }))
    const terms = Scoring.queryTerms(search.tokens, statistics, (field, token) =>
      indexes.reduce((n, index) => n + (index.postings[field]!.get(token)?.length ?? 0), 0))
    const scoreOf = Scoring.countedScorer(terms)
    const results: Array<ScoredChunk> = []
    for (const index of indexes) {
      const seen = new Uint8Array(index.chunks.length)
      for (const term of terms) {
        for (const at of index.postings[term.field]!.get(term.token) ?? []) {
          if (seen[at] === 1) continue
          seen[at] = 1
          const chunk = index.chunks[at]!
          if (!Scoring.matchesFilter(chunk, search.filter)) continue
          const score = scoreOf(index.counted[at]!)
          if (score > 0) results.push({ chunk, score })
        }
      }
    }
    return Scoring.best(results, search.limit)
  }

  private textIndexOf(kbId: KnowledgeBaseId): Option.Option<TextIndex> {
    const known = this.textIndexes.get(kbId)
    if (known !== undefined) return Option.some(known)
    const map = this.kbs.get(kbId)
    if (map === undefined) return Option.none()
    const chunks = [...map.values()]
    const counted = chunks.map((chunk) => this.fieldsOf(chunk))
    const postings = Scoring.searchFields.map(() => new Map<string, Array<number>>())
    counted.forEach((fields, at) =>
      fields.forEach(({ counts }, f) => {
        for (const token of counts.keys()) {
          const list = postings[f]!.get(token)
          if (list === undefined) postings[f]!.set(token, [at])
          else list.push(at)
        }
      })
    )
    const index: TextIndex = { chunks, counted, statistics: Scoring.fieldStatistics(counted), postings }
    this.textIndexes.set(kbId, index)
    return Option.some(index)
  }

  searchVector(search: ResolvedVectorSearch): Array<ScoredChunk> {
    const candidates = this.chunksOf(search.kbIds).filter((chunk) => Scoring.matchesFilter(chunk, search.filter))
    return Scoring.best(Scoring.vectorScores(candidates, search), search.limit)
  }

  private chunksOf(kbIds: ReadonlyArray<KnowledgeBaseId>): Array<Chunk> {
    return [...new Set(kbIds)].flatMap((kbId) => [...(this.kbs.get(kbId)?.values() ?? [])])
  }

  private fieldsOf(chunk: Chunk): ReadonlyArray<Scoring.FieldCounts> {
    let fields = this.counted.get(chunk)
    if (fields === undefined) this.counted.set(chunk, fields = Scoring.fieldCounts(chunk))
    return fields
  }

  private index(chunk: Chunk): void {
    const key = docKey(chunk.kb_id, chunk.doc_id)
    let ids = this.byDocument.get(key)
    if (ids === undefined) this.byDocument.set(key, ids = new Set())
    ids.add(chunk.id)
  }

  private unindex(chunk: Chunk): void {
    const key = docKey(chunk.kb_id, chunk.doc_id)
    const ids = this.byDocument.get(key)
    ids?.delete(chunk.id)
    if (ids !== undefined && ids.size === 0) this.byDocument.delete(key)
  }
}

/** The memory index's primitives, for `ChunkIndex.make`. */
export const makeMemoryPrimitives: Effect.Effect<ChunkIndexPrimitives> = Effect.sync(() => {
  const chunks = new MemoryChunks()
  return {
    dimension: (kbId) => Effect.sync(() => chunks.dimension(kbId)),
    upsert: (list) =>
      Effect.suspend(() => {
        const error = chunks.upsert(list)
        return error === undefined ? Effect.void : Effect.fail(error)
      }),
    get: (kbId, chunkId) => Effect.sync(() => chunks.get(kbId, chunkId)),
    deleteByDocument: (kbId, docId) => Effect.sync(() => chunks.remove(kbId, chunks.idsOfDocument(kbId, docId))),
    deleteChunks: (kbId, chunkIds) => Effect.sync(() => chunks.remove(kbId, new Set(chunkIds))),
    deleteKnowledgeBase: (kbId) => Effect.sync(() => chunks.removeKnowledgeBase(kbId)),
    update: (kbId, chunkId, patch) => Effect.sync(() => chunks.update(kbId, chunkId, patch)),
    list: (query) => Effect.sync(() => chunks.list(query)),
    countByDocument: (kbId, docId) => Effect.sync(() => chunks.idsOfDocument(kbId, docId).size),
    searchText: (search) => Effect.sync(() => chunks.searchText(search)),
    searchVector: (search) => Effect.sync(() => chunks.searchVector(search))
  }
})
