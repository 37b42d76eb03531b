/**
 * A chat model that answers from a script, for tests and demos. It streams each reply in small
 * deltas, ends with a usage report (words counted as tokens), records every call so tests can assert
 * the prompt, and fails when told to.
 *
 *   const Chat = ScriptedChatModel.layer({ replies: ["Paris [ID:0]."] })
 *   // in a test: const script = yield* ScriptedChatModel; const calls = yield* script.calls
 */
import { Context, Effect, Layer, Option, Ref, Stream } from "effect"
import { ModelError } from "../domain/Errors.js"
import { ChatDelta, ChatModel, make as makeChatModel } from "../ports/ChatModel.js"
import type { ChatGrounding, ChatMessage, ChatModelService, ChatSettings } from "../ports/ChatModel.js"

export interface ChatCall {
  readonly messages: ReadonlyArray<ChatMessage>
  readonly settings: ChatSettings
  /** The grounding the call was given, if any. */
  readonly grounding: ChatGrounding | undefined
}

/**
 * Replies in order (a call after the last one fails; a call told to fail does not use up a reply),
 * or a function of the conversation.
 */
export type Script =
  | ReadonlyArray<string>
  | ((messages: ReadonlyArray<ChatMessage>, settings: ChatSettings, grounding: ChatGrounding | undefined) => string)

export interface Failure {
  readonly error: ModelError
  /** How many text deltas to stream before failing (0 by default: fail at once). */
  readonly afterDeltas?: number
}

export interface ScriptedChatModelOptions {
  readonly replies: Script
  /** `scripted` by default. */
  readonly modelId?: string
  /** Characters (code points) per text delta; 4 by default. */
  readonly deltaSize?: number
  /** Whether to end with a usage delta; true by default. */
  readonly usage?: boolean
  /** Fail every call. */
  readonly fail?: Failure
  /** The context window it declares; `ChatModel.DefaultContextTokens` by default. */
  readonly contextTokens?: number
  /** Whether it plays a language model (true by default) or a model that only quotes. */
  readonly generative?: boolean
}

/** The handle tests use to inspect and steer the model. */
export interface ScriptedChatModelControl {
  /** Every call received, oldest first. */
  readonly calls: Effect.Effect<ReadonlyArray<ChatCall>>
  readonly lastCall: Effect.Effect<Option.Option<ChatCall>>
  /** The next call fails (once). */
  readonly failNext: (error: ModelError, options?: { readonly afterDeltas?: number }) => Effect.Effect<void>
}

export class ScriptedChatModel
  extends Context.Tag("@ragkit/core/testing/ScriptedChatModel")<ScriptedChatModel, ScriptedChatModelControl>()
{}

const countWords = (text: string) => text.split(/\s+/).filter((w) => w.length > 0).length

/** Splits a reply into deltas of `size` code points. */
export const deltas = (reply: string, size: number): ReadonlyArray<string> => {
  const chars = Array.from(reply)
  const step = Math.max(1, Math.floor(size))
  const out: Array<string> = []
  for (let i = 0; i < chars.length; i += step) out.push(chars.slice(i, i + step).join(""))
  return out
}

export const make = (
  options: ScriptedChatModelOptions
): Effect.Effect<{ readonly model: ChatModelService; readonly control: ScriptedChatModelControl }> =>
  Effect.gen(function*() {
    const modelId = options.modelId ?? "scripted"
    const calls = yield* Ref.make<ReadonlyArray<ChatCall>>([])
    const nextFailure = yield* Ref.make(Option.none<Failure>())
    /** Calls answered so far: the position of the next scripted reply. */
    const answered = yield* Ref.make(0)

    /** The reply at this script position; a function script answers every call. */
    const replyAt = (
      messages: ReadonlyArray<ChatMessage>,
      settings: ChatSettings,
      grounding: ChatGrounding | undefined,
      position: number
    ) => {
      const script = options.replies
      if (typeof script === "function") return Effect.sync(() => Option.some(script(messages, settings, grounding)))
      return Effect.succeed(Option.fromNullable(script[position]))
    }

    const stream = (messages: ReadonlyArray<ChatMessage>, settings: ChatSettings, grounding: ChatGrounding | undefined) =>
      Stream.unwrap(Effect.gen(function*() {
        yield* Ref.update(calls, (all) => [...all, { messages, settings, grounding }])
        const once = yield* Ref.getAndSet(nextFailure, Option.none())
        const failure = Option.orElse(once, () => Option.fromNullable(options.fail))
        const position = yield* Ref.get(answered)
        const reply = yield* replyAt(messages, settings, grounding, position)
        const textDeltas = (text: string) =>
          deltas(text, options.deltaSize ?? 4).map((piece) => ChatDelta.Text({ text: piece }))
        if (Option.isSome(failure)) {
          // A failed call does not use up a scripted reply; it streams the start of the due one.
          const { afterDeltas = 0, error } = failure.value
          const partial = textDeltas(Option.getOrElse(reply, () => "")).slice(0, afterDeltas)
          return Stream.concat(Stream.fromIterable(partial), Stream.fail(error))
        }
        if (Option.isNone(reply)) {
          return Stream.fail(
            new ModelError({
              reason: "Unknown",
              model: modelId,
              message: `script exhausted: call ${position + 1}, ${(options.replies as ReadonlyArray<string>).length} replies`
            })
          )
        }
        yield* Ref.set(answered, position + 1)
        const usage = options.usage === false ? [] : [
          ChatDelta.Usage({
            promptTokens: messages.reduce((sum, m) => sum + countWords(m.content), 0),
            completionTokens: countWords(reply.value)
          })
        ]
        return Stream.fromIterable<ChatDelta>([...textDeltas(reply.value), ...usage])
      }))

    const control: ScriptedChatModelControl = {
      calls: Ref.get(calls),
      lastCall: Effect.map(Ref.get(calls), (all) => Option.fromNullable(all[all.length - 1])),
      failNext: (error, failOptions) => Ref.set(nextFailure, Option.some({ error, ...failOptions }))
    }
    return { model: makeChatModel({ modelId, contextTokens: options.contextTokens, generative: options.generative, stream }), control }
  })

/** Provides the `ChatModel` and the `ScriptedChatModel` control of one scripted model. */
export const layer = (options: ScriptedChatModelOptions): Layer.Layer<ChatModel | ScriptedChatModel> =>
  Layer.effectContext(
    Effect.map(make(options), ({ control, model }) =>
      Context.make(ChatModel, model).pipe(Context.add(ScriptedChatModel, control)))
  )
