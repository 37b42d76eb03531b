/**
 * The `openai-compatible` adapters against the fake server: what goes over the wire, and how
 * every failure comes back as a typed `ModelError`.
 */
import { describe, expect, layer } from "@effect/vitest"
import { HashEmbedder, OverlapReranker } from "@ragkit/core/testing"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { Cause, Chunk, Effect, Exit, Inspectable, Option, Redacted, Stream } from "effect"
import * as OpenAiChatModel from "../../src/openai/OpenAiChatModel.js"
import * as OpenAiReranker from "../../src/openai/OpenAiReranker.js"
import * as OpenAiEmbedder from "../../src/openai/OpenAiEmbedder.js"
import { Env, tenantWithProvider } from "./env.js"
import { modelError } from "./errors.js"
import { API_KEY, DIMENSIONS, FakeOpenAi } from "./FakeOpenAi.js"
import { closedPortUrl } from "./support.js"

const texts = ["The cat sat on the mat.", "Solar panels turn sunlight into electricity.", "Paris is the capital of France.", "一二三", "Fifth text"]
const question = [{ role: "user", content: "What colour is the sky?" }] as const

layer(Env, { excludeTestServices: true, timeout: 60_000 })((it) => {
  describe("embeddings", () => {
    it.effect("POSTs { model, input, encoding_format: float } with the Bearer key; vectors in input order", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { dimensions: DIMENSIONS } })
        const embedder = yield* models.embedder(caller, "emb-shape@fake")
        expect(embedder.modelId).toBe("emb-shape@fake")
        expect(embedder.dimensions).toBe(DIMENSIONS)
        const vectors = yield* embedder.embedDocuments(texts.slice(0, 3))
        const [request, ...more] = server.requestsFor("emb-shape")
        expect(more).toHaveLength(0)
        expect(request!.method).toBe("POST")
        expect(request!.path).toBe("/v1/embeddings")
        expect(request!.authorization).toBe(`Bearer ${API_KEY}`)
        expect(request!.contentType).toMatch(/^application\/json/)
        expect(request!.body).toEqual({ model: "emb-shape", input: texts.slice(0, 3), encoding_format: "float" })
        // The server answers in reverse order: the adapter puts them back by `index`.
        vectors.forEach((vector, i) => expect(vector).toEqual(HashEmbedder.embed(texts[i]!, DIMENSIONS)))
        const query = yield* embedder.embedQuery(texts[1]!)
        expect(query).toEqual(HashEmbedder.embed(texts[1]!, DIMENSIONS))
      }))

    it.effect("without a configured dimension, resolving probes once; later resolutions reuse it", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider()
        const embedder = yield* models.embedder(caller, "emb-probe@fake")
        expect(embedder.dimensions).toBe(DIMENSIONS)
        expect(server.requestsFor("emb-probe").map((r) => r.body)).toEqual([
          { model: "emb-probe", input: [OpenAiEmbedder.probeText], encoding_format: "float" }
        ])
        const again = yield* models.embedder(caller, "emb-probe@fake")
        expect(again.dimensions).toBe(DIMENSIONS)
        expect(server.requestsFor("emb-probe")).toHaveLength(1)
      }))

    it.effect("a configured dimension skips the probe; a per-model one too; send_dimensions asks the server for it", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { dimensions: { "emb-small": 16 } } })
        const small = yield* models.embedder(caller, "emb-small@fake")
        expect(small.dimensions).toBe(16)
        expect(server.requestsFor("emb-small")).toHaveLength(0)
        // Without send_dimensions the server answers 32 numbers: a typed BadResponse, not a short index.
        expect(modelError(yield* Effect.exit(small.embedDocuments(["a"]))).reason).toBe("BadResponse")

        const sending = yield* tenantWithProvider({ name: "short", settings: { dimensions: 16, send_dimensions: true } })
        const shortened = yield* sending.models.embedder(sending.caller, "emb-short@short")
        const [vector] = yield* shortened.embedDocuments(["a text"])
        expect(vector).toHaveLength(16)
        expect(sending.server.requestsFor("emb-short")[0]!.body).toMatchObject({ dimensions: 16 })
      }))

    it.effect("splits documents into batches of max_batch_size", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { dimensions: DIMENSIONS, max_batch_size: 2 } })
        const embedder = yield* models.embedder(caller, "emb-batch@fake")
        const vectors = yield* embedder.embedDocuments(texts)
        expect(server.requestsFor("emb-batch").map((r) => (r.body as { input: Array<string> }).input)).toEqual([
          texts.slice(0, 2),
          texts.slice(2, 4),
          texts.slice(4)
        ])
        vectors.forEach((vector, i) => expect(vector).toEqual(HashEmbedder.embed(texts[i]!, DIMENSIONS)))
      }))

    it.effect("a provider without a key sends no Authorization header", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ apiKey: "" })
        yield* models.embedder(caller, "emb-nokey@fake")
        expect(server.requestsFor("emb-nokey")[0]!.authorization).toBeUndefined()
      }))

    it.effect("an API base with a trailing slash works", () =>
      Effect.gen(function*() {
        const server = yield* Effect.map(tenantWithProvider(), (t) => t.server)
        const { caller, models } = yield* tenantWithProvider({ name: "slash", apiBase: `${server.apiBase}/` })
        const embedder = yield* models.embedder(caller, "emb-slash@slash")
        expect(server.requestsFor("emb-slash")[0]!.path).toBe("/v1/embeddings")
        expect(embedder.dimensions).toBe(DIMENSIONS)
      }))
  })

  describe("rerank", () => {
    it.effect("POSTs { model, query, documents, top_n } and puts the scores back in passage order", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider()
        const reranker = yield* models.reranker(caller, "rr-shape@fake")
        const query = "solar panels electricity"
        const scores = yield* reranker.rerank(query, texts)
        const [request] = server.requestsFor("rr-shape")
        expect(request!.path).toBe("/v1/rerank")
        expect(request!.authorization).toBe(`Bearer ${API_KEY}`)
        expect(request!.body).toEqual({ model: "rr-shape", query, documents: texts, top_n: texts.length })
        expect(scores).toEqual(texts.map((t) => OverlapReranker.score(query, t)))
      }))

    it.effect("an answer missing a passage's index is BadResponse", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider()
        server.script("rr-missing", {
          _tag: "Status",
          status: 200,
          body: { results: [{ index: 2, relevance_score: 0.9 }, { index: 0, relevance_score: 0.1 }] }
        })
        const reranker = yield* models.reranker(caller, "rr-missing@fake")
        const error = modelError(yield* Effect.exit(reranker.rerank("q", ["a", "b", "c"])))
        expect(error.reason).toBe("BadResponse")
        expect(error.message).toContain("passages 1 of 3")
      }))

    it.effect("an index out of range, or given twice, is BadResponse", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider()
        server.script(
          "rr-bad-index",
          { _tag: "Status", status: 200, body: { results: [{ index: 0, relevance_score: 0.9 }, { index: 5, relevance_score: 0.1 }] } },
          { _tag: "Status", status: 200, body: { results: [{ index: 0, relevance_score: 0.9 }, { index: 0, relevance_score: 0.1 }] } }
        )
        const reranker = yield* models.reranker(caller, "rr-bad-index@fake")
        expect(modelError(yield* Effect.exit(reranker.rerank("q", ["a", "b"]))).reason).toBe("BadResponse")
        expect(modelError(yield* Effect.exit(reranker.rerank("q", ["a", "b"]))).reason).toBe("BadResponse")
      }))
  })

  describe("chat", () => {
    it.effect("streams SSE deltas and the usage; sends stream, stream_options and the settings", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider()
        const model = yield* models.chatModel(caller, "chat-shape@fake")
        const deltas = Chunk.toReadonlyArray(
          yield* Stream.runCollect(model.stream(question, { temperature: 0.2, max_tokens: 32, stop: ["\n\n"], top_p: 0.9 }))
        )
        const text = deltas.flatMap((d) => (d._tag === "Text" ? [d.text] : [])).join("")
        expect(text).toBe("You asked: What colour is the sky?")
        expect(deltas.filter((d) => d._tag === "Text").length).toBeGreaterThan(1)
        expect(deltas[deltas.length - 1]).toMatchObject({ _tag: "Usage", promptTokens: 5, completionTokens: 4 })
        const [request] = server.requestsFor("chat-shape")
        expect(request!.path).toBe("/v1/chat/completions")
        expect(request!.authorization).toBe(`Bearer ${API_KEY}`)
        expect(request!.body).toEqual({
          model: "chat-shape",
          messages: [{ role: "user", content: "What colour is the sky?" }],
          stream: true,
          stream_options: { include_usage: true },
          temperature: 0.2,
          top_p: 0.9,
          max_tokens: 32,
          stop: ["\n\n"]
        })
        const result = yield* model.generate(question)
        expect(result.text).toBe(text)
        expect(result.usage).toEqual(Option.some({ promptTokens: 5, completionTokens: 4 }))
      }))

    it.effect("include_usage: false leaves stream_options out (no usage)", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { include_usage: false } })
        const model = yield* models.chatModel(caller, "chat-nousage@fake")
        const result = yield* model.generate(question)
        expect(result.text).toBe("You asked: What colour is the sky?")
        expect(result.usage).toEqual(Option.none())
        expect(server.requestsFor("chat-nousage")[0]!.body).not.toHaveProperty("stream_options")
      }))

    it.effect("the provider's max_tokens (for all models or per model) is asked when a call sets none", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { max_tokens: { "chat-long": 300 } } })
        yield* (yield* models.chatModel(caller, "chat-long@fake")).generate(question)
        yield* (yield* models.chatModel(caller, "chat-long@fake")).generate(question, { max_tokens: 20 })
        yield* (yield* models.chatModel(caller, "chat-other@fake")).generate(question)
        expect(server.requestsFor("chat-long").map((r) => (r.body as { max_tokens?: number }).max_tokens)).toEqual([300, 20])
        expect(server.requestsFor("chat-other")[0]!.body).not.toHaveProperty("max_tokens")
      }))

    it.effect("a stream cut mid-way fails with ModelError Unavailable, not a defect", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider()
        server.script("chat-cut", { _tag: "CutStream", chunks: 3 })
        const model = yield* models.chatModel(caller, "chat-cut@fake")
        const error = modelError(yield* Effect.exit(Stream.runCollect(model.stream(question))))
        expect(error.reason).toBe("Unavailable")
        expect(server.requestsFor("chat-cut")).toHaveLength(1)
      }))

    it.effect("a stream that ends without [DONE] is BadResponse; the deltas before it were delivered", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider()
        server.script("chat-early", { _tag: "EndStreamEarly", chunks: 2 })
        const model = yield* models.chatModel(caller, "chat-early@fake")
        const seen: Array<string> = []
        const exit = yield* Effect.exit(
          Stream.runForEach(model.stream(question), (d) => Effect.sync(() => d._tag === "Text" && seen.push(d.text)))
        )
        expect(modelError(exit).reason).toBe("BadResponse")
        expect(modelError(exit).message).toContain("[DONE]")
        expect(seen).toEqual(["part 0 ", "part 1 "])
      }))

    it.effect("an error event mid-stream is Unavailable; the server's message is not quoted", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider()
        server.script("chat-errevent", { _tag: "ErrorEvent" })
        const model = yield* models.chatModel(caller, "chat-errevent@fake")
        const error = modelError(yield* Effect.exit(model.generate(question)))
        expect(error.reason).toBe("Unavailable")
        expect(error.message).toContain("reported an error mid-stream")
        expect(error.message).not.toContain("the engine crashed")
      }))

    it.effect("a 503 before streaming is retried; a rejected key is NotConfigured", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider()
        server.script("chat-retry", { _tag: "Status", status: 503 })
        const model = yield* models.chatModel(caller, "chat-retry@fake")
        expect((yield* model.generate(question)).text).toBe("You asked: What colour is the sky?")
        expect(server.requestsFor("chat-retry")).toHaveLength(2)

        const wrong = yield* tenantWithProvider({ name: "wrongkey", apiKey: "sk-wrong-key-for-chat" })
        const rejected = yield* wrong.models.chatModel(wrong.caller, "chat-401@wrongkey")
        const error = modelError(yield* Effect.exit(rejected.generate(question)))
        expect(error.reason).toBe("NotConfigured")
        expect(error.message).not.toContain("sk-wrong-key-for-chat")
      }))
  })

  describe("standalone, without Models", () => {
    it.effect("make builds each service from a connection, on the HttpClient provided", () =>
      Effect.gen(function*() {
        const server = yield* FakeOpenAi
        const connection = { apiBase: server.apiBase, apiKey: Redacted.make(API_KEY), model: "standalone", modelId: "standalone@mine" }
        const embedder = yield* OpenAiEmbedder.make({ ...connection, dimensions: DIMENSIONS })
        expect(embedder.modelId).toBe("standalone@mine")
        expect(yield* embedder.embedQuery("hello")).toEqual(HashEmbedder.embed("hello", DIMENSIONS))
        const reranker = yield* OpenAiReranker.make(connection)
        expect(yield* reranker.rerank("hello world", ["hello", "world hello", "x"])).toEqual([0.5, 1, 0])
        const chat = yield* OpenAiChatModel.make(connection)
        expect((yield* chat.generate(question)).text).toBe("You asked: What colour is the sky?")
        expect(server.requestsFor("standalone").every((r) => r.authorization === `Bearer ${API_KEY}`)).toBe(true)
      }).pipe(Effect.provide(FetchHttpClient.layer)))
  })

  describe("failures", () => {
    it.effect("401: the rejected key is NotConfigured, not retried, and the key appears nowhere in the error", () =>
      Effect.gen(function*() {
        const key = "sk-wrong-9f8e7d6c5b4a"
        const { caller, models, server } = yield* tenantWithProvider({ apiKey: key })
        const exit = yield* Effect.exit(models.embedder(caller, "emb-401@fake"))
        const error = modelError(exit)
        expect(error.reason).toBe("NotConfigured")
        expect(error.message).toContain("rejected the API key (HTTP 401)")
        expect(error.message).not.toContain("Incorrect API key provided")
        expect(server.requestsFor("emb-401")).toHaveLength(1)
        if (Exit.isFailure(exit)) {
          expect(Cause.pretty(exit.cause)).not.toContain(key)
          expect(Inspectable.format(exit.cause)).not.toContain(key)
          expect(JSON.stringify(error)).not.toContain(key)
        }
      }))

    it.effect("403 is NotConfigured too", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { dimensions: DIMENSIONS } })
        server.script("emb-403", { _tag: "Status", status: 403, body: { error: { message: "not allowed to use this model" } } })
        const embedder = yield* models.embedder(caller, "emb-403@fake")
        const error = modelError(yield* Effect.exit(embedder.embedDocuments(["x"])))
        expect(error.reason).toBe("NotConfigured")
        expect(error.message).toContain("HTTP 403")
        expect(error.message).not.toContain("not allowed to use this model")
      }))

    it.effect("404: an unknown model is NotConfigured, named in our words", () =>
      Effect.gen(function*() {
        const { caller, models } = yield* tenantWithProvider()
        const error = modelError(yield* Effect.exit(models.embedder(caller, "no-such-model@fake")))
        expect(error.reason).toBe("NotConfigured")
        expect(error.model).toBe("no-such-model@fake")
        expect(error.message).toContain("model no-such-model@fake not found (HTTP 404)")
        expect(error.message).not.toContain("does not exist")
      }))

    it.effect("400: a refused input is InvalidInput and not retried", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { dimensions: DIMENSIONS } })
        server.script("emb-400", {
          _tag: "Status",
          status: 400,
          body: { error: { message: "This model's maximum context length is 8192 tokens" } }
        })
        const embedder = yield* models.embedder(caller, "emb-400@fake")
        const error = modelError(yield* Effect.exit(embedder.embedDocuments(["x"])))
        expect(error.reason).toBe("InvalidInput")
        expect(error.message).toContain("refused the input (HTTP 400)")
        expect(error.message).not.toContain("maximum context length")
        expect(server.requestsFor("emb-400")).toHaveLength(1)
      }))

    it.effect("429 with Retry-After: 0, then success: the call succeeds on the second attempt", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { dimensions: DIMENSIONS } })
        server.script("emb-429", { _tag: "Status", status: 429, headers: { "retry-after": "0" }, body: { error: { message: "Rate limit reached" } } })
        const embedder = yield* models.embedder(caller, "emb-429@fake")
        const [vector] = yield* embedder.embedDocuments(["x y"])
        expect(vector).toEqual(HashEmbedder.embed("x y", DIMENSIONS))
        expect(server.requestsFor("emb-429")).toHaveLength(2)
      }))

    it.effect("429 three times is RateLimited after 3 attempts", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { dimensions: DIMENSIONS } })
        const limited = { _tag: "Status", status: 429, headers: { "retry-after": "0" } } as const
        server.script("emb-429x3", limited, limited, limited, limited)
        const embedder = yield* models.embedder(caller, "emb-429x3@fake")
        const error = modelError(yield* Effect.exit(embedder.embedDocuments(["x"])))
        expect(error.reason).toBe("RateLimited")
        expect(server.requestsFor("emb-429x3")).toHaveLength(3)
      }))

    it.effect("429 with a Retry-After longer than the retry cap fails at once with RateLimited", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { dimensions: DIMENSIONS } })
        server.script("emb-429-long", { _tag: "Status", status: 429, headers: { "retry-after": "120" } })
        const embedder = yield* models.embedder(caller, "emb-429-long@fake")
        const started = Date.now()
        const error = modelError(yield* Effect.exit(embedder.embedDocuments(["x"])))
        expect(error.reason).toBe("RateLimited")
        expect(Date.now() - started).toBeLessThan(5_000)
        expect(server.requestsFor("emb-429-long")).toHaveLength(1)
      }))

    it.effect("500 three times is Unavailable after 3 attempts; twice, then success, succeeds", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { dimensions: DIMENSIONS } })
        const failing = { _tag: "Status", status: 500, body: { error: { message: "internal error" } } } as const
        server.script("emb-500", failing, failing, failing)
        const embedder = yield* models.embedder(caller, "emb-500@fake")
        const error = modelError(yield* Effect.exit(embedder.embedDocuments(["x"])))
        expect(error.reason).toBe("Unavailable")
        expect(error.message).toContain("HTTP 500")
        expect(server.requestsFor("emb-500")).toHaveLength(3)

        server.script("emb-500", failing, failing)
        expect(yield* embedder.embedDocuments(["x"])).toHaveLength(1)
        expect(server.requestsFor("emb-500")).toHaveLength(6)
      }))

    it.effect("connection refused is Unavailable (after the retries)", () =>
      Effect.gen(function*() {
        const apiBase = yield* closedPortUrl
        const { caller, models } = yield* tenantWithProvider({ name: "closed", apiBase: `${apiBase}/v1` })
        const error = modelError(yield* Effect.exit(models.embedder(caller, "emb-refused@closed")))
        expect(error.reason).toBe("Unavailable")
        expect(error.message).toContain("unreachable")
        const chat = yield* models.chatModel(caller, "chat-refused@closed")
        expect(modelError(yield* Effect.exit(chat.generate(question))).reason).toBe("Unavailable")
        const reranker = yield* models.reranker(caller, "rr-refused@closed")
        expect(modelError(yield* Effect.exit(reranker.rerank("q", ["a"]))).reason).toBe("Unavailable")
      }))

    it.effect("malformed JSON is BadResponse and not retried; JSON of the wrong shape too", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { dimensions: DIMENSIONS } })
        server.script(
          "emb-garbage",
          { _tag: "Raw", status: 200, contentType: "application/json", body: "{\"data\": [oops" },
          { _tag: "Status", status: 200, body: { data: "not a list" } },
          { _tag: "Status", status: 200, body: { data: [{ index: 0, embedding: ["NaN"] }] } }
        )
        const embedder = yield* models.embedder(caller, "emb-garbage@fake")
        const error = modelError(yield* Effect.exit(embedder.embedDocuments(["x"])))
        expect(error.reason).toBe("BadResponse")
        expect(error.message).toContain("malformed JSON")
        expect(server.requestsFor("emb-garbage")).toHaveLength(1)
        expect(modelError(yield* Effect.exit(embedder.embedDocuments(["x"]))).reason).toBe("BadResponse")
        expect(modelError(yield* Effect.exit(embedder.embedDocuments(["x"]))).reason).toBe("BadResponse")
      }))

    it.effect("a server that does not answer times out (timeout_ms) as Unavailable, retried up to max_attempts", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { dimensions: DIMENSIONS, timeout_ms: 300, max_attempts: 2 } })
        server.script("emb-hang", { _tag: "Hang" }, { _tag: "Hang" })
        const embedder = yield* models.embedder(caller, "emb-hang@fake")
        const started = Date.now()
        const error = modelError(yield* Effect.exit(embedder.embedDocuments(["x"])))
        const elapsed = Date.now() - started
        expect(error.reason).toBe("Unavailable")
        expect(error.message).toContain("did not answer within")
        expect(elapsed).toBeGreaterThanOrEqual(550)
        expect(elapsed).toBeLessThan(10_000)
        expect(server.requestsFor("emb-hang")).toHaveLength(2)

        server.script("chat-hang", { _tag: "Hang" }, { _tag: "Hang" })
        const chat = yield* models.chatModel(caller, "chat-hang@fake")
        expect(modelError(yield* Effect.exit(chat.generate(question))).reason).toBe("Unavailable")
      }))

    it.effect("a stream that stalls after its first chunk fails with Unavailable once the timeout passes without a chunk", () =>
      Effect.gen(function*() {
        const { caller, models, server } = yield* tenantWithProvider({ settings: { timeout_ms: 300 } })
        server.script("chat-stall", { _tag: "StallStream" })
        const model = yield* models.chatModel(caller, "chat-stall@fake")
        const seen: Array<string> = []
        const exit = yield* Effect.exit(
          Stream.runForEach(model.stream(question), (d) => Effect.sync(() => d._tag === "Text" && seen.push(d.text)))
        )
        const error = modelError(exit)
        expect(error.reason).toBe("Unavailable")
        expect(error.message).toContain("sent nothing for")
        expect(seen).toEqual(["Stalled "])
        expect(server.requestsFor("chat-stall")).toHaveLength(1)
      }))

    it.effect("a provider without api_base, or with bad settings, is NotConfigured", () =>
      Effect.gen(function*() {
        const { caller, models } = yield* tenantWithProvider({ name: "nobase", apiBase: "" })
        const error = modelError(yield* Effect.exit(models.embedder(caller, "emb@nobase")))
        expect(error.reason).toBe("NotConfigured")
        expect(error.message).toContain("no api_base")
        const bad = yield* tenantWithProvider({ name: "badsettings", settings: { max_batch_size: "lots" } })
        const badError = modelError(yield* Effect.exit(bad.models.embedder(bad.caller, "emb@badsettings")))
        expect(badError.reason).toBe("NotConfigured")
        expect(badError.message).toContain("max_batch_size")
      }))
  })
})
