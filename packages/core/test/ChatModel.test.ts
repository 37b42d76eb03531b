import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Option, Stream } from "effect"
import { ModelError } from "../src/domain/Errors.js"
import { ChatDelta, ChatModel } from "../src/ports/ChatModel.js"
import type { ChatMessage } from "../src/ports/ChatModel.js"
import * as ScriptedChatModel from "../src/testing/ScriptedChatModel.js"

const question: ReadonlyArray<ChatMessage> = [
  { role: "system", content: "Answer from the knowledge." },
  { role: "user", content: "What is the capital of France?" }
]

describe("ScriptedChatModel", () => {
  it.effect("streams the reply in small deltas and ends with usage", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel
      const deltas = Chunk.toReadonlyArray(yield* Stream.runCollect(model.stream(question, { temperature: 0.1 })))
      const texts = deltas.filter((d) => d._tag === "Text").map((d) => d.text)
      expect(texts.length).toBeGreaterThan(3)
      expect(texts.every((t) => t.length <= 4)).toBe(true)
      expect(texts.join("")).toBe("Paris is the capital of France.")
      expect(deltas[deltas.length - 1]).toEqual(ChatDelta.Usage({ promptTokens: 10, completionTokens: 6 }))
      expect(model.modelId).toBe("scripted")
    }).pipe(Effect.provide(ScriptedChatModel.layer({ replies: ["Paris is the capital of France."] }))))

  it.effect("generate collects the stream; replies come in order; calls are recorded", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel
      const script = yield* ScriptedChatModel.ScriptedChatModel
      const first = yield* model.generate(question, { max_tokens: 64 })
      expect(first.text).toBe("First answer.")
      expect(first.usage).toEqual(Option.some({ promptTokens: 10, completionTokens: 2 }))
      const second = yield* model.generate([{ role: "user", content: "Again?" }])
      expect(second.text).toBe("Second answer.")
      const calls = yield* script.calls
      expect(calls).toHaveLength(2)
      expect(calls[0]!.messages).toEqual(question)
      expect(calls[0]!.settings).toEqual({ max_tokens: 64 })
      expect(Option.map(yield* script.lastCall, (c) => c.messages[0]!.content)).toEqual(Option.some("Again?"))
      const exhausted = yield* Effect.flip(model.generate(question))
      expect(exhausted).toBeInstanceOf(ModelError)
      expect(exhausted.message).toContain("script exhausted")
    }).pipe(Effect.provide(ScriptedChatModel.layer({ replies: ["First answer.", "Second answer."] }))))

  it.effect("answers with a function of the conversation, without usage when asked", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel
      const result = yield* model.generate([{ role: "user", content: "echo me" }])
      expect(result.text).toBe("You said: echo me")
      expect(Option.isNone(result.usage)).toBe(true)
    }).pipe(
      Effect.provide(ScriptedChatModel.layer({
        replies: (messages) => `You said: ${messages[messages.length - 1]!.content}`,
        usage: false
      }))
    ))

  it.effect("fails when told to, at once or mid-stream, then recovers", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel
      const script = yield* ScriptedChatModel.ScriptedChatModel
      const error = new ModelError({ reason: "RateLimited", model: "scripted", message: "slow down" })
      yield* script.failNext(error)
      expect(yield* Effect.flip(model.generate(question))).toEqual(error)
      yield* script.failNext(error, { afterDeltas: 2 })
      const partial: Array<string> = []
      const failed = yield* Effect.flip(
        Stream.runForEach(model.stream(question), (d) => Effect.sync(() => d._tag === "Text" && partial.push(d.text)))
      )
      expect(failed.reason).toBe("RateLimited")
      expect(partial.join("")).toBe("abcdef")
      expect((yield* model.generate(question)).text).toBe("abcdefghijkl")
      expect(yield* script.calls).toHaveLength(3)
    }).pipe(Effect.provide(ScriptedChatModel.layer({ replies: (_) => "abcdefghijkl", deltaSize: 3 }))))

  it.effect("fails every call when configured to fail", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel
      const error = yield* Effect.flip(model.generate(question))
      expect(error.reason).toBe("Unavailable")
      expect((yield* Effect.flip(model.generate(question))).reason).toBe("Unavailable")
    }).pipe(
      Effect.provide(ScriptedChatModel.layer({
        replies: ["never"],
        fail: { error: new ModelError({ reason: "Unavailable", model: "scripted", message: "down" }) }
      }))
    ))

  it.effect("rejects an empty conversation with InvalidInput", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel
      const script = yield* ScriptedChatModel.ScriptedChatModel
      expect((yield* Effect.flip(model.generate([]))).reason).toBe("InvalidInput")
      expect(yield* script.calls).toHaveLength(0)
    }).pipe(Effect.provide(ScriptedChatModel.layer({ replies: ["x"] }))))
})
