import { describe, expect, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import * as Reranker from "../src/ports/Reranker.js"
import * as OverlapReranker from "../src/testing/OverlapReranker.js"

describe("Reranker", () => {
  it.effect("make batches passages and keeps one score per passage in order", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const reranker = Reranker.make({
        modelId: "len",
        maxBatchSize: 2,
        rerankBatch: (_query, passages) => Effect.as(Ref.update(calls, (n) => n + 1), passages.map((p) => p.length))
      })
      expect(yield* reranker.rerank("q", ["a", "bbb", "cc", "dddd", "e"])).toEqual([1, 3, 2, 4, 1])
      expect(yield* Ref.get(calls)).toBe(3)
      expect(yield* reranker.rerank("q", [])).toEqual([])
      expect(yield* Ref.get(calls)).toBe(3)
    }))

  it.effect("make fails with BadResponse when the model returns the wrong number of scores", () =>
    Effect.gen(function*() {
      const reranker = Reranker.make({
        modelId: "short",
        maxBatchSize: 8,
        rerankBatch: () => Effect.succeed([0.5])
      })
      const error = yield* Effect.flip(reranker.rerank("q", ["a", "b"]))
      expect(error.reason).toBe("BadResponse")
    }))

  it.effect("the overlap reranker scores the share of query words found", () =>
    Effect.gen(function*() {
      const reranker = yield* Reranker.Reranker
      const scores = yield* reranker.rerank("Red apple pie", ["an apple pie recipe", "red cars", "nothing here", "PIE, apple & red!"])
      expect(scores).toEqual([2 / 3, 1 / 3, 0, 1])
      expect(yield* reranker.rerank("   ", ["anything"])).toEqual([0])
    }).pipe(Effect.provide(OverlapReranker.layer())))
})
