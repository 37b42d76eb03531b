/**
 * The conformance suite every `Reranker` implementation runs:
 *
 *   RerankerSuite("overlap", OverlapReranker.layer())
 *
 * The layer is built once for the suite. Tests run on the live clock (`excludeTestServices`), so
 * rerankers that call a server may use timeouts and retry schedules.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import type { Layer } from "effect"
import { Reranker } from "../ports/Reranker.js"

export interface RerankerSuiteOptions {
  /**
   * The model ranks by meaning, so a passage repeating the query must outscore unrelated ones
   * (true by default; turn it off for rerankers that only reorder).
   */
  readonly relevance?: boolean
  /** Milliseconds for building the layer and for each test (120 000 by default). */
  readonly timeout?: number
}

const query = "How do solar panels turn sunlight into electricity?"

/** The passage repeating the query is the second one, so an order mix-up shows. */
const passages: ReadonlyArray<string> = [
  "Bananas are a good source of potassium and fibre.",
  query,
  "The stock market closed higher on Tuesday after a quiet session.",
  "Paris is the capital of France.",
  "检索增强生成把检索和生成结合在一起。"
]

export const RerankerSuite = <E>(name: string, rerankerLayer: Layer.Layer<Reranker, E>, options: RerankerSuiteOptions = {}) =>
  describe(`Reranker conformance: ${name}`, () => {
    const timeout = options.timeout ?? 120_000
    layer(rerankerLayer, { timeout, excludeTestServices: true })((it) => {
      it.effect("gives one finite score per passage", () =>
        Effect.gen(function*() {
          const reranker = yield* Reranker
          expect(reranker.modelId.length).toBeGreaterThan(0)
          const scores = yield* reranker.rerank(query, passages)
          expect(scores).toHaveLength(passages.length)
          expect(scores.every((score) => typeof score === "number" && Number.isFinite(score)), `${scores}`).toBe(true)
          const one = yield* reranker.rerank(query, [passages[0]!])
          expect(one).toHaveLength(1)
          expect(Number.isFinite(one[0])).toBe(true)
        }), timeout)

      it.effect("an empty passage list gives an empty list", () =>
        Effect.gen(function*() {
          const reranker = yield* Reranker
          expect(yield* reranker.rerank(query, [])).toEqual([])
        }), timeout)

      it.effect("passages in reversed order get the reversed scores", () =>
        Effect.gen(function*() {
          const reranker = yield* Reranker
          const scores = yield* reranker.rerank(query, passages)
          const reversed = yield* reranker.rerank(query, [...passages].reverse())
          expect(reversed).toHaveLength(passages.length)
          reversed.forEach((score, i) =>
            expect(Math.abs(score - scores[passages.length - 1 - i]!), `reversed passage ${i}`).toBeLessThanOrEqual(1e-5)
          )
        }), timeout)

      if (options.relevance !== false) {
        it.effect("a passage repeating the query outscores unrelated ones", () =>
          Effect.gen(function*() {
            const reranker = yield* Reranker
            const scores = yield* reranker.rerank(query, passages)
            const [first, repeat, ...rest] = scores
            for (const unrelated of [first!, ...rest]) expect(repeat!, `scores ${scores}`).toBeGreaterThan(unrelated)
          }), timeout)
      }
    })
  })
