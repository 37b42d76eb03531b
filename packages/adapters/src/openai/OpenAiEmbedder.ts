/**
 * An `Embedder` on an OpenAI-compatible embeddings API (OpenAI, vLLM, LM Studio, SiliconFlow,
 * Jina, Ollama's `/v1`, ...): `POST {apiBase}/embeddings` with
 * `{ model, input: [texts], encoding_format: "float" }`, vectors from `data[].embedding` in the
 * order of `data[].index`.
 *
 * The dimension: when `dimensions` is not given, `make` embeds one short probe text and takes the
 * length of its vector, so a wrong URL, key or model fails when the embedder is created (at
 * start-up, or when `Models` resolves it), not in the middle of an ingestion.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { Embedder, type ModelError } from "@ragkit/core"
import { Effect, Layer, Schema } from "effect"
import * as Http from "../internal/http.js"

export interface OpenAiEmbedderOptions extends Http.ConnectionOptions {
  /** The vector size; probed with one request when not given. */
  readonly dimensions?: number | undefined
  /**
   * Also send `dimensions` in each request, asking a model that can shorten its vectors
   * (OpenAI `text-embedding-3-*`, Matryoshka models) for that size. False by default: most
   * servers reject the field for other models.
   */
  readonly sendDimensions?: boolean | undefined
  /** The most texts per request; 64 by default. */
  readonly maxBatchSize?: number | undefined
}

/** The text embedded once to learn the dimension. */
export const probeText = Http.probeText

const EmbeddingsResponse = Schema.Struct({
  data: Schema.Array(
    Schema.Struct({
      index: Schema.optional(Schema.Number),
      embedding: Schema.Array(Schema.Number)
    })
  )
})

/** Sends one batch; the vectors in input order. */
export const embedBatch = (
  client: HttpClient.HttpClient,
  endpoint: Http.Endpoint,
  options: { readonly model: string; readonly dimensions?: number | undefined }
) =>
(texts: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, ModelError> =>
  Effect.flatMap(
    Http.postJson(client, endpoint, "/embeddings", {
      model: options.model,
      input: texts,
      encoding_format: "float",
      ...(options.dimensions === undefined ? {} : { dimensions: options.dimensions })
    }, EmbeddingsResponse),
    ({ data }) => {
      if (data.length !== texts.length) {
        return Effect.fail(Http.badResponse(endpoint, `${endpoint.serverName} returned ${data.length} embeddings for ${texts.length} texts`))
      }
      if (data.every((item) => item.index === undefined)) return Effect.succeed(data.map((item) => item.embedding))
      const vectors = new Array<ReadonlyArray<number> | undefined>(texts.length).fill(undefined)
      for (const item of data) {
        const at = item.index
        if (at === undefined || !Number.isInteger(at) || at < 0 || at >= texts.length || vectors[at] !== undefined) {
          return Effect.fail(Http.badResponse(endpoint, `${endpoint.serverName} returned embeddings with bad indexes (${data.map((d) => d.index).join(", ")})`))
        }
        vectors[at] = item.embedding
      }
      return Effect.succeed(vectors as ReadonlyArray<ReadonlyArray<number>>)
    }
  )

export const make = Effect.fn("OpenAiEmbedder.make")(function*(options: OpenAiEmbedderOptions) {
  const client = yield* HttpClient.HttpClient
  const endpoint = yield* Http.makeEndpoint(options, "OpenAI-compatible API")
  const send = embedBatch(client, endpoint, {
    model: options.model,
    dimensions: options.sendDimensions === true ? options.dimensions : undefined
  })
  const dimensions = options.dimensions ?? (yield* Http.probeDimensions(send, endpoint))
  return Embedder.make({
    modelId: endpoint.modelRef,
    dimensions,
    maxBatchSize: options.maxBatchSize ?? 64,
    embedBatch: send
  })
})

/** The `Embedder` service on one model of an OpenAI-compatible server. */
export const layer = (options: OpenAiEmbedderOptions): Layer.Layer<Embedder.Embedder, ModelError, HttpClient.HttpClient> =>
  Layer.effect(Embedder.Embedder, make(options))
