/**
 * The `ollama` model plugin: a tenant adds a provider record of this kind (the API base defaults
 * to `http://127.0.0.1:11434`, the key is optional: sent as a Bearer token for a proxy in front
 * of Ollama), and `nomic-embed-text@<provider>` and `llama3.2@<provider>` resolve through
 * Ollama's native API. Ollama has no rerank API: rerank models are not served.
 *
 * Provider settings (all optional): `dimensions` (a number or `{ "<model>": number }`; probed
 * once otherwise), `max_batch_size` (64), `timeout_ms` (60 000), `max_attempts` (3), `max_tokens` (the
 * answer length a chat call asks for when it sets none, as `num_predict`; a number or per model).
 *
 * A deployment declares providers of this kind in its configuration instead (`Models.DeploymentProvider`),
 * and they may be on this machine or the private network (a deployment's provider may reach private
 * addresses; a tenant's may not unless the deployment allows it); a declared chat model's
 * `maxTokens` is its context window (`contextTokens`).
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { ModelProvider } from "@ragkit/core"
import { Effect, Layer, Option, Redacted } from "effect"
import * as Http from "../internal/http.js"
import * as OllamaChatModel from "./OllamaChatModel.js"
import * as OllamaEmbedder from "./OllamaEmbedder.js"

export const kind = "ollama"

/** Defaults for every provider of the kind; a provider's `timeout_ms` and `max_attempts` override them. */
export type OllamaPluginOptions = Http.RetryOptions

/** The plugin over the `HttpClient` in context (taken once, here). */
export const make = (options: OllamaPluginOptions = {}): Effect.Effect<ModelProvider.ModelPlugin, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const probed = new Map<string, number>()
    const servers = new Map<string, OllamaEmbedder.ServerState>()
    const withClient = Effect.provideService(HttpClient.HttpClient, client)

    const embedder = (request: ModelProvider.ModelRequest) =>
      Effect.gen(function*() {
        const { connection, settings } = yield* Http.connectionOf(request, options, OllamaEmbedder.defaultApiBase)
        const configured = yield* settings.perModelPositiveInt("dimensions")
        const maxBatchSize = yield* settings.positiveInt("max_batch_size")
        const server = connection.apiBase.replace(/\/+$/, "")
        const serverState = servers.get(server) ?? { legacy: false }
        servers.set(server, serverState)
        const cacheKey = [server, Redacted.value(request.provider.apiKey), request.model].join("\u0000")
        const dimensions = Option.orElse(configured, () => Option.fromNullable(probed.get(cacheKey)))
        const service = yield* withClient(
          OllamaEmbedder.make({
            ...connection,
            dimensions: Option.getOrUndefined(dimensions),
            maxBatchSize: Option.getOrUndefined(maxBatchSize),
            serverState
          })
        )
        if (Option.isNone(dimensions)) probed.set(cacheKey, service.dimensions)
        return service
      })

    const chatModel = (request: ModelProvider.ModelRequest) =>
      Effect.gen(function*() {
        const { connection, settings } = yield* Http.connectionOf(request, options, OllamaEmbedder.defaultApiBase)
        const maxOutputTokens = yield* settings.perModelPositiveInt("max_tokens")
        return yield* withClient(
          OllamaChatModel.make({ ...connection, contextTokens: request.declared?.maxTokens, maxOutputTokens: Option.getOrUndefined(maxOutputTokens) })
        )
      })

    return { kind, embedder, chatModel }
  })

/** Registers the plugin with `Models`, on the `HttpClient` the host provides. */
export const layer = (options: OllamaPluginOptions = {}): Layer.Layer<never, never, ModelProvider.ModelPlugins | HttpClient.HttpClient> =>
  ModelProvider.pluginFrom(make(options))

/** `layer` on the platform's `fetch`: ready for `Rag.layer(ports, [..])`. */
export const layerFetch = (options: OllamaPluginOptions = {}): Layer.Layer<never, never, ModelProvider.ModelPlugins> =>
  layer(options).pipe(Layer.provide(FetchHttpClient.layer))
