/**
 * The README's walkthrough (register, log in, an API key, a knowledge base, the manual uploaded
 * and parsed, a chat assistant, a conversation, a question) run through `@ragkit/client` only,
 * against a real server (the memory engine, an ingestion worker, the test chat model) on a
 * loopback port.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { type ChunkMethod, Ingestion, Rag, Tokenizer } from "@ragkit/core"
import { TestModels } from "@ragkit/core/doubles"
import * as Parsers from "@ragkit/parsers"
import { Http } from "@ragkit/server"
import { Effect, Layer, ManagedRuntime } from "effect"
import { readFile } from "node:fs/promises"
import { createServer } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createClient, makeClient } from "../src/index.js"

/** The memory engine with every parser (no OCR), the test models and an ingestion worker. */
const memoryEngine: Layer.Layer<Rag.Ports | Rag.Services | ChunkMethod.ChunkMethodRegistry, unknown, never> = Rag.layer(
  Layer.mergeAll(Rag.layerMemoryStores, Tokenizer.layer, Parsers.layerWithoutOcr().pipe(Layer.provide(Tokenizer.layer))),
  [TestModels.layer],
  { tenantDefaults: { embd_id: "hash-64@Test", llm_id: "echo@Test" } }
)

const engine = Layer.provideMerge(
  Layer.scopedDiscard(Effect.flatMap(Ingestion.Ingestion, (worker) => Effect.forkScoped(worker.run))).pipe(
    Layer.provide(Rag.layerWorker({ pollMs: 20, heartbeatMs: 100 }))
  ),
  memoryEngine
)

let runtime: { readonly dispose: () => Promise<void> }
let baseUrl: string

beforeAll(async () => {
  const server = NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })
  const rt = ManagedRuntime.make(Http.app.pipe(Layer.provideMerge(engine), Layer.provideMerge(server)))
  runtime = rt
  const address = (await rt.runPromise(HttpServer.HttpServer)).address
  if (address._tag !== "TcpAddress") throw new Error("the test server is not on TCP")
  baseUrl = `http://127.0.0.1:${address.port}`
}, 60_000)
afterAll(() => runtime?.dispose())

const manual = new URL("../../../docs/walkthrough/aurora-manual.pdf", import.meta.url)

describe("@ragkit/client", () => {
  it("runs the README's walkthrough", async () => {
    const pdf = await readFile(manual)
    const answer = await Effect.runPromise(Effect.gen(function* () {
      // Register, then log in: the session token is data.access_token
      const anonymous = yield* makeClient({ baseUrl })
      const registered = yield* anonymous.user.register({ payload: { email: "ada@example.com", nickname: "Ada", password: "correct horse" } })
      expect(registered.message).toMatch(/welcome/i)
      const login = yield* anonymous.user.login({ payload: { email: "ada@example.com", password: "correct horse" } })

      // An API key for the rest
      const session = yield* makeClient({ baseUrl, apiKey: login.data.access_token })
      const key = (yield* session.system.newToken()).data.token
      const client = yield* makeClient({ baseUrl, apiKey: key })

      // A knowledge base, a PDF uploaded to it, parsed
      const kb = (yield* client.kbs.create({ payload: { name: "Manuals" } })).data.kb_id
      const form = new FormData()
      form.append("kb_id", kb)
      form.append("file", new Blob([pdf], { type: "application/pdf" }), "aurora-manual.pdf")
      const doc = (yield* client.documents.upload({ urlParams: {}, payload: form })).data[0]!.id
      expect((yield* client.documents.run({ payload: { doc_ids: [doc], run: "1" } })).data).toBe(true)

      // Poll until parsed: run is "1" while parsing, then "3" (done) or "4" (failed)
      const listed = () => Effect.map(client.documents.list({ urlParams: { kb_id: kb }, payload: {} }), (r) => r.data.docs[0]!)
      let parsed = yield* listed()
      for (let i = 0; i < 200 && (parsed.run === "1" || parsed.run === "0"); i++) {
        yield* Effect.sleep("25 millis")
        parsed = yield* listed()
      }
      expect([parsed.name, parsed.run]).toEqual(["aurora-manual.pdf", "3"])
      expect(parsed.chunk_num).toBeGreaterThan(0)

      // A chat assistant over the knowledge base, a conversation, a question
      const dialog = (yield* client.dialogs.set({ payload: { name: "Kettle help", kb_ids: [kb] } })).data.id
      const conversation = (yield* client.conversations.set({ payload: { dialog_id: dialog, is_new: true, name: "Descaling" } })).data.id
      const completion = yield* client.conversations.completion({
        payload: { conversation_id: conversation, stream: false, messages: [{ role: "user", content: "How often should I descale the kettle?" }] }
      })
      return completion.data
    }))
    expect(answer.answer).toContain("descale")
    expect(answer.reference.doc_aggs.map((d) => d.doc_name)).toContain("aurora-manual.pdf")
    expect(answer.reference.chunks.length).toBeGreaterThan(0)
  })

  it("has a Promise facade with the same methods; a refused request rejects with the route's declared error", async () => {
    const anonymous = createClient({ baseUrl })
    await anonymous.user.register({ payload: { email: "grace@example.com", nickname: "Grace", password: "correct horse" } })
    const login = await anonymous.user.login({ payload: { email: "grace@example.com", password: "correct horse" } })
    const client = createClient({ baseUrl, apiKey: login.data.access_token })
    const info = await client.user.info()
    expect(info.data.email).toBe("grace@example.com")
    const created = await client.kbs.create({ payload: { name: "Notes" } })
    const retrieved = await createClient({ baseUrl, apiKey: (await client.system.newToken()).data.token }).dify.retrieval({
      payload: { knowledge_id: created.data.kb_id, query: "anything", retrieval_setting: { top_k: 3, score_threshold: 0 } }
    })
    expect(retrieved).toEqual({ records: [] })

    const refused = await createClient({ baseUrl, apiKey: "ragflow-not-a-key" }).user.info().then(() => undefined, (e: unknown) => e)
    expect(refused).toMatchObject({ code: 109 })
    expect((refused as { constructor: { name: string } }).constructor.name).toBe("Unauthorized")
    const difyRefused = await createClient({ baseUrl, apiKey: "ragflow-not-a-key" }).dify.retrieval({ payload: { knowledge_id: created.data.kb_id, query: "x" } }).then(() => undefined, (e: unknown) => e)
    expect(difyRefused).toMatchObject({ error_code: 1002 })
  })
})
