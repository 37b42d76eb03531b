/**
 * A chat model turns a conversation into a stream of text deltas, ending with the token usage when
 * the model reports it.
 */
import { Context, Data, Effect, Option, Stream } from "effect"
import { ModelError } from "../domain/Errors.js"

export type ChatRole = "system" | "user" | "assistant"

export interface ChatMessage {
  readonly role: ChatRole
  readonly content: string
}

/** Generation settings, named as RAGFlow's `llm_setting` (and OpenAI's API) name them. */
export interface ChatSettings {
  readonly temperature?: number
  readonly top_p?: number
  readonly max_tokens?: number
  readonly presence_penalty?: number
  readonly frequency_penalty?: number
  readonly stop?: ReadonlyArray<string>
}

export interface ChatUsage {
  readonly promptTokens: number
  readonly completionTokens: number
}

/** One element of a chat stream: a piece of the answer, or the usage report. */
export type ChatDelta = Data.TaggedEnum<{
  Text: { readonly text: string }
  Usage: ChatUsage
}>
export const ChatDelta = Data.taggedEnum<ChatDelta>()

export interface ChatResult {
  readonly text: string
  /** The last usage the model reported, if any. */
  readonly usage: Option.Option<ChatUsage>
}

/** The service; `ChatModel` is its tag. */
export interface ChatModelService {
  readonly modelId: string
  readonly stream: (
    messages: ReadonlyArray<ChatMessage>,
    settings?: ChatSettings
  ) => Stream.Stream<ChatDelta, ModelError>
  /** The whole answer at once: the stream collected. */
  readonly generate: (
    messages: ReadonlyArray<ChatMessage>,
    settings?: ChatSettings
  ) => Effect.Effect<ChatResult, ModelError>
}

export class ChatModel extends Context.Tag("@ragkit/core/ChatModel")<ChatModel, ChatModelService>() {}

export interface ChatModelOptions {
  readonly modelId: string
  /** Streams the answer; receives at least one message. */
  readonly stream: (
    messages: ReadonlyArray<ChatMessage>,
    settings: ChatSettings
  ) => Stream.Stream<ChatDelta, ModelError>
}

/** Collects a chat stream into the text and the last usage report. */
export const collect = <E, R>(stream: Stream.Stream<ChatDelta, E, R>): Effect.Effect<ChatResult, E, R> =>
  Stream.runFold(stream, { text: "", usage: Option.none<ChatUsage>() } as ChatResult, (acc, delta) =>
    ChatDelta.$match(delta, {
      Text: ({ text }) => ({ text: acc.text + text, usage: acc.usage }),
      Usage: ({ completionTokens, promptTokens }) => ({
        text: acc.text,
        usage: Option.some({ promptTokens, completionTokens })
      })
    }))

/**
 * Builds a `ChatModel` from its stream: an empty conversation fails with `InvalidInput` before the
 * model is called, `generate` collects the stream, and both get spans.
 */
export const make = (options: ChatModelOptions): ChatModelService => {
  const { modelId } = options
  const stream = (messages: ReadonlyArray<ChatMessage>, settings?: ChatSettings) =>
    (messages.length === 0
      ? Stream.fail(new ModelError({ reason: "InvalidInput", model: modelId, message: "no messages to answer" }))
      : options.stream(messages, settings ?? {})).pipe(
        Stream.withSpan("ChatModel.stream", { attributes: { model: modelId, messages: messages.length } })
      )
  const generate = (messages: ReadonlyArray<ChatMessage>, settings?: ChatSettings) =>
    collect(stream(messages, settings)).pipe(
      Effect.withSpan("ChatModel.generate", { attributes: { model: modelId, messages: messages.length } })
    )
  return ChatModel.of({ modelId, stream, generate })
}
