/**
 * Retrieval's question helpers (RAGFlow's `/retrieval` `keyword` and `cross_languages`): the
 * tenant's default chat model names keywords or translates the question before the search.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either, Layer, Option } from "effect"
import { ModelError } from "../../src/domain/Errors.js"
import { Tenant } from "../../src/domain/Records.js"
import * as ChunkMethod from "../../src/ports/ChunkMethod.js"
import { RecordStore } from "../../src/ports/RecordStore.js"
import * as Rag from "../../src/Rag.js"
import { decoding } from "../../src/RagClient.js"
import { Documents } from "../../src/services/Documents.js"
import { Ingestion } from "../../src/services/Ingestion.js"
import * as KnowledgeBases from "../../src/services/KnowledgeBases.js"
import * as Retrieval from "../../src/services/Retrieval.js"
import * as ScriptedChatModel from "../../src/testing/ScriptedChatModel.js"
import * as TestModels from "../../src/testing/TestModels.js"
import * as Tokenizer from "../../src/text/Tokenizer.js"
import { newCaller, text } from "./helpers.js"
import { paragraphs } from "./ingestionHelpers.js"
import { scripted, ScriptedProvider } from "./scriptedModels.js"

const Engine = Rag.layerWorker({ heartbeatMs: 100 }).pipe(
  Layer.provideMerge(Rag.layer(Rag.layerMemoryPorts, [TestModels.layer, ScriptedProvider])),
  Layer.provideMerge(Layer.merge(ChunkMethod.layer([paragraphs]), Tokenizer.layer))
)

const FACTS = [
  "Otters hold hands while sleeping so they do not drift apart.",
  "Mars has two small moons called Phobos and Deimos."
].join("\n\n")

/** A tenant whose default chat model is a scripted one (none when `replies` is undefined), with a parsed knowledge base. */
const setup = (replies: ScriptedChatModel.Script | undefined) =>
  Effect.gen(function* () {
    const store = yield* RecordStore
    const model = replies === undefined ? undefined : yield* scripted({ replies })
    const llm_id = model?.llm_id ?? ""
    const control = model?.control
    const me = yield* newCaller()
    const tenant = Option.getOrThrow(yield* store.tenants.get(me.tenantId))
    yield* store.tenants.update(new Tenant({ ...tenant, llm_id }))
    const kb = yield* decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations).create(me, { name: "Facts" })
    const docs = yield* Documents
    const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "facts.txt", bytes: text(FACTS) }] })
    yield* docs.parse(me, { doc_ids: [doc!.id] })
    yield* (yield* Ingestion).drain
    const retrieval = decoding(yield* Retrieval.Retrieval, Retrieval.Operations)
    return { me, kb, retrieval, control }
  })

/** The contents found. */
const contents = (result: Retrieval.RetrievalResult) => result.chunks.map((c) => c.chunk.content)

describe("Retrieval question helpers", () => {
  layer(Engine)((it) => {
    it.effect("keyword: appends the chat model's keywords to the question before searching", () =>
      Effect.gen(function* () {
        const { control, kb, me, retrieval } = yield* setup(["Phobos, Deimos"])
        const without = yield* retrieval.retrieve(me, { question: "zorblax quuxify", kb_ids: [kb.id] })
        expect(without.total).toBe(0)
        expect(yield* control!.calls).toHaveLength(0)
        const found = yield* retrieval.retrieve(me, { question: "zorblax quuxify", kb_ids: [kb.id], keyword: true, highlight: true })
        expect(contents(found)).toEqual(["Mars has two small moons called Phobos and Deimos."])
        expect(found.chunks[0]!.highlight).toContain("<em>Phobos</em>")
        const calls = yield* control!.calls
        expect(calls).toHaveLength(1)
        expect(calls[0]!.messages.map((m) => m.content).join("\n")).toContain("zorblax quuxify")
      }))

    it.effect("cross_languages: searches with the question translated into the languages asked", () =>
      Effect.gen(function* () {
        const { control, kb, me, retrieval } = yield* setup(["Why do otters hold hands?\n###\n¿Por qué las nutrias se dan la mano?"])
        const found = yield* retrieval.retrieve(me, {
          question: "Pourquoi les loutres se tiennent-elles la main ?",
          kb_ids: [kb.id],
          cross_languages: ["English", "Spanish"]
        })
        expect(contents(found)[0]).toMatch(/^Otters hold hands/)
        const [call] = yield* control!.calls
        const prompt = call!.messages.map((m) => m.content).join("\n")
        expect(prompt).toContain("Pourquoi les loutres")
        expect(prompt).toContain("English, Spanish")
      }))

    it.effect("a failing chat model leaves the question as it was", () =>
      Effect.gen(function* () {
        const { control, kb, me, retrieval } = yield* setup(["never used"])
        yield* control!.failNext(new ModelError({ reason: "Unavailable", model: "m", message: "down" }))
        const found = yield* retrieval.retrieve(me, { question: "otters hold hands", kb_ids: [kb.id], keyword: true })
        expect(contents(found)[0]).toMatch(/^Otters hold hands/)
      }))

    it.effect("without a default chat model, keyword and cross_languages fail as not configured; plain retrieval works", () =>
      Effect.gen(function* () {
        const { kb, me, retrieval } = yield* setup(undefined)
        for (const extra of [{ keyword: true }, { cross_languages: ["German"] }]) {
          const failed = yield* Effect.either(retrieval.retrieve(me, { question: "otters", kb_ids: [kb.id], ...extra }))
          expect(Either.isLeft(failed) && failed.left._tag === "ModelError" && failed.left.reason).toBe("NotConfigured")
        }
        const plain = yield* retrieval.retrieve(me, { question: "otters", kb_ids: [kb.id], keyword: false, cross_languages: [] })
        expect(plain.total).toBeGreaterThan(0)
      }))
  })
})
