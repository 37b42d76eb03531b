/** The `ollama` adapters against fake Ollama servers: the wire format, the legacy fallback, failures. */
import { describe, expect, layer } from "@effect/vitest"
import { HashEmbedder } from "@ragkit/core/testing"
import { Chunk, Effect, Option, Stream } from "effect"
import * as OllamaEmbedder from "../../src/ollama/OllamaEmbedder.js"
import { modelError } from "../openai/errors.js"
import { closedPortUrl } from "../openai/support.js"
import { Env, Servers, tenantWithProvider } from "./env.js"
import { DIMENSIONS } from "./FakeOllama.js"

const texts = ["The cat sat on the mat.", "Solar panels turn sunlight into electricity.", "Paris is the capital of France."]
const question = [{ role: "system", content: "Be brief." }, { role: "user", content: "What colour is the sky?" }] as const

layer(Env, { excludeTestServices: true, timeout: 60_000 })((it) => {
  describe("embeddings", () => {
    it.effect("POSTs { model, input } to /api/embed, probes the dimension once, no Authorization without a key", () =>
      Effect.gen(function*() {
        const { caller, models, servers } = yield* tenantWithProvider()
        const embedder = yield* models.embedder(caller, "emb-native@local")
        expect(embedder.modelId).toBe("emb-native@local")
        expect(embedder.dimensions).toBe(DIMENSIONS)
        const vectors = yield* embedder.embedDocuments(texts)
        const requests = servers.current.requestsFor("emb-native")
        expect(requests.map((r) => [r.method, r.path, r.body])).toEqual([
          ["POST", "/api/embed", { model: "emb-native", input: [OllamaEmbedder.probeText] }],
          ["POST", "/api/embed", { model: "emb-native", input: texts }]
        ])
        expect(requests.every((r) => r.authorization === undefined)).toBe(true)
        vectors.forEach((vector, i) => expect(vector).toEqual(HashEmbedder.embed(texts[i]!, DIMENSIONS)))
        yield* models.embedder(caller, "emb-native@local")
        expect(servers.current.requestsFor("emb-native")).toHaveLength(2)
      }))

    it.effect("a key, when set (a proxy in front of Ollama), is sent as a Bearer token", () =>
      Effect.gen(function*() {
        const { caller, models, servers } = yield* tenantWithProvider({ apiKey: "proxy-key-1" })
        yield* models.embedder(caller, "emb-key@local")
        expect(servers.current.requestsFor("emb-key")[0]!.authorization).toBe("Bearer proxy-key-1")
      }))

    it.effect("an old server without /api/embed: falls back to /api/embeddings, one prompt per text, and stays there", () =>
      Effect.gen(function*() {
        const { legacy } = yield* Servers
        const { caller, models, servers } = yield* tenantWithProvider({ name: "old", apiBase: legacy.url })
        const embedder = yield* models.embedder(caller, "emb-legacy@old")
        expect(embedder.dimensions).toBe(DIMENSIONS)
        const vectors = yield* embedder.embedDocuments(texts.slice(0, 2))
        vectors.forEach((vector, i) => expect(vector).toEqual(HashEmbedder.embed(texts[i]!, DIMENSIONS)))
        expect(servers.legacy.requestsFor("emb-legacy").map((r) => [r.path, r.body])).toEqual([
          ["/api/embed", { model: "emb-legacy", input: [OllamaEmbedder.probeText] }],
          ["/api/embeddings", { model: "emb-legacy", prompt: OllamaEmbedder.probeText }],
          ["/api/embeddings", { model: "emb-legacy", prompt: texts[0] }],
          ["/api/embeddings", { model: "emb-legacy", prompt: texts[1] }]
        ])
      }))

    it.effect("a model that is not pulled is NotConfigured; Ollama's message is not quoted", () =>
      Effect.gen(function*() {
        const { caller, models } = yield* tenantWithProvider()
        const error = modelError(yield* Effect.exit(models.embedder(caller, "no-such-model@local")))
        expect(error.reason).toBe("NotConfigured")
        expect(error.message).toContain("model no-such-model@local not found (HTTP 404)")
        expect(error.message).not.toContain("try pulling it first")
        const { legacy } = yield* Servers
        const old = yield* tenantWithProvider({ name: "old", apiBase: legacy.url })
        const legacyError = modelError(yield* Effect.exit(old.models.embedder(old.caller, "no-such-model@old")))
        expect(legacyError.reason).toBe("NotConfigured")
      }))

    it.effect("without api_base the provider points at http://127.0.0.1:11434", () =>
      Effect.gen(function*() {
        const { caller, models } = yield* tenantWithProvider({ name: "default", apiBase: "", settings: { max_attempts: 1, timeout_ms: 2_000 } })
        // Whatever runs on this machine's port 11434 (nothing, or a real Ollama without this model),
        // the error names the default address.
        const exit = yield* Effect.exit(models.embedder(caller, "ragkit-surely-not-pulled-model@default"))
        const error = modelError(exit)
        expect(error.message).toContain("http://127.0.0.1:11434/api/")
      }))

    it.effect("500 three times is Unavailable after 3 attempts; a closed port is Unavailable", () =>
      Effect.gen(function*() {
        const { caller, models, servers } = yield* tenantWithProvider({ settings: { dimensions: DIMENSIONS } })
        const failing = { _tag: "Status", status: 500, body: { error: "llama runner process has terminated" } } as const
        servers.current.script("emb-500", failing, failing, failing)
        const embedder = yield* models.embedder(caller, "emb-500@local")
        const error = modelError(yield* Effect.exit(embedder.embedDocuments(["x"])))
        expect(error.reason).toBe("Unavailable")
        expect(error.message).toContain("is unavailable (HTTP 500)")
        expect(error.message).not.toContain("llama runner process has terminated")
        expect(servers.current.requestsFor("emb-500")).toHaveLength(3)

        const closed = yield* closedPortUrl
        const refused = yield* tenantWithProvider({ name: "closed", apiBase: closed })
        expect(modelError(yield* Effect.exit(refused.models.embedder(refused.caller, "emb@closed"))).reason).toBe("Unavailable")
      }))

    it.effect("JSON of the wrong shape is BadResponse", () =>
      Effect.gen(function*() {
        const { caller, models, servers } = yield* tenantWithProvider({ settings: { dimensions: DIMENSIONS } })
        servers.current.script("emb-shape", { _tag: "Status", status: 200, body: { embedding: [1, 2] } })
        const embedder = yield* models.embedder(caller, "emb-shape@local")
        expect(modelError(yield* Effect.exit(embedder.embedDocuments(["x"]))).reason).toBe("BadResponse")
      }))

    it.effect("Ollama serves no reranker", () =>
      Effect.gen(function*() {
        const { caller, models } = yield* tenantWithProvider()
        expect(modelError(yield* Effect.exit(models.reranker(caller, "bge-reranker@local"))).reason).toBe("NotConfigured")
      }))
  })

  describe("chat", () => {
    it.effect("POSTs { model, messages, stream: true, options } to /api/chat; NDJSON deltas, then the usage", () =>
      Effect.gen(function*() {
        const { caller, models, servers } = yield* tenantWithProvider()
        const model = yield* models.chatModel(caller, "chat-shape@local")
        const deltas = Chunk.toReadonlyArray(
          yield* Stream.runCollect(model.stream(question, { temperature: 0, max_tokens: 16, top_p: 0.5, stop: ["END"] }))
        )
        const text = deltas.flatMap((d) => (d._tag === "Text" ? [d.text] : [])).join("")
        expect(text).toBe("Ollama says: What colour is the sky?")
        expect(deltas.filter((d) => d._tag === "Text").length).toBeGreaterThan(1)
        expect(deltas[deltas.length - 1]).toMatchObject({ _tag: "Usage", promptTokens: 7, completionTokens: 7 })
        const [request] = servers.current.requestsFor("chat-shape")
        expect(request!.path).toBe("/api/chat")
        expect(request!.body).toEqual({
          model: "chat-shape",
          messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "What colour is the sky?" }],
          stream: true,
          options: { temperature: 0, top_p: 0.5, num_predict: 16, stop: ["END"] }
        })
        const result = yield* model.generate(question)
        expect(result.usage).toEqual(Option.some({ promptTokens: 7, completionTokens: 7 }))
      }))

    it.effect("a stream cut mid-way is ModelError Unavailable; one ended before done: true is BadResponse", () =>
      Effect.gen(function*() {
        const { caller, models, servers } = yield* tenantWithProvider()
        servers.current.script("chat-cut", { _tag: "CutStream", lines: 2 }, { _tag: "EndStreamEarly", lines: 2 })
        const model = yield* models.chatModel(caller, "chat-cut@local")
        expect(modelError(yield* Effect.exit(model.generate(question))).reason).toBe("Unavailable")
        const early = modelError(yield* Effect.exit(model.generate(question)))
        expect(early.reason).toBe("BadResponse")
        expect(early.message).toContain("done: true")
      }))

    it.effect("an error line mid-stream is Unavailable (Ollama's message not quoted); a model not pulled is NotConfigured", () =>
      Effect.gen(function*() {
        const { caller, models, servers } = yield* tenantWithProvider()
        servers.current.script("chat-err", { _tag: "ErrorLine" })
        const model = yield* models.chatModel(caller, "chat-err@local")
        const error = modelError(yield* Effect.exit(model.generate(question)))
        expect(error.reason).toBe("Unavailable")
        expect(error.message).toContain("reported an error mid-stream")
        expect(error.message).not.toContain("out of memory")
        const missing = yield* models.chatModel(caller, "no-such-model@local")
        expect(modelError(yield* Effect.exit(missing.generate(question))).reason).toBe("NotConfigured")
      }))

    it.effect("a server that does not answer times out as Unavailable", () =>
      Effect.gen(function*() {
        const { caller, models, servers } = yield* tenantWithProvider({ settings: { timeout_ms: 250, max_attempts: 1 } })
        servers.current.script("chat-hang", { _tag: "Hang" })
        const model = yield* models.chatModel(caller, "chat-hang@local")
        const error = modelError(yield* Effect.exit(model.generate(question)))
        expect(error.reason).toBe("Unavailable")
        expect(error.message).toContain("did not answer within")
      }))
  })
})
