/**
 * The memory index scores only the chunks holding a query token, from per-knowledge-base postings
 * and statistics kept between searches: its results must be those of a scan of every chunk (the
 * scoring functions applied to all of them), to the last bit, across knowledge bases and after
 * every kind of change.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import type { Chunk } from "../src/domain/Chunk.js"
import { DocumentId, KnowledgeBaseId, randomHex32 } from "../src/domain/Ids.js"
import * as ChunkIndex from "../src/ports/ChunkIndex.js"
import * as Scoring from "../src/ports/ChunkIndexScoring.js"
import type { ChunkFilter, WeightedToken } from "../src/ports/ChunkIndex.js"
import { makeTestChunk } from "../src/testing/ChunkIndexSuite.js"

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const rand = mulberry32(12)
const pick = <A>(xs: ReadonlyArray<A>) => xs[Math.floor(rand() * xs.length)]!
/** Skewed word choice, so some words are common and some rare. */
const word = () => `t${Math.floor(rand() ** 2 * 60)}`
const words = (n: number) => Array.from({ length: n }, word).join(" ")

/** The scan: every chunk of the knowledge bases scored, as the index did before it kept postings. */
const scan = (all: ReadonlyArray<Chunk>, kbIds: ReadonlyArray<string>, given: ReadonlyArray<WeightedToken>, filter: ChunkFilter, limit: number) => {
  const tokens = ChunkIndex.resolveTokens(given)
  const corpus = all.filter((c) => kbIds.includes(c.kb_id))
  const counted = corpus.map(Scoring.fieldCounts)
  const terms = Scoring.queryTerms(tokens, Scoring.fieldStatistics(counted), Scoring.documentFrequencies(counted, tokens))
  const scoreOf = Scoring.countedScorer(terms)
  const resolved = { available: true, ...filter }
  const results = corpus.flatMap((chunk, i) => {
    if (!Scoring.matchesFilter(chunk, resolved)) return []
    const score = scoreOf(counted[i]!)
    return score > 0 ? [{ chunk, score }] : []
  })
  return Scoring.best(results, limit).map((r) => [r.chunk.id, r.score] as const)
}

describe("memory chunk index", () => {
  layer(ChunkIndex.layerMemory)((it) => {
    it.effect("text search gives a scan's results, across knowledge bases and after changes", () =>
      Effect.gen(function* () {
        const index = yield* ChunkIndex.ChunkIndex
        const kbs = [KnowledgeBaseId.make(randomHex32()), KnowledgeBaseId.make(randomHex32())]
        const docs = Array.from({ length: 12 }, () => DocumentId.make(randomHex32()))
        const kbOf = (doc: number) => kbs[doc % 2]!
        const newChunk = () => {
          const doc = Math.floor(rand() * docs.length)
          const content = words(5 + Math.floor(rand() * 30))
          return makeTestChunk(kbOf(doc), docs[doc]!, {
            content,
            title_tks: rand() < 0.5 ? words(3) : "",
            important_keywords: rand() < 0.3 ? [word(), word()] : [],
            questions: rand() < 0.2 ? [`what about ${word()}`] : [],
            available: rand() < 0.9,
            metadata: { lang: pick(["en", "fr"]) }
          })
        }
        let all: Array<Chunk> = Array.from({ length: 300 }, newChunk)
        yield* index.upsert(all)

        let phase = "initial"
        const check = Effect.gen(function* () {
          // The words every phase changes, then random queries.
          const common = [{ token: "t0", weight: 1 }, { token: "t2", weight: 1 }]
          const both = yield* index.searchText({ kbIds: kbs, tokens: common, limit: 1000 })
          expect(both.map((r) => [r.chunk.id, r.score] as const), phase).toEqual(scan(all, kbs, common, {}, 1000))
          for (let q = 0; q < 25; q++) {
            const tokens = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => ({ token: word(), weight: pick([1, 0.3, 2]) }))
            const kbIds = pick([[kbs[0]!], [kbs[1]!], kbs])
            const filter: ChunkFilter = pick([
              {},
              { docIds: docs.slice(0, 5) },
              { available: false },
              { metadata: [{ key: "lang", op: "eq", value: "fr" }] }
            ])
            const limit = pick([5, 50, 1000])
            const found = yield* index.searchText({ kbIds, tokens, filter, limit })
            expect(found.map((r) => [r.chunk.id, r.score] as const), phase).toEqual(scan(all, kbIds, tokens, filter, limit))
          }
        })
        yield* check

        phase = "added"
        const added = Array.from({ length: 40 }, newChunk)
        const replaced = all.slice(0, 10).map((c) => makeTestChunk(c.kb_id, c.doc_id, { id: c.id, content: words(12) }))
        yield* index.upsert([...added, ...replaced])
        all = [...replaced, ...all.slice(10), ...added]
        yield* check

        phase = "deleted"
        const gone = all.filter((c) => c.doc_id === docs[3])
        yield* index.deleteByDocument(kbOf(3), docs[3]!)
        const dropped = all.filter((c) => c.kb_id === kbs[0]).slice(0, 7)
        yield* index.deleteChunks(kbs[0]!, dropped.map((c) => c.id))
        all = all.filter((c) => !gone.includes(c) && !dropped.includes(c))
        yield* check
        phase = "updated"
        const target = all.find((c) => c.kb_id === kbs[1] && c.available)!
        yield* index.update(kbs[1]!, target.id, { content: "t0 t0 t1", content_ltks: "t0 t0 t1", important_keywords: ["t2"] })
        all = all.map((c) => (c.id === target.id ? makeTestChunk(c.kb_id, c.doc_id, { ...c, content: "t0 t0 t1", content_ltks: "t0 t0 t1", important_keywords: ["t2"] }) : c))
        yield* check

        phase = "kb deleted"
        yield* index.deleteKnowledgeBase(kbs[0]!)
        all = all.filter((c) => c.kb_id !== kbs[0])
        yield* check
      }))
  })
})
