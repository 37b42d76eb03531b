/**
 * The chat models of the OpenAI-compatible and Ollama adapters against small real HTTP servers
 * that stream their protocols' frames (SSE events, NDJSON lines): what a client sees when the
 * server fails mid-answer, rate-limits, says nothing at all, or stalls; and the model's own
 * `max_tokens` and context window.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { describe, expect, layer } from "@effect/vitest"
import type { ChatModel, ModelError } from "@ragkit/core"
import { Context, Effect, Layer, Redacted, Stream } from "effect"
import type * as Http from "../src/internal/http.js"
import * as OllamaChatModel from "../src/ollama/OllamaChatModel.js"
import * as OpenAiChatModel from "../src/openai/OpenAiChatModel.js"
import * as FakeOllama from "./ollama/FakeOllama.js"
import { modelError } from "./openai/errors.js"
import * as FakeOpenAi from "./openai/FakeOpenAi.js"
import type { Received } from "./openai/support.js"

const question = [{ role: "user", content: "What colour is the sky?" }] as const

/** What the tests need of one adapter and its fake server. */
interface Adapter {
  readonly name: string
  /** The chat model on the fake server, with these options (short backoffs unless given). */
  readonly model: (
    model: string,
    options?: Http.RetryOptions & Http.ChatModelLimits
  ) => Effect.Effect<ChatModel.ChatModelService, ModelError>
  readonly requestsFor: (model: string) => ReadonlyArray<Received>
  /** The fake's answer to `text` (the last user message). */
  readonly answerOf: (text: string) => string
  readonly script: {
    readonly errorMidStream: (model: string) => void
    readonly cutMidStream: (model: string) => void
    readonly rateLimited: (model: string, retryAfter: string) => void
    readonly silent: (model: string, times: number) => void
    readonly stall: (model: string) => void
  }
  /** The request body's field for the answer's length. */
  readonly maxTokensOf: (body: unknown) => unknown
}

class Adapters extends Context.Tag("test/Adapters")<Adapters, ReadonlyArray<Adapter>>() {}

const AdaptersLive = Layer.scoped(
  Adapters,
  Effect.gen(function*() {
    const openAi = yield* FakeOpenAi.make
    const ollama = yield* FakeOllama.make()
    const client = Effect.provide(FetchHttpClient.layer)
    const common = { retryBaseDelay: "5 millis" as const }
    const openAiAdapter: Adapter = {
      name: "OpenAI-compatible",
      model: (model, options = {}) =>
        client(OpenAiChatModel.make({ ...common, ...options, apiBase: openAi.apiBase, apiKey: Redacted.make(FakeOpenAi.API_KEY), model })),
      requestsFor: openAi.requestsFor,
      answerOf: (text) => FakeOpenAi.answerOf([{ role: "user", content: text }]),
      script: {
        errorMidStream: (model) => openAi.script(model, { _tag: "ErrorEvent" }),
        cutMidStream: (model) => openAi.script(model, { _tag: "CutStream", chunks: 2 }),
        rateLimited: (model, retryAfter) =>
          openAi.script(model, { _tag: "Status", status: 429, headers: { "retry-after": retryAfter }, body: { error: { message: "Rate limit reached" } } }),
        silent: (model, times) => openAi.script(model, ...Array.from({ length: times }, () => ({ _tag: "Hang" }) as const)),
        stall: (model) => openAi.script(model, { _tag: "StallStream" })
      },
      maxTokensOf: (body) => (body as { max_tokens?: unknown }).max_tokens
    }
    const ollamaAdapter: Adapter = {
      name: "Ollama",
      model: (model, options = {}) => client(OllamaChatModel.make({ ...common, ...options, apiBase: ollama.url, model })),
      requestsFor: ollama.requestsFor,
      answerOf: (text) => FakeOllama.answerOf([{ role: "user", content: text }]),
      script: {
        errorMidStream: (model) => ollama.script(model, { _tag: "ErrorLine" }),
        cutMidStream: (model) => ollama.script(model, { _tag: "CutStream", lines: 2 }),
        rateLimited: (model, retryAfter) =>
          ollama.script(model, { _tag: "Status", status: 429, headers: { "retry-after": retryAfter }, body: { error: "too many requests" } }),
        silent: (model, times) => ollama.script(model, ...Array.from({ length: times }, () => ({ _tag: "Hang" }) as const)),
        stall: (model) => ollama.script(model, { _tag: "StallStream" })
      },
      maxTokensOf: (body) => (body as { options?: { num_predict?: unknown } }).options?.num_predict
    }
    return [openAiAdapter, ollamaAdapter]
  })
)

/** Runs the stream, keeping the text deltas it delivered before it ended. */
const consume = (stream: Stream.Stream<ChatModel.ChatDelta, ModelError>) =>
  Effect.gen(function*() {
    const seen: Array<string> = []
    const exit = yield* Effect.exit(Stream.runForEach(stream, (d) => Effect.sync(() => d._tag === "Text" && seen.push(d.text))))
    return { exit, seen }
  })

