/**
 * A `ChatModel` on Ollama's native chat API: `POST {apiBase}/api/chat` with `stream: true`,
 * answered with NDJSON lines: `message.content` pieces, then a line with `done: true` whose
 * `prompt_eval_count` and `eval_count` are the usage. Settings map to Ollama's `options`
 * (`max_tokens` is `num_predict`: the call's, or else the model's `maxOutputTokens` when set).
 *
 * A stream that ends before `done: true` is `ModelError` reason `BadResponse`; a connection cut
 * mid-way is `Unavailable`; an `{ "error": ... }` line is `Unavailable` (Ollama's message is not quoted).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { ChatModel, type ModelError } from "@ragkit/core"
import { Effect, Layer, Schema, Stream } from "effect"
import * as Http from "../internal/http.js"
import { defaultApiBase } from "./OllamaEmbedder.js"

export interface OllamaChatModelOptions extends Omit<Http.ConnectionOptions, "apiBase">, Http.ChatModelLimits {
  /** `http://127.0.0.1:11434` by default. */
  readonly apiBase?: string | undefined
}

const Line = Schema.Struct({
  message: Schema.optional(Schema.NullOr(Schema.Struct({ content: Schema.optional(Schema.NullOr(Schema.String)) }))),
  done: Schema.optional(Schema.Boolean),
  prompt_eval_count: Schema.optional(Schema.NonNegativeInt),
  eval_count: Schema.optional(Schema.NonNegativeInt),
  error: Schema.optional(Schema.Unknown)
})

/** The request body: the conversation, and the settings that are set as Ollama `options`. */
export const requestBody = (
  model: string,
  messages: ReadonlyArray<ChatModel.ChatMessage>,
  settings: ChatModel.ChatSettings,
  maxOutputTokens?: number
) => {
  const options = {
    ...(settings.temperature === undefined ? {} : { temperature: settings.temperature }),
    ...(settings.top_p === undefined ? {} : { top_p: settings.top_p }),
    ...Http.maxTokensOf(settings, maxOutputTokens, (num_predict) => ({ num_predict })),
    ...(settings.presence_penalty === undefined ? {} : { presence_penalty: settings.presence_penalty }),
    ...(settings.frequency_penalty === undefined ? {} : { frequency_penalty: settings.frequency_penalty }),
    ...(settings.stop === undefined || settings.stop.length === 0 ? {} : { stop: settings.stop })
  }
  return {
    model,
    messages: messages.map(({ content, role }) => ({ role, content })),
    stream: true,
    ...(Object.keys(options).length === 0 ? {} : { options })
  }
}

const chatStream = (client: HttpClient.HttpClient, endpoint: Http.Endpoint, model: string, maxOutputTokens: number | undefined) =>
(messages: ReadonlyArray<ChatModel.ChatMessage>, settings: ChatModel.ChatSettings): Stream.Stream<ChatModel.ChatDelta, ModelError> =>
  Stream.suspend(() => {
    const path = "/api/chat"
    const where = Http.where(endpoint, path)
    let done = false
    const toDeltas = (line: string): Effect.Effect<ReadonlyArray<ChatModel.ChatDelta>, ModelError> =>
      Http.parseJsonLine(endpoint, where, line).pipe(
        Effect.flatMap((json) => Http.decodeValue(endpoint, where, json, Line)),
        Effect.flatMap((chunk) => {
          if (chunk.error !== undefined && chunk.error !== null) {
            return Effect.fail(Http.unavailable(endpoint, `Ollama at ${where} reported an error mid-stream`))
          }
          const deltas: Array<ChatModel.ChatDelta> = []
          const text = chunk.message?.content
          if (typeof text === "string" && text.length > 0) deltas.push(ChatModel.ChatDelta.Text({ text }))
          if (chunk.done === true) {
            done = true
            if (chunk.prompt_eval_count !== undefined || chunk.eval_count !== undefined) {
              deltas.push(
                ChatModel.ChatDelta.Usage({ promptTokens: chunk.prompt_eval_count ?? 0, completionTokens: chunk.eval_count ?? 0 })
              )
            }
          }
          return Effect.succeed(deltas)
        })
      )
    return Http.postLines(client, endpoint, path, requestBody(model, messages, settings, maxOutputTokens), "application/x-ndjson").pipe(
      Stream.filter((line) => line.trim() !== ""),
      Stream.mapEffect(toDeltas),
      Stream.takeUntil(() => done),
      Stream.flattenIterables,
      Stream.concat(
        Stream.suspend(() =>
          done ? Stream.empty : Stream.fail(Http.badResponse(endpoint, `Ollama at ${where} ended the stream before done: true`))
        )
      )
    )
  })

export const make = Effect.fn("OllamaChatModel.make")(function*(options: OllamaChatModelOptions) {
  const client = yield* HttpClient.HttpClient
  const endpoint = yield* Http.makeEndpoint({ ...options, apiBase: options.apiBase ?? defaultApiBase }, "Ollama")
  return ChatModel.make({
    modelId: endpoint.modelRef,
    contextTokens: options.contextTokens,
    stream: chatStream(client, endpoint, options.model, options.maxOutputTokens)
  })
})

/** The `ChatModel` service on one model of an Ollama server. */
export const layer = (options: OllamaChatModelOptions): Layer.Layer<ChatModel.ChatModel, ModelError, HttpClient.HttpClient> =>
  Layer.effect(ChatModel.ChatModel, make(options))
