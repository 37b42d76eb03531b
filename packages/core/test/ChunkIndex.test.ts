import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { DocumentId, KnowledgeBaseId, randomHex32 } from "../src/domain/Ids.js"
import * as ChunkIndex from "../src/ports/ChunkIndex.js"
import * as ChunkIndexScoring from "../src/ports/ChunkIndexScoring.js"
import { ChunkIndexSuite, makeTestChunk } from "../src/testing/ChunkIndexSuite.js"

ChunkIndexSuite("memory", ChunkIndex.layerMemory)

describe("ChunkIndex memory scoring", () => {
  it.effect("BM25 scores equal a hand computation, keyword field weighted", () =>
    Effect.gen(function*() {
      const index = yield* ChunkIndex.makeMemory
      const kb = KnowledgeBaseId.make(randomHex32())
      const doc = DocumentId.make(randomHex32())
      const ab = makeTestChunk(kb, doc, { content: "x", content_ltks: "a b" })
      const acc = makeTestChunk(kb, doc, { content: "x", content_ltks: "a c c" })
      const d = makeTestChunk(kb, doc, { content: "x", content_ltks: "d", important_keywords: ["C"] })
      yield* index.upsert([ab, acc, d])
      const results = yield* index.searchText({ kbIds: [kb], tokens: "c", limit: 10 })
      // content field: N = 3, df(c) = 1, avgdl = (2 + 3 + 1) / 3 = 2; c2 has tf 2, dl 3.
      const idfContent = Math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
      const content = (idfContent * 2 * 2.2) / (2 + 1.2 * (1 - 0.75 + 0.75 * 3 / 2))
      // keyword field: only chunk d has keywords: N = 1, df = 1, avgdl = 1, tf 1, dl 1; weight 5.
      const idfKeyword = Math.log(1 + (1 - 1 + 0.5) / (1 + 0.5))
      const keyword = 5 * (idfKeyword * 1 * 2.2) / (1 + 1.2 * (1 - 0.75 + 0.75 * 1 / 1))
      const expected = [{ id: acc.id, score: content }, { id: d.id, score: keyword }].sort((x, y) => y.score - x.score)
      expect(results.map((r) => r.chunk.id)).toEqual(expected.map((e) => e.id))
      results.forEach((r, i) => expect(r.score).toBeCloseTo(expected[i]!.score, 12))
    }))

  it("a query's terms: fields in order, then tokens in order, only where some chunk holds the token; summed in that order", () => {
    const statistics = [
      { documents: 4, totalLength: 20 },
      { documents: 2, totalLength: 6 },
      { documents: 0, totalLength: 0 },
      { documents: 1, totalLength: 3 }
    ]
    const frequencies: Record<string, number> = { "0 a": 3, "0 b": 1, "1 a": 2, "3 b": 1 }
    const terms = ChunkIndexScoring.queryTerms(
      [{ token: "a", weight: 2 }, { token: "b", weight: 0.5 }],
      statistics,
      (field, token) => frequencies[`${field} ${token}`] ?? 0
    )
    // Weights: the token's times the field's (content 1, title 2, keywords 5, questions 3).
    expect(terms.map((t) => [t.field, t.token, t.weight, t.averageLength])).toEqual([
      [0, "a", 2, 5],
      [0, "b", 0.5, 5],
      [1, "a", 4, 3],
      [3, "b", 1.5, 3]
    ])
    expect(terms.map((t) => t.idf)).toEqual([
      ChunkIndexScoring.bm25Idf(4, 3),
      ChunkIndexScoring.bm25Idf(4, 1),
      ChunkIndexScoring.bm25Idf(2, 2),
      ChunkIndexScoring.bm25Idf(1, 1)
    ])
    // A candidate holding terms 0, 2 and 3, its content 5 tokens long, its title 3 and questions 3.
    const term = (i: number, tf: number, length: number) =>
      terms[i]!.weight * ChunkIndexScoring.bm25Term(terms[i]!.idf, tf, length, terms[i]!.averageLength)
    expect(ChunkIndexScoring.score(terms, [9, 1, 0, 2, 1], 1, [0, 5, 3, 0, 3], 1))
      .toBe(term(0, 1, 5) + term(2, 2, 3) + term(3, 1, 3))
  })

  it("metadata conditions follow the documented semantics", () => {
    const m = { n: 5, s: "Hello World", list: ["x", "Y"], blank: "", nil: null }
    const holds = (op: ChunkIndex.MetadataOperator, key: string, value?: unknown) =>
      ChunkIndex.matchesCondition(m, { key, op, value })
    expect(holds("eq", "n", "5")).toBe(true)
    expect(holds("gt", "n", 4.5)).toBe(true)
    expect(holds("gt", "n", 10)).toBe(false)
    expect(holds("gte", "n", 5)).toBe(true)
    expect(holds("lt", "s", "Zebra")).toBe(true)
    expect(holds("eq", "s", "hello world")).toBe(false)
    expect(holds("contains", "s", "WORLD")).toBe(true)
    expect(holds("starts_with", "s", "hell")).toBe(true)
    expect(holds("ends_with", "s", "xyz")).toBe(false)
    expect(holds("eq", "list", "Y")).toBe(true)
    expect(holds("ne", "list", "Y")).toBe(false)
    expect(holds("in", "list", ["z", "x"])).toBe(true)
    expect(holds("not_in", "list", ["z"])).toBe(true)
    expect(holds("not_contains", "list", "y")).toBe(false)
    expect(holds("empty", "blank")).toBe(true)
    expect(holds("empty", "nil")).toBe(true)
    expect(holds("empty", "missing")).toBe(true)
    expect(holds("not_empty", "n")).toBe(true)
    expect(holds("eq", "missing", "x")).toBe(false)
    expect(holds("ne", "missing", "x")).toBe(true)
  })

  it("query tokens are trimmed, merged and stripped of non-positive weights", () => {
    expect(ChunkIndex.resolveTokens("  a b  a ")).toEqual([{ token: "a", weight: 2 }, { token: "b", weight: 1 }])
    expect(
      ChunkIndex.resolveTokens([{ token: "x", weight: 0 }, { token: "y", weight: 0.5 }, { token: " ", weight: 1 }])
    ).toEqual([{ token: "y", weight: 0.5 }])
  })
})

describe("group-commit helpers for index implementations", () => {
  it("byKnowledgeBase keeps each knowledge base's chunks in order; dimensionRuns cuts where dimensions disagree", () => {
    const [a, b] = [KnowledgeBaseId.make(randomHex32()), KnowledgeBaseId.make(randomHex32())]
    const doc = DocumentId.make(randomHex32())
    const chunks = [makeTestChunk(a, doc, { content: "1" }), makeTestChunk(b, doc, { content: "2" }), makeTestChunk(a, doc, { content: "3" })]
    expect([...ChunkIndex.byKnowledgeBase(chunks)].map(([kb, list]) => [kb, list.map((c) => c.content)])).toEqual([[a, ["1", "3"]], [b, ["2"]]])
    expect(ChunkIndex.dimensionOf([makeTestChunk(a, doc, { content: "x" }), makeTestChunk(a, doc, { content: "y", vector: [1, 2, 3] })])).toBe(3)
    expect(ChunkIndex.dimensionOf([makeTestChunk(a, doc, { content: "x" })])).toBeUndefined()
    const runs = ChunkIndex.dimensionRuns([undefined, 8, undefined, 8, 16, 8, undefined].map((dimension, i) => ({ dimension, i })))
    expect(runs.map((run) => run.map((e) => e.i))).toEqual([[0, 1, 2, 3], [4], [5, 6]])
  })
})