const adapter = (name: string) => Effect.map(Adapters, (all) => all.find((a) => a.name === name)!)

layer(AdaptersLive, { excludeTestServices: true, timeout: 30_000 })((it) => {
  for (const name of ["OpenAI-compatible", "Ollama"]) {
    describe(name, () => {
      it.effect("an error frame mid-stream fails the stream with ModelError after the deltas already sent; the half-sent answer is not retried", () =>
        Effect.gen(function*() {
          const a = yield* adapter(name)
          a.script.errorMidStream("mid-error")
          const model = yield* a.model("mid-error")
          const { exit, seen } = yield* consume(model.stream(question))
          const error = modelError(exit)
          expect(error.reason).toBe("Unavailable")
          expect(error.message).toContain("reported an error mid-stream")
          expect(seen).toEqual(["Partial "])
          expect(a.requestsFor("mid-error")).toHaveLength(1)

          // A connection cut after two frames: the same, Unavailable and one request.
          a.script.cutMidStream("mid-cut")
          const cut = yield* a.model("mid-cut")
          const cutRun = yield* consume(cut.stream(question))
          expect(modelError(cutRun.exit).reason).toBe("Unavailable")
          expect(cutRun.seen).toEqual(["part 0 ", "part 1 "])
          expect(a.requestsFor("mid-cut")).toHaveLength(1)
        }))

      it.effect("429 with Retry-After: 1, then success: the call succeeds, on a second request sent a second later", () =>
        Effect.gen(function*() {
          const a = yield* adapter(name)
          a.script.rateLimited("limited", "1")
          const model = yield* a.model("limited")
          const result = yield* model.generate(question)
          expect(result.text).toBe(a.answerOf(question[0].content))
          const requests = a.requestsFor("limited")
          expect(requests).toHaveLength(2)
          // The backoff alone would be 5 ms: the gap is the server's Retry-After.
          const gap = requests[1]!.at - requests[0]!.at
          expect(gap).toBeGreaterThanOrEqual(950)
          expect(gap).toBeLessThan(3_000)
        }), 10_000)

      it.effect("a Retry-After past maxRetryDelay is not waited for: RateLimited at once", () =>
        Effect.gen(function*() {
          const a = yield* adapter(name)
          a.script.rateLimited("limited-long", "5")
          const model = yield* a.model("limited-long", { maxRetryDelay: "2 seconds" })
          const started = Date.now()
          expect(modelError(yield* Effect.exit(model.generate(question))).reason).toBe("RateLimited")
          expect(Date.now() - started).toBeLessThan(1_000)
          expect(a.requestsFor("limited-long")).toHaveLength(1)
        }))

      it.effect("a silent server times out (timeout) as Unavailable, after maxAttempts requests", () =>
        Effect.gen(function*() {
          const a = yield* adapter(name)
          a.script.silent("silent", 2)
          const model = yield* a.model("silent", { timeout: "300 millis", maxAttempts: 2 })
          const started = Date.now()
          const error = modelError(yield* Effect.exit(model.generate(question)))
          const elapsed = Date.now() - started
          expect(error.reason).toBe("Unavailable")
          expect(error.message).toContain("did not answer within 300ms")
          expect(elapsed).toBeGreaterThanOrEqual(590)
          expect(elapsed).toBeLessThan(5_000)
          expect(a.requestsFor("silent")).toHaveLength(2)
        }))

      it.effect("a stream that goes silent after its first frame fails after idleTimeout (not timeout), once", () =>
        Effect.gen(function*() {
          const a = yield* adapter(name)
          a.script.stall("stall")
          const model = yield* a.model("stall", { timeout: "20 seconds", idleTimeout: "250 millis" })
          const started = Date.now()
          const { exit, seen } = yield* consume(model.stream(question))
          const error = modelError(exit)
          expect(error.reason).toBe("Unavailable")
          expect(error.message).toContain("sent nothing for 250ms")
          expect(Date.now() - started).toBeLessThan(5_000)
          expect(seen).toEqual(["Stalled "])
          expect(a.requestsFor("stall")).toHaveLength(1)
        }))

      it.effect("the model's maxOutputTokens is sent when a call gives no max_tokens; the call's wins; contextTokens is declared", () =>
        Effect.gen(function*() {
          const a = yield* adapter(name)
          const model = yield* a.model("limits", { maxOutputTokens: 512, contextTokens: 32_768 })
          expect(model.contextTokens).toBe(32_768)
          yield* model.generate(question)
          yield* model.generate(question, { max_tokens: 16 })
          expect(a.requestsFor("limits").map((r) => a.maxTokensOf(r.body))).toEqual([512, 16])

          const plain = yield* a.model("no-limits")
          yield* plain.generate(question)
          expect(a.maxTokensOf(a.requestsFor("no-limits")[0]!.body)).toBeUndefined()
        }))
    })
  }
})
