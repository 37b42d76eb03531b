/**
 * A reranker scores passages against a query (a cross-encoder, typically): one score per passage,
 * in the passages' order. Higher is more relevant; the scale is the model's.
 */
import { Context, Effect } from "effect"
import { ModelError } from "../domain/Errors.js"

/** The service; `Reranker` is its tag. */
export interface RerankerService {
  readonly modelId: string
  readonly rerank: (query: string, passages: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<number>, ModelError>
}

export class Reranker extends Context.Tag("@ragkit/core/Reranker")<Reranker, RerankerService>() {}

export interface RerankerOptions {
  readonly modelId: string
  /** The most passages one `rerankBatch` call may receive. */
  readonly maxBatchSize: number
  /** How many batches may run at once (1 by default). */
  readonly concurrency?: number
  /** Scores one batch: one score per passage, in order. */
  readonly rerankBatch: (
    query: string,
    passages: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<number> | Float32Array, ModelError>
}

/**
 * Builds a `Reranker`: passages are split into batches of `maxBatchSize`, and each batch's answer is
 * checked (one finite score per passage; `ModelError` reason `BadResponse` otherwise).
 */
export const make = (options: RerankerOptions): RerankerService => {
  const { modelId } = options
  const maxBatchSize = Math.max(1, Math.floor(options.maxBatchSize))
  const badResponse = (message: string) => new ModelError({ reason: "BadResponse", model: modelId, message })

  const rerankBatch = (query: string, passages: ReadonlyArray<string>) =>
    Effect.flatMap(options.rerankBatch(query, passages), (scores) => {
      if (scores.length !== passages.length) {
        return Effect.fail(badResponse(`${scores.length} scores for ${passages.length} passages`))
      }
      const copy = Array.from(scores)
      return copy.every(Number.isFinite) ? Effect.succeed(copy) : Effect.fail(badResponse("a score is not finite"))
    })

  const rerank = Effect.fn("Reranker.rerank")(function*(query: string, passages: ReadonlyArray<string>) {
    yield* Effect.annotateCurrentSpan({ model: modelId, passages: passages.length })
    if (passages.length === 0) return []
    const batches: Array<ReadonlyArray<string>> = []
    for (let i = 0; i < passages.length; i += maxBatchSize) batches.push(passages.slice(i, i + maxBatchSize))
    const scores = yield* Effect.forEach(batches, (batch) => rerankBatch(query, batch), {
      concurrency: options.concurrency ?? 1
    })
    return scores.flat()
  })

  return Reranker.of({ modelId, rerank })
}
