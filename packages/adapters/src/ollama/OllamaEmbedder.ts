/**
 * An `Embedder` on Ollama's native API: `POST {apiBase}/api/embed` with `{ model, input: [..] }`,
 * answered by `{ embeddings: [[..]] }`. Servers older than Ollama 0.3.4 have no `/api/embed`
 * (404): the embedder then falls back to the legacy `POST /api/embeddings` with
 * `{ model, prompt }`, one request per text, and stays on it. A model that is not pulled answers
 * 404 on both: `ModelError` reason `NotConfigured`.
 *
 * The dimension is probed with one request when not given (see `OpenAiEmbedder`), which makes a wrong URL or a model that is not pulled fail when the embedder is created.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { Embedder, type ModelError } from "@ragkit/core"
import { Effect, Layer, Schema } from "effect"
import * as Http from "../internal/http.js"

/** The text embedded once to learn the dimension. */
export const probeText = Http.probeText

/** Ollama's address when a provider has none. */
export const defaultApiBase = "http://127.0.0.1:11434"

/** What an embedder learnt about its server, shared between embedders of the same server. */
export interface ServerState {
  /** The server has no `/api/embed`: use `/api/embeddings`. */
  legacy: boolean
}

export interface OllamaEmbedderOptions extends Omit<Http.ConnectionOptions, "apiBase"> {
  /** `http://127.0.0.1:11434` by default. */
  readonly apiBase?: string | undefined
  /** The vector size; probed with one request when not given. */
  readonly dimensions?: number | undefined
  /** The most texts per request; 64 by default. */
  readonly maxBatchSize?: number | undefined
  /** Shared with other embedders of the server (the plugin does), so the fallback is found once. */
  readonly serverState?: ServerState | undefined
}

const EmbedResponse = Schema.Struct({ embeddings: Schema.Array(Schema.Array(Schema.Number)) })
const LegacyResponse = Schema.Struct({ embedding: Schema.Array(Schema.Number) })

export const make = Effect.fn("OllamaEmbedder.make")(function*(options: OllamaEmbedderOptions) {
  const client = yield* HttpClient.HttpClient
  const endpoint = yield* Http.makeEndpoint({ ...options, apiBase: options.apiBase ?? defaultApiBase }, "Ollama")
  const state: ServerState = options.serverState ?? { legacy: false }

  const legacy = (texts: ReadonlyArray<string>) =>
    Effect.forEach(texts, (prompt) =>
      Effect.map(
        Http.postJson(client, endpoint, "/api/embeddings", { model: options.model, prompt }, LegacyResponse),
        ({ embedding }) => embedding
      ))

  const embedBatch = (texts: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, ModelError> =>
    state.legacy
      ? legacy(texts)
      : Http.postJson(client, endpoint, "/api/embed", { model: options.model, input: texts }, EmbedResponse, {
        onNotFound: () =>
          Effect.map(legacy(texts), (vectors) => {
            state.legacy = true
            return { embeddings: vectors }
          })
      }).pipe(Effect.map(({ embeddings }) => embeddings))

  const dimensions = options.dimensions ?? (yield* Http.probeDimensions(embedBatch, endpoint))
  return Embedder.make({
    modelId: endpoint.modelRef,
    dimensions,
    maxBatchSize: options.maxBatchSize ?? 64,
    embedBatch
  })
})

/** The `Embedder` service on one model of an Ollama server. */
export const layer = (options: OllamaEmbedderOptions): Layer.Layer<Embedder.Embedder, ModelError, HttpClient.HttpClient> =>
  Layer.effect(Embedder.Embedder, make(options))
