/**
 * A dialog's completion end to end over the `openai-compatible` adapters and the fake server: the
 * knowledge base embedded by the server's embeddings, the answer streamed by its chat completions,
 * one reply that cites (`[ID:0]`) and one that does not (citations inserted with the embedder).
 */
import { describe, expect, layer } from "@effect/vitest"
import {
  ChunkMethod,
  Completions,
  Conversations,
  decodeRequest,
  decoding,
  Dialogs,
  Documents,
  Ingestion,
  KnowledgeBases,
  Models,
  Rag
} from "@ragkit/core"
import { Chunk, Effect, Layer, Stream } from "effect"
import { engineOptions, Plugin } from "./env.js"
import * as FakeOpenAi from "./FakeOpenAi.js"
import { newCaller } from "./support.js"

/** One chunk per paragraph. */
const paragraphs: ChunkMethod.ChunkMethod = {
  id: "naive",
  accepts: ["txt"],
  chunk: (doc) => Effect.succeed(doc.sections.map((s) => ({ content: s.text, page_num: [], positions: [] })))
}

const Engine = Rag.layerWorker({ heartbeatMs: 100 }).pipe(
  Layer.provideMerge(Rag.layer(Rag.layerMemoryPorts, [Plugin], engineOptions)),
  Layer.provideMerge(ChunkMethod.layer([paragraphs])),
  Layer.merge(FakeOpenAi.layer)
)

const PETS = "Otters hold hands while sleeping so they do not drift apart.\n\nCats sleep for most of the day and hunt at dusk."
const SPACE = "The Moon orbits the Earth every twenty-seven days.\n\nMars has two small moons called Phobos and Deimos."
const MARS = "Mars has two small moons called Phobos and Deimos."
const QUESTION = "How many moons does Mars have?"

/** A tenant with the fake provider, a knowledge base it embedded (pets.txt, space.txt), and a dialog answering with `chat`. */
const setup = (chat: string) =>
  Effect.gen(function*() {
    const server = yield* FakeOpenAi.FakeOpenAi
    const me = yield* newCaller
    yield* decoding(yield* Models.Models, Models.Operations).addProvider(me, {
      name: "fake",
      kind: "openai-compatible",
      api_base: server.apiBase,
      api_key: FakeOpenAi.API_KEY,
      settings: { dimensions: FakeOpenAi.DIMENSIONS }
    })
    const kb = yield* decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations).create(me, {
      name: "Facts",
      embedding_model: "embed@fake"
    })
    const docs = yield* Documents.Documents
    const uploaded = yield* docs.upload(me, {
      kb_id: kb.id,
      files: [
        { name: "pets.txt", bytes: new TextEncoder().encode(PETS) },
        { name: "space.txt", bytes: new TextEncoder().encode(SPACE) }
      ]
    })
    yield* docs.parse(me, { doc_ids: uploaded.map((d) => d.id) })
    yield* (yield* Ingestion.Ingestion).drain
    const dialog = yield* decoding(yield* Dialogs.Dialogs, Dialogs.Operations).create(me, { name: "Facts bot", kb_ids: [kb.id], llm_id: `${chat}@fake` })
    const space = uploaded.find((d) => d.name === "space.txt")!
    return { server, me, dialog, space, completions: yield* Completions.Completions, conversations: yield* Conversations.Conversations }
  })

layer(Engine, { excludeTestServices: true, timeout: 60_000 })((it) => {
  describe("completion over an OpenAI-compatible server", () => {
    it.effect("a reply that cites [ID:0]: the answer, its reference and the stored conversation", () =>
      Effect.gen(function*() {
        const { completions, conversations, dialog, me, server, space } = yield* setup("chat-cites")
        server.script("chat-cites", { _tag: "Reply", text: "Mars has two moons, Phobos and Deimos [ID:0]." })
        const request = yield* decodeRequest(Completions.CompleteRequest)({ dialog_id: dialog.id, messages: [{ role: "user", content: QUESTION }], stream: false })
        const result = yield* completions.complete(me, request)

        expect(result.answer).toBe("Mars has two moons, Phobos and Deimos [ID:0].")
        expect(result.reference.chunks[0]).toMatchObject({ content: MARS, document_id: space.id, document_name: "space.txt" })
        expect(result.reference.doc_aggs.map((d) => d.doc_name)).toEqual(["space.txt"])
        // The server's usage report (its words) reached the result.
        expect(result.usage.completion_tokens).toBeGreaterThan(0)
        expect(result.usage.prompt_tokens).toBeGreaterThan(100)

        // What went over the wire: the system prompt with the numbered passages, then the question.
        const [call, ...more] = server.requestsFor("chat-cites")
        expect(more).toHaveLength(0)
        const body = call!.body as { messages: Array<{ role: string; content: string }>; stream: boolean }
        expect(body.stream).toBe(true)
        expect(body.messages.map((m) => m.role)).toEqual(["system", "user"])
        expect(body.messages[0]!.content).toContain(`ID: 0\n├── Title: space.txt\n└── Content:\n${MARS}`)
        expect(body.messages[1]!.content).toBe(QUESTION)

        const stored = yield* conversations.get(me, { conversation_id: result.conversation_id })
        expect(stored.message.slice(-2).map((m) => [m.role, m.content])).toEqual([["user", QUESTION], ["assistant", result.answer]])
        expect(stored.message.at(-1)!.reference).toEqual(result.reference)
      }))

    it.effect("a reply without citations, streamed: citations inserted by matching its sentences with the embedder", () =>
      Effect.gen(function*() {
        const { completions, conversations, dialog, me, server, space } = yield* setup("chat-plain")
        const reply = `${MARS} Otters are unrelated to this question entirely.`
        server.script("chat-plain", { _tag: "Reply", text: reply })
        const embeddingsBefore = server.requestsFor("embed").length
        const request = yield* decodeRequest(Completions.CompleteRequest)({ dialog_id: dialog.id, messages: [{ role: "user", content: QUESTION }] })
        const events = Chunk.toReadonlyArray(yield* Stream.runCollect(completions.stream(me, request)))

        const deltas = events.filter((e) => e._tag === "Delta")
        expect(deltas.length).toBeGreaterThan(1)
        expect(deltas.map((d) => d.text).join("")).toBe(reply)
        const done = events.at(-1)!
        if (done._tag !== "Done") return expect.unreachable()
        const mars = done.reference.chunks.findIndex((c) => c.content === MARS)
        expect(mars).toBeGreaterThanOrEqual(0)
        expect(done.answer).toBe(`${MARS.slice(0, -1)} [ID:${mars}]. Otters are unrelated to this question entirely.`)
        expect(done.reference.doc_aggs.map((d) => d.doc_id)).toEqual([space.id])

        // The query, then the answer's sentences, went to the embeddings endpoint.
        const embedded = server.requestsFor("embed").slice(embeddingsBefore).map((r) => (r.body as { input: Array<string> }).input)
        expect(embedded).toContainEqual([MARS.slice(0, -1), "Otters are unrelated to this question entirely."])

        const stored = yield* conversations.get(me, { conversation_id: done.conversation_id })
        expect(stored.message.at(-1)).toMatchObject({ id: done.message_id, content: done.answer, incomplete: false })
      }))
  })
})
