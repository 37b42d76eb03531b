/** What the LanceDB tests share: temporary folders, a seeded sample of chunks and text queries, comparisons. */
import { expect } from "@effect/vitest"
import { ChunkIndex, DocumentId, KnowledgeBaseId, randomHex32 } from "@ragkit/core"
import type { Chunk } from "@ragkit/core"
import { makeTestChunk } from "@ragkit/core/testing"
import { Effect, type Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const tempDir = () => mkdtempSync(join(tmpdir(), "ragkit-lancedb-"))
export const newKb = () => KnowledgeBaseId.make(randomHex32())
export const newDoc = () => DocumentId.make(randomHex32())

/** A seeded generator, so that failures can be replayed. */
export const random = (seed: number) => () => {
  seed = (seed * 16807) % 2147483647
  return (seed - 1) / 2147483646
}

export const withIndex = <A, E>(
  indexLayer: Layer.Layer<ChunkIndex.ChunkIndex, unknown>,
  f: (index: ChunkIndex.ChunkIndexService) => Effect.Effect<A, E>
) => Effect.flatMap(ChunkIndex.ChunkIndex, f).pipe(Effect.provide(indexLayer))

export const ids = (results: ReadonlyArray<ChunkIndex.ScoredChunk>) => results.map((r) => r.chunk.id)

export const words = ["river", "bank", "loan", "water", "fish", "money", "rate", "flow", "stone", "bridge", "cash", "tide"]

/**
 * 240 chunks of random phrases over `words` in two knowledge bases and three documents (titles,
 * keywords, questions, unavailable chunks and metadata among them), and text queries over them with
 * weights, unknown tokens and every kind of filter.
 */
export const sample = (seed: number) => {
  const rand = random(seed)
  const pick = <T>(items: ReadonlyArray<T>): T => items[Math.floor(rand() * items.length)]!
  const phrase = (n: number) => Array.from({ length: n }, () => pick(words)).join(" ")
  const kbs = [newKb(), newKb()]
  const docs = [newDoc(), newDoc(), newDoc()]
  const chunks: Array<Chunk> = Array.from({ length: 240 }, (_, i) =>
    makeTestChunk(pick(kbs), pick(docs), {
      content: phrase(1 + Math.floor(rand() * 14)),
      title_tks: rand() < 0.5 ? phrase(2) : "",
      important_keywords: rand() < 0.3 ? [phrase(1), `${pick(words)}-${pick(words)}`] : [],
      questions: rand() < 0.3 ? [`What about the ${phrase(2)}?`] : [],
      available: rand() < 0.85,
      index: i,
      metadata: { author: pick(["Ann", "O'Brien", "Bob"]), year: 2018 + Math.floor(rand() * 6) }
    }))
  const queries: ReadonlyArray<Omit<ChunkIndex.TextSearch, "limit">> = [
    { kbIds: [kbs[0]!], tokens: "river bank" },
    { kbIds: [kbs[1]!], tokens: [{ token: "loan", weight: 2 }, { token: "tide", weight: 0.5 }] },
    { kbIds: kbs, tokens: "water fish money unknownword" },
    { kbIds: kbs, tokens: "stone", filter: { available: false } },
    { kbIds: kbs, tokens: "bridge cash", filter: { docIds: [docs[1]!] } },
    { kbIds: kbs, tokens: "rate flow", filter: { metadata: [{ key: "author", op: "eq", value: "O'Brien" }] } },
    {
      kbIds: kbs,
      tokens: "river money",
      filter: {
        metadataLogic: "or",
        metadata: [{ key: "year", op: "gte", value: 2022 }, { key: "author", op: "eq", value: "Bob" }]
      }
    }
  ]
  return { kbs, docs, chunks, queries }
}

/** `count` chunks of one document with seeded random 16-d vectors ("point i"), and a generator of more vectors. */
export const randomPoints = (seed: number, count: number) => {
  const rand = random(seed)
  const kb = newKb()
  const doc = newDoc()
  const vector = () => Array.from({ length: 16 }, () => Math.fround(rand() * 2 - 1))
  const chunks = Array.from({ length: count }, (_, i) => makeTestChunk(kb, doc, { content: `point ${i}`, index: i, vector: vector() }))
  return { kb, doc, chunks, vector }
}

/** The same chunks in the same order with the same scores, to the bit. */
export const expectSameResults = (
  actual: ReadonlyArray<ChunkIndex.ScoredChunk>,
  expected: ReadonlyArray<ChunkIndex.ScoredChunk>
) => {
  expect(expected.length).toBeGreaterThan(0)
  expect(ids(actual)).toEqual(ids(expected))
  actual.forEach((got, j) => expect(got.score).toBe(expected[j]!.score))
  actual.forEach((got, j) => expect({ ...got.chunk }).toEqual({ ...expected[j]!.chunk }))
}
