/**
 * A `ChatModel` on an OpenAI-compatible chat completions API: `POST {apiBase}/chat/completions`
 * with `stream: true`, read as server-sent events (`data: {...}` until `data: [DONE]`). Text comes
 * from `choices[0].delta.content`; the usage from the chunk that carries `usage`, which servers
 * send last when asked with `stream_options: { include_usage: true }` (on by default; turn it off
 * with `includeUsage: false` for servers that refuse the field). `generate` collects the stream.
 *
 * A stream that ends before `[DONE]` (and before any `finish_reason`) is `ModelError` reason
 * `BadResponse`; a connection cut mid-way is `Unavailable`; an `error` event is `Unavailable`
 * (the server's message is not quoted). Requests are retried only before the first byte is streamed.
 *
 * `max_tokens` is the call's, or else the model's `maxOutputTokens` when set; `contextTokens` is
 * the context window the service declares (`ChatModel.DefaultContextTokens` when not set).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { ChatModel, type ModelError } from "@ragkit/core"
import { Effect, Layer, Schema, Stream } from "effect"
import * as Http from "../internal/http.js"

export interface OpenAiChatModelOptions extends Http.ConnectionOptions, Http.ChatModelLimits {
  /** Ask for the usage in the last chunk (`stream_options.include_usage`); true by default. */
  readonly includeUsage?: boolean | undefined
}

const Chunk = Schema.Struct({
  choices: Schema.optional(
    Schema.NullOr(
      Schema.Array(
        Schema.Struct({
          delta: Schema.optional(Schema.NullOr(Schema.Struct({ content: Schema.optional(Schema.NullOr(Schema.String)) }))),
          finish_reason: Schema.optional(Schema.NullOr(Schema.String))
        })
      )
    )
  ),
  usage: Schema.optional(
    Schema.NullOr(Schema.Struct({ prompt_tokens: Schema.NonNegativeInt, completion_tokens: Schema.NonNegativeInt }))
  ),
  error: Schema.optional(Schema.Unknown)
})

/** The request body: the conversation and the settings that are set. */
export const requestBody = (
  model: string,
  messages: ReadonlyArray<ChatModel.ChatMessage>,
  settings: ChatModel.ChatSettings,
  includeUsage: boolean,
  maxOutputTokens?: number
) => ({
  model,
  messages: messages.map(({ content, role }) => ({ role, content })),
  stream: true,
  ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
  ...(settings.temperature === undefined ? {} : { temperature: settings.temperature }),
  ...(settings.top_p === undefined ? {} : { top_p: settings.top_p }),
  ...Http.maxTokensOf(settings, maxOutputTokens, (max_tokens) => ({ max_tokens })),
  ...(settings.presence_penalty === undefined ? {} : { presence_penalty: settings.presence_penalty }),
  ...(settings.frequency_penalty === undefined ? {} : { frequency_penalty: settings.frequency_penalty }),
  ...(settings.stop === undefined || settings.stop.length === 0 ? {} : { stop: settings.stop })
})

const chatStream = (
  client: HttpClient.HttpClient,
  endpoint: Http.Endpoint,
  model: string,
  includeUsage: boolean,
  maxOutputTokens: number | undefined
) =>
(messages: ReadonlyArray<ChatModel.ChatMessage>, settings: ChatModel.ChatSettings): Stream.Stream<ChatModel.ChatDelta, ModelError> =>
  Stream.suspend(() => {
    const path = "/chat/completions"
    const where = Http.where(endpoint, path)
    let done = false
    let finished = false
    const events = Http.sseData(
      Http.postLines(client, endpoint, path, requestBody(model, messages, settings, includeUsage, maxOutputTokens), "text/event-stream")
    )
    const toDeltas = (data: string): Effect.Effect<ReadonlyArray<ChatModel.ChatDelta>, ModelError> =>
      Http.parseJsonLine(endpoint, where, data).pipe(
        Effect.flatMap((json) => Http.decodeValue(endpoint, where, json, Chunk)),
        Effect.flatMap((chunk) => {
          if (chunk.error !== undefined && chunk.error !== null) {
            return Effect.fail(Http.unavailable(endpoint, `${endpoint.serverName} at ${where} reported an error mid-stream`))
          }
          const deltas: Array<ChatModel.ChatDelta> = []
          const choice = chunk.choices?.[0]
          const text = choice?.delta?.content
          if (typeof text === "string" && text.length > 0) deltas.push(ChatModel.ChatDelta.Text({ text }))
          if (typeof choice?.finish_reason === "string") finished = true
          if (chunk.usage !== undefined && chunk.usage !== null) {
            deltas.push(
              ChatModel.ChatDelta.Usage({ promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens })
            )
          }
          return Effect.succeed(deltas)
        })
      )
    return events.pipe(
      Stream.takeWhile((data) => {
        if (data.trim() === "[DONE]") done = true
        return !done
      }),
      Stream.mapEffect(toDeltas),
      Stream.flattenIterables,
      Stream.concat(
        Stream.suspend(() =>
          done || finished
            ? Stream.empty
            : Stream.fail(Http.badResponse(endpoint, `${endpoint.serverName} at ${where} ended the stream before data: [DONE]`))
        )
      )
    )
  })

export const make = Effect.fn("OpenAiChatModel.make")(function*(options: OpenAiChatModelOptions) {
  const client = yield* HttpClient.HttpClient
  const endpoint = yield* Http.makeEndpoint(options, "OpenAI-compatible API")
  return ChatModel.make({
    modelId: endpoint.modelRef,
    contextTokens: options.contextTokens,
    stream: chatStream(client, endpoint, options.model, options.includeUsage ?? true, options.maxOutputTokens)
  })
})

/** The `ChatModel` service on one model of an OpenAI-compatible server. */
export const layer = (options: OpenAiChatModelOptions): Layer.Layer<ChatModel.ChatModel, ModelError, HttpClient.HttpClient> =>
  Layer.effect(ChatModel.ChatModel, make(options))
