/**
 * An embedder turns texts into vectors of a fixed dimension. Documents and queries are separate
 * calls because many models embed them differently (an instruction prefix for queries).
 */
import { Context, Effect } from "effect"
import { ModelError } from "../domain/Errors.js"

export type Vector = ReadonlyArray<number>

/** The service; `Embedder` is its tag. */
export interface EmbedderService {
  readonly modelId: string
  readonly dimensions: number
  /** One vector per text, in order. */
  readonly embedDocuments: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Vector>, ModelError>
  readonly embedQuery: (text: string) => Effect.Effect<Vector, ModelError>
}

export class Embedder extends Context.Tag("@ragkit/core/Embedder")<Embedder, EmbedderService>() {}

export interface EmbedderOptions {
  readonly modelId: string
  readonly dimensions: number
  /** The most texts one `embedBatch` call may receive. */
  readonly maxBatchSize: number
  /** How many batches may run at once (1 by default). */
  readonly concurrency?: number
  /** Embeds one batch of documents: one vector per text, in order. */
  readonly embedBatch: (
    texts: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<number> | Float32Array>, ModelError>
  /** Embeds a query; defaults to `embedBatch([text])`. */
  readonly embedQuery?: (text: string) => Effect.Effect<ReadonlyArray<number> | Float32Array, ModelError>
}

/**
 * Builds an `Embedder`: documents are split into batches of `maxBatchSize`, and every returned
 * vector is checked (count, dimension, finite numbers): a model that answers otherwise fails with
 * `ModelError` reason `BadResponse` instead of poisoning the index.
 */
export const make = (options: EmbedderOptions): EmbedderService => {
  const { dimensions, modelId } = options
  const maxBatchSize = Math.max(1, Math.floor(options.maxBatchSize))
  const badResponse = (message: string) => new ModelError({ reason: "BadResponse", model: modelId, message })

  const checkVector = (vector: ReadonlyArray<number> | Float32Array, at: number): Effect.Effect<Vector, ModelError> => {
    if (vector.length !== dimensions) {
      return Effect.fail(badResponse(`vector ${at} has dimension ${vector.length}, expected ${dimensions}`))
    }
    const copy = Array.from(vector)
    return copy.every(Number.isFinite)
      ? Effect.succeed(copy)
      : Effect.fail(badResponse(`vector ${at} has a non-finite component`))
  }

  const embedBatch = (texts: ReadonlyArray<string>, offset: number) =>
    Effect.flatMap(options.embedBatch(texts), (vectors) =>
      vectors.length !== texts.length
        ? Effect.fail(badResponse(`${vectors.length} vectors for ${texts.length} texts`))
        : Effect.forEach(vectors, (vector, i) => checkVector(vector, offset + i)))

  const embedDocuments = Effect.fn("Embedder.embedDocuments")(function*(texts: ReadonlyArray<string>) {
    yield* Effect.annotateCurrentSpan({ model: modelId, texts: texts.length })
    if (texts.length === 0) return []
    const batches: Array<ReadonlyArray<string>> = []
    for (let i = 0; i < texts.length; i += maxBatchSize) batches.push(texts.slice(i, i + maxBatchSize))
    const results = yield* Effect.forEach(batches, (batch, i) => embedBatch(batch, i * maxBatchSize), {
      concurrency: options.concurrency ?? 1
    })
    return results.flat()
  })

  const embedQuery = Effect.fn("Embedder.embedQuery")(function*(text: string) {
    yield* Effect.annotateCurrentSpan({ model: modelId })
    if (options.embedQuery !== undefined) return yield* checkVector(yield* options.embedQuery(text), 0)
    const vectors = yield* embedBatch([text], 0)
    return vectors[0]!
  })

  return Embedder.of({ modelId, dimensions, embedDocuments, embedQuery })
}
