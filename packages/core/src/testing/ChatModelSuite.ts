/**
 * The conformance suite every `ChatModel` implementation runs:
 *
 *   ChatModelSuite("scripted", ScriptedChatModel.layer({ replies: (messages) => "..." }), { deterministic: true })
 *
 * The layer is built once for the suite. Tests run on the live clock (`excludeTestServices`), so
 * models that call a server may use timeouts and retry schedules. Each test makes one to three calls
 * with `max_tokens` kept small.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Option, Stream } from "effect"
import type { Layer } from "effect"
import { ChatModel } from "../ports/ChatModel.js"
import type { ChatDelta, ChatMessage, ChatSettings, ChatUsage } from "../ports/ChatModel.js"

export interface ChatModelSuiteOptions {
  /** The conversation every test sends; a short question by default. */
  readonly prompt?: ReadonlyArray<ChatMessage>
  /** Settings sent with every call; `{ temperature: 0, max_tokens: 64 }` by default. */
  readonly settings?: ChatSettings
  /**
   * The same call always gives the same answer, so `generate`'s text must equal the streamed
   * text (false by default: `generate` need only answer with some text).
   */
  readonly deterministic?: boolean
  /** Milliseconds for building the layer and for each test (120 000 by default). */
  readonly timeout?: number
}

const defaultPrompt: ReadonlyArray<ChatMessage> = [
  { role: "system", content: "You are a helpful assistant. Answer in one short sentence." },
  { role: "user", content: "What colour is the sky on a clear day?" }
]

const textOf = (deltas: ReadonlyArray<ChatDelta>): string =>
  deltas.flatMap((delta) => (delta._tag === "Text" ? [delta.text] : [])).join("")

const expectUsage = (usage: ChatUsage, what: string): void => {
  for (const [field, value] of [["promptTokens", usage.promptTokens], ["completionTokens", usage.completionTokens]]) {
    expect(Number.isInteger(value), `${what}.${field} = ${value}: an integer`).toBe(true)
    expect(value as number, `${what}.${field}: not negative`).toBeGreaterThanOrEqual(0)
  }
}

export const ChatModelSuite = <E>(
  name: string,
  chatLayer: Layer.Layer<ChatModel, E>,
  options: ChatModelSuiteOptions = {}
) =>
  describe(`ChatModel conformance: ${name}`, () => {
    const prompt = options.prompt ?? defaultPrompt
    const settings = options.settings ?? { temperature: 0, max_tokens: 64 }
    const timeout = options.timeout ?? 120_000
    const streamed = Effect.flatMap(ChatModel, (model) =>
      Effect.map(Stream.runCollect(model.stream(prompt, settings)), Chunk.toReadonlyArray))

    layer(chatLayer, { timeout, excludeTestServices: true })((it) => {
      it.effect("stream yields at least one text delta, and some text", () =>
        Effect.gen(function*() {
          const model = yield* ChatModel
          expect(model.modelId.length).toBeGreaterThan(0)
          const deltas = yield* streamed
          const texts = deltas.filter((delta) => delta._tag === "Text")
          expect(texts.length).toBeGreaterThanOrEqual(1)
          expect(texts.every((delta) => typeof delta.text === "string")).toBe(true)
          expect(textOf(deltas).trim().length).toBeGreaterThan(0)
        }), timeout)

      if (options.deterministic === true) {
        it.effect("generate answers with the text the stream gives, and its last usage", () =>
          Effect.gen(function*() {
            const model = yield* ChatModel
            const deltas = yield* streamed
            const result = yield* model.generate(prompt, settings)
            expect(result.text).toBe(textOf(deltas))
            const usages = deltas.filter((delta) => delta._tag === "Usage")
            const lastUsage = usages[usages.length - 1]
            expect(Option.map(result.usage, (u) => [u.promptTokens, u.completionTokens])).toEqual(
              lastUsage === undefined
                ? Option.none()
                : Option.some([lastUsage.promptTokens, lastUsage.completionTokens])
            )
          }), timeout)
      } else {
        it.effect("generate answers with some text", () =>
          Effect.gen(function*() {
            const model = yield* ChatModel
            const result = yield* model.generate(prompt, settings)
            expect(typeof result.text).toBe("string")
            expect(result.text.trim().length).toBeGreaterThan(0)
          }), timeout)
      }

      it.effect("usage, when reported, is counted in non-negative integers", () =>
        Effect.gen(function*() {
          const model = yield* ChatModel
          const deltas = yield* streamed
          deltas.forEach((delta, i) => {
            if (delta._tag === "Usage") expectUsage(delta, `stream delta ${i}`)
          })
          const result = yield* model.generate(prompt, settings)
          Option.map(result.usage, (usage) => expectUsage(usage, "generate usage"))
        }), timeout)

      it.effect("a stream interrupted after its first delta ends without error, and the model still answers", () =>
        Effect.gen(function*() {
          const model = yield* ChatModel
          const exit = yield* Effect.exit(Stream.runCollect(Stream.take(model.stream(prompt, settings), 1)))
          Exit.match(exit, {
            onSuccess: (deltas) => expect(Chunk.size(deltas)).toBe(1),
            onFailure: (cause) => expect.fail(`the interrupted stream failed:\n${Cause.pretty(cause)}`)
          })
          const again = yield* model.generate(prompt, settings)
          expect(again.text.trim().length).toBeGreaterThan(0)
        }), timeout)

      it.effect("an empty conversation fails with ModelError InvalidInput, never a defect", () =>
        Effect.gen(function*() {
          const model = yield* ChatModel
          const exit = yield* Effect.exit(model.generate([], settings))
          expect(Exit.isFailure(exit)).toBe(true)
          if (Exit.isFailure(exit)) {
            expect(Cause.isDie(exit.cause), Cause.pretty(exit.cause)).toBe(false)
            const error = Cause.failureOption(exit.cause)
            expect(Option.map(error, (e) => [e._tag, e.reason])).toEqual(Option.some(["ModelError", "InvalidInput"]))
          }
        }), timeout)
    })
  })
