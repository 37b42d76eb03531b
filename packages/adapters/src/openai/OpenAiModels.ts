/**
 * The `openai-compatible` model plugin. It serves no provider of its own: a tenant adds a
 * provider record of this kind with the server's API base and key,
 *
 *   Models.addProvider(caller, { name: "openai", kind: "openai-compatible",
 *                                api_base: "https://api.openai.com/v1", api_key: "sk-..." })
 *
 * and then `text-embedding-3-small@openai`, `gpt-4o-mini@openai` and `<rerank model>@openai`
 * resolve through it. Provider settings (all optional):
 *
 * - `dimensions`: the embedding size, a number or `{ "<model>": number }`; without it the
 *   embedder is probed with one request when first resolved (the answer is remembered per API
 *   base, key and model, so later resolutions cost nothing);
 * - `send_dimensions`: also send `dimensions` with each embeddings request (Matryoshka models);
 * - `max_batch_size`: texts per embeddings request and passages per rerank request (64);
 * - `include_usage`: ask chat streams for usage (`stream_options.include_usage`, true);
 * - `max_tokens`: the answer length a chat call asks for when the call sets none, a number or
 *   `{ "<model>": number }` (none by default: the server's own);
 * - `timeout_ms`: per-attempt request timeout (60 000); `max_attempts`: sends per request (3).
 *
 * A deployment declares providers of this kind in its configuration instead (`Models.DeploymentProvider`);
 * a declared chat model's `maxTokens` is its context window (`contextTokens`).
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { ModelProvider } from "@ragkit/core"
import { Effect, Layer, Option, Redacted } from "effect"
import * as Http from "../internal/http.js"
import * as OpenAiChatModel from "./OpenAiChatModel.js"
import * as OpenAiEmbedder from "./OpenAiEmbedder.js"
import * as OpenAiReranker from "./OpenAiReranker.js"

export const kind = "openai-compatible"

/** Defaults for every provider of the kind; a provider's `timeout_ms` and `max_attempts` override them. */
export type OpenAiPluginOptions = Http.RetryOptions

/**
 * The plugin over the `HttpClient` in context (taken once, here). Embedding dimensions learnt by
 * a probe are remembered by this plugin instance.
 */
export const make = (options: OpenAiPluginOptions = {}): Effect.Effect<ModelProvider.ModelPlugin, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const probed = new Map<string, number>()
    const withClient = Effect.provideService(HttpClient.HttpClient, client)

    const embedder = (request: ModelProvider.ModelRequest) =>
      Effect.gen(function*() {
        const { connection, settings } = yield* Http.connectionOf(request, options)
        const configured = yield* settings.perModelPositiveInt("dimensions")
        const sendDimensions = yield* settings.boolean("send_dimensions")
        const maxBatchSize = yield* settings.positiveInt("max_batch_size")
        const cacheKey = [connection.apiBase, Redacted.value(request.provider.apiKey), request.model].join("\u0000")
        const dimensions = Option.orElse(configured, () => Option.fromNullable(probed.get(cacheKey)))
        const service = yield* withClient(
          OpenAiEmbedder.make({
            ...connection,
            dimensions: Option.getOrUndefined(dimensions),
            sendDimensions: Option.getOrElse(sendDimensions, () => false) && Option.isSome(configured),
            maxBatchSize: Option.getOrUndefined(maxBatchSize)
          })
        )
        if (Option.isNone(dimensions)) probed.set(cacheKey, service.dimensions)
        return service
      })

    const reranker = (request: ModelProvider.ModelRequest) =>
      Effect.gen(function*() {
        const { connection, settings } = yield* Http.connectionOf(request, options)
        const maxBatchSize = yield* settings.positiveInt("max_batch_size")
        return yield* withClient(OpenAiReranker.make({ ...connection, maxBatchSize: Option.getOrUndefined(maxBatchSize) }))
      })

    const chatModel = (request: ModelProvider.ModelRequest) =>
      Effect.gen(function*() {
        const { connection, settings } = yield* Http.connectionOf(request, options)
        const includeUsage = yield* settings.boolean("include_usage")
        const maxOutputTokens = yield* settings.perModelPositiveInt("max_tokens")
        return yield* withClient(
          OpenAiChatModel.make({
            ...connection,
            includeUsage: Option.getOrUndefined(includeUsage),
            contextTokens: request.declared?.maxTokens,
            maxOutputTokens: Option.getOrUndefined(maxOutputTokens)
          })
        )
      })

    return { kind, embedder, reranker, chatModel }
  })

/** Registers the plugin with `Models`, on the `HttpClient` the host provides. */
export const layer = (options: OpenAiPluginOptions = {}): Layer.Layer<never, never, ModelProvider.ModelPlugins | HttpClient.HttpClient> =>
  ModelProvider.pluginFrom(make(options))

/** `layer` on the platform's `fetch` (Node 20+, Bun, Deno, browsers): ready for `Rag.layer(ports, [..])`. */
export const layerFetch = (options: OpenAiPluginOptions = {}): Layer.Layer<never, never, ModelProvider.ModelPlugins> =>
  layer(options).pipe(Layer.provide(FetchHttpClient.layer))
