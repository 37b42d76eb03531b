/**
 * A chat model turns a conversation into a stream of text deltas, ending with the token usage when
 * the model reports it.
 *
 * A grounded answer also passes its `ChatGrounding`: the question and the numbered passages the
 * system prompt quotes. Language models read the knowledge from the prompt and may ignore it; a model
 * that answers from the passages themselves (the built-in extractive answerer) uses it instead.
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

/** A passage of the knowledge an answer is grounded on; `[ID:n]` in an answer cites passage `id` n. */
export interface ChatPassage {
  readonly id: number
  /** The document's name. */
  readonly title: string
  readonly content: string
}

/** What a grounded answer draws on, besides the messages. */
export interface ChatGrounding {
  /** The question being answered (after any refinement). */
  readonly question: string
  readonly passages: ReadonlyArray<ChatPassage>
}

/** A model's context window when its provider does not say: a conservative 8k tokens. */
export const DefaultContextTokens = 8192

export interface ChatResult {
  readonly text: string
  /** The last usage the model reported, if any. */
  readonly usage: Option.Option<ChatUsage>
}

/** The service; `ChatModel` is its tag. */
export interface ChatModelService {
  readonly modelId: string
  /** Tokens the model reads and writes in one call (its context window): prompts are fitted to it. */
  readonly contextTokens: number
  /**
   * Whether the model writes new text following instructions (a language model). `false` for a
   * model that only quotes its grounding (the built-in extractive answerer): callers do not ask it
   * to rewrite a question, propose keywords or follow a task prompt.
   */
  readonly generative: boolean
  readonly stream: (
    messages: ReadonlyArray<ChatMessage>,
    settings?: ChatSettings,
    grounding?: ChatGrounding
  ) => Stream.Stream<ChatDelta, ModelError>
  /** The whole answer at once: the stream collected. */
  readonly generate: (
    messages: ReadonlyArray<ChatMessage>,
    settings?: ChatSettings,
    grounding?: ChatGrounding
  ) => Effect.Effect<ChatResult, ModelError>
}

export class ChatModel extends Context.Tag("@ragkit/core/ChatModel")<ChatModel, ChatModelService>() {}

export interface ChatModelOptions {
  readonly modelId: string
  /** The model's context window in tokens; `DefaultContextTokens` when absent. */
  readonly contextTokens?: number | undefined
  /** `false` for a model that only quotes its grounding; `true` when absent. */
  readonly generative?: boolean | undefined
  /** Streams the answer; receives at least one message. */
  readonly stream: (
    messages: ReadonlyArray<ChatMessage>,
    settings: ChatSettings,
    grounding: ChatGrounding | undefined
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
  const contextTokens = options.contextTokens ?? DefaultContextTokens
  const stream = (messages: ReadonlyArray<ChatMessage>, settings?: ChatSettings, grounding?: ChatGrounding) =>
    (messages.length === 0
      ? Stream.fail(new ModelError({ reason: "InvalidInput", model: modelId, message: "no messages to answer" }))
      : options.stream(messages, settings ?? {}, grounding)).pipe(
        Stream.withSpan("ChatModel.stream", { attributes: { model: modelId, messages: messages.length } })
      )
  const generate = (messages: ReadonlyArray<ChatMessage>, settings?: ChatSettings, grounding?: ChatGrounding) =>
    collect(stream(messages, settings, grounding)).pipe(
      Effect.withSpan("ChatModel.generate", { attributes: { model: modelId, messages: messages.length } })
    )
  return ChatModel.of({ modelId, contextTokens, generative: options.generative ?? true, stream, generate })
}
