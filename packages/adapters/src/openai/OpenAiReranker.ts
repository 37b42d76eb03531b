/**
 * A `Reranker` on a rerank API in the Jina / Cohere shape, which vLLM, SiliconFlow, Xinference,
 * LocalAI and TEI-style gateways also serve: `POST {apiBase}/rerank` with
 * `{ model, query, documents: [..], top_n }`, answered by `results: [{ index, relevance_score }]`
 * (best first). The scores are put back in the passages' order; an answer that leaves a passage
 * out, or names one twice, is `ModelError` reason `BadResponse`.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { type ModelError, Reranker } from "@ragkit/core"
import { Effect, Layer, Schema } from "effect"
import * as Http from "../internal/http.js"

export interface OpenAiRerankerOptions extends Http.ConnectionOptions {
  /** The most passages per request; 64 by default. */
  readonly maxBatchSize?: number | undefined
}

const RerankResponse = Schema.Struct({
  results: Schema.Array(
    Schema.Struct({
      index: Schema.Number,
      relevance_score: Schema.optional(Schema.Number),
      score: Schema.optional(Schema.Number)
    })
  )
})

const rerankBatch = (client: HttpClient.HttpClient, endpoint: Http.Endpoint, model: string) =>
(query: string, passages: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<number>, ModelError> =>
  Effect.flatMap(
    Http.postJson(client, endpoint, "/rerank", { model, query, documents: passages, top_n: passages.length }, RerankResponse),
    ({ results }) => {
      const scores = new Array<number | undefined>(passages.length).fill(undefined)
      for (const result of results) {
        const at = result.index
        const score = result.relevance_score ?? result.score
        if (!Number.isInteger(at) || at < 0 || at >= passages.length || scores[at] !== undefined || score === undefined) {
          return Effect.fail(
            Http.badResponse(endpoint, `${endpoint.serverName} returned a rerank result with a bad or repeated index, or no score (index ${at})`)
          )
        }
        scores[at] = score
      }
      const missing = scores.flatMap((score, i) => (score === undefined ? [i] : []))
      return missing.length === 0
        ? Effect.succeed(scores as ReadonlyArray<number>)
        : Effect.fail(Http.badResponse(endpoint, `${endpoint.serverName} returned no rerank score for passages ${missing.join(", ")} of ${passages.length}`))
    }
  )

export const make = Effect.fn("OpenAiReranker.make")(function*(options: OpenAiRerankerOptions) {
  const client = yield* HttpClient.HttpClient
  const endpoint = yield* Http.makeEndpoint(options, "Rerank API")
  return Reranker.make({
    modelId: endpoint.modelRef,
    maxBatchSize: options.maxBatchSize ?? 64,
    rerankBatch: rerankBatch(client, endpoint, options.model)
  })
})

/** The `Reranker` service on one model of a Jina/Cohere-style rerank API. */
export const layer = (options: OpenAiRerankerOptions): Layer.Layer<Reranker.Reranker, ModelError, HttpClient.HttpClient> =>
  Layer.effect(Reranker.Reranker, make(options))
