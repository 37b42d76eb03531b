/**
 * A deterministic reranker for tests: the score of a passage is the share of the query's distinct
 * words (lower-cased letter/digit runs) that the passage contains, in [0, 1].
 */
import { Effect, Layer } from "effect"
import { make as makeReranker, Reranker } from "../ports/Reranker.js"
import type { RerankerService } from "../ports/Reranker.js"

const words = (text: string): ReadonlySet<string> =>
  new Set(text.toLowerCase().split(/[^\p{L}\p{M}\p{N}]+/u).filter((w) => w.length > 0))

/** The overlap score of one passage; 0 for a query without words. */
export const score = (query: string, passage: string): number => {
  const q = words(query)
  if (q.size === 0) return 0
  const p = words(passage)
  let shared = 0
  for (const w of q) if (p.has(w)) shared++
  return shared / q.size
}

export interface OverlapRerankerOptions {
  /** `overlap` by default. */
  readonly modelId?: string
}

export const make = (options: OverlapRerankerOptions = {}): RerankerService =>
  makeReranker({
    modelId: options.modelId ?? "overlap",
    maxBatchSize: 64,
    rerankBatch: (query, passages) => Effect.sync(() => passages.map((passage) => score(query, passage)))
  })

export const layer = (options: OverlapRerankerOptions = {}): Layer.Layer<Reranker> =>
  Layer.sync(Reranker, () => make(options))
