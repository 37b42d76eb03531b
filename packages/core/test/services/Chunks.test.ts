import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import type { Caller } from "../../src/domain/Caller.js"
import type { ChunkId } from "../../src/domain/Ids.js"
import * as ChunkMethod from "../../src/ports/ChunkMethod.js"
import * as Rag from "../../src/Rag.js"
import { createRagClient, decoding } from "../../src/RagClient.js"
import * as Chunks from "../../src/services/Chunks.js"
import * as Documents from "../../src/services/Documents.js"
import * as KnowledgeBases from "../../src/services/KnowledgeBases.js"
import * as Retrieval from "../../src/services/Retrieval.js"
import { Ingestion } from "../../src/services/Ingestion.js"
import * as TestModels from "../../src/testing/TestModels.js"
import * as Tokenizer from "../../src/text/Tokenizer.js"
import { Engine, joinTeam, newCaller, text } from "./helpers.js"
import { paragraphs } from "./ingestionHelpers.js"

/** The services as the surfaces call them: requests decoded first. */
const services = Effect.all({
  chunks: Effect.map(Chunks.Chunks, (s) => decoding(s, Chunks.Operations)),
  docs: Effect.map(Documents.Documents, (s) => decoding(s, Documents.Operations)),
  kbs: Effect.map(KnowledgeBases.KnowledgeBases, (s) => decoding(s, KnowledgeBases.Operations)),
  retrieval: Effect.map(Retrieval.Retrieval, (s) => decoding(s, Retrieval.Operations))
})

/** A tenant with a knowledge base and an empty (virtual) document. */
const setup = Effect.gen(function* () {
  const { docs, kbs } = yield* services
  const me = yield* newCaller()
  const kb = yield* kbs.create(me, { name: "Notes", embedding_model: "hash-64@Test" })
  const doc = yield* docs.createVirtual(me, { kb_id: kb.id, name: "notes" })
  return { me, kb, doc }
})

/** Ids of the chunks retrieval finds for `question`, by text only (`weight` 0) or by vector only (1). */
const found = (me: Caller, kbId: string, question: string, weight: 0 | 1) =>
  Effect.flatMap(services, ({ retrieval }) =>
    Effect.map(
      retrieval.retrieve(me, { question, kb_ids: [kbId], vector_similarity_weight: weight, similarity_threshold: weight === 1 ? 0.9 : 0.2 }),
      (r) => r.chunks.map((c) => c.chunk.id)
    )
  )

describe("Chunks", () => {
  layer(Engine)((it) => {
    it.effect("an added chunk is searchable at once, by text and by vector, and counted", () =>
      Effect.gen(function* () {
        const { chunks, docs, kbs } = yield* services
        const { me, kb, doc } = yield* setup
        const content = "Otters hold hands while they sleep."
        const chunk = yield* chunks.add(me, { doc_id: doc.id, content, important_keywords: ["otter", " "], questions: ["Why do otters hold hands?"] })
        expect(chunk).toMatchObject({ doc_id: doc.id, kb_id: kb.id, tenant_id: kb.tenant_id, content, available: true, important_keywords: ["otter"] })
        expect(chunk.content_ltks).toContain("otter")
        expect(chunk.token_num).toBeGreaterThan(0)
        expect(chunk.vector).toHaveLength(64)

        expect(yield* found(me, kb.id, "otters hands", 0)).toEqual([chunk.id])
        expect(yield* found(me, kb.id, content, 1)).toEqual([chunk.id])
        expect(yield* chunks.get(me, { doc_id: doc.id, chunk_id: chunk.id })).toEqual(chunk)

        const second = yield* chunks.add(me, { kb_id: kb.id, doc_id: doc.id, content: "Cats sleep most of the day." })
        expect(second.index).toBe(1)
        const after = yield* docs.get(me, { doc_id: doc.id })
        expect([after.chunk_num, after.token_num]).toEqual([2, chunk.token_num + second.token_num])
        const kbAfter = yield* kbs.get(me, { kb_id: kb.id })
        expect([kbAfter.chunk_count, kbAfter.token_num]).toEqual([2, chunk.token_num + second.token_num])
        expect(kbAfter.embedder).toMatchObject({ dimensions: 64 })
      }))

    it.effect("lists with keywords and paging, in document order", () =>
      Effect.gen(function* () {
        const { chunks } = yield* services
        const { me, doc } = yield* setup
        const added = []
        for (const content of ["Alpha one", "Beta two", "Alpha three", "Gamma four", "alpha five"]) {
          added.push(yield* chunks.add(me, { doc_id: doc.id, content }))
        }
        const all = yield* chunks.list(me, { doc_id: doc.id })
        expect(all.total).toBe(5)
        expect(all.items.map((c) => c.id)).toEqual(added.map((c) => c.id))
        const alpha = yield* chunks.list(me, { doc_id: doc.id, keywords: "ALPHA" })
        expect([alpha.total, alpha.items.map((c) => c.content)]).toEqual([3, ["Alpha one", "Alpha three", "alpha five"]])
        const page2 = yield* chunks.list(me, { doc_id: doc.id, page: 2, page_size: 2 })
        expect([page2.total, page2.items.map((c) => c.content)]).toEqual([5, ["Alpha three", "Gamma four"]])
        const alphaPage2 = yield* chunks.list(me, { doc_id: doc.id, keywords: "alpha", page: 2, page_size: 2 })
        expect(alphaPage2.items.map((c) => c.content)).toEqual(["alpha five"])
        expect([alphaPage2.doc.id, alphaPage2.doc.chunk_num]).toEqual([doc.id, 5])
        const one = yield* chunks.list(me, { doc_id: doc.id, id: added[3]!.id })
        expect([one.total, one.items.map((c) => c.content)]).toEqual([1, ["Gamma four"]])
        const otherDocs = yield* setup
        const none = yield* chunks.list(otherDocs.me, { doc_id: otherDocs.doc.id, id: added[3]!.id })
        expect([none.total, none.items]).toEqual([0, []])
      }))

    it.effect("updates content (re-tokenised, re-embedded), keywords, questions and availability", () =>
      Effect.gen(function* () {
        const { chunks, docs, kbs } = yield* services
        const { me, kb, doc } = yield* setup
        const chunk = yield* chunks.add(me, { doc_id: doc.id, content: "Otters hold hands while they sleep." })
        const content = "Penguins huddle together against the antarctic wind, taking turns at the edge."
        const updated = yield* chunks.update(me, { doc_id: doc.id, chunk_id: chunk.id, content, important_keywords: ["penguin"], questions: ["How do penguins stay warm?"] })
        expect(updated).toMatchObject({ id: chunk.id, content, important_keywords: ["penguin"], questions: ["How do penguins stay warm?"], available: true })
        expect(updated.vector).not.toEqual(chunk.vector)
        expect(updated.token_num).not.toBe(chunk.token_num)

        expect(yield* found(me, kb.id, "penguins huddle", 0)).toEqual([chunk.id])
        expect(yield* found(me, kb.id, "otters hands", 0)).toEqual([])
        expect(yield* found(me, kb.id, content, 1)).toEqual([chunk.id])
        expect(yield* found(me, kb.id, "Otters hold hands while they sleep.", 1)).toEqual([])

        const counted = yield* docs.get(me, { doc_id: doc.id })
        expect([counted.chunk_num, counted.token_num]).toEqual([1, updated.token_num])
        expect((yield* kbs.get(me, { kb_id: kb.id })).token_num).toBe(updated.token_num)

        const hidden = yield* chunks.update(me, { doc_id: doc.id, chunk_id: chunk.id, available: false })
        expect([hidden.available, hidden.content]).toEqual([false, content])
        expect(yield* found(me, kb.id, "penguins huddle", 0)).toEqual([])
        expect(yield* found(me, kb.id, content, 1)).toEqual([])
        expect((yield* chunks.list(me, { doc_id: doc.id, available: false })).total).toBe(1)
        yield* chunks.update(me, { doc_id: doc.id, chunk_id: chunk.id, available: true })
        expect(yield* found(me, kb.id, "penguins huddle", 0)).toEqual([chunk.id])
      }))

    it.effect("deletes chunks and their counts; an unknown id deletes nothing", () =>
      Effect.gen(function* () {
        const { chunks, docs, kbs } = yield* services
        const { me, kb, doc } = yield* setup
        const a = yield* chunks.add(me, { doc_id: doc.id, content: "Otters hold hands." })
        const b = yield* chunks.add(me, { doc_id: doc.id, content: "Cats sleep all day." })
        const unknown = "0".repeat(32) as ChunkId
        const missing = yield* Effect.either(chunks.remove(me, { doc_id: doc.id, chunk_ids: [a.id, unknown] }))
        expect(Either.isLeft(missing) && missing.left).toMatchObject({ _tag: "NotFound", entity: "Chunk" })
        expect((yield* chunks.list(me, { doc_id: doc.id })).total).toBe(2)

        expect(yield* chunks.remove(me, { doc_id: doc.id, chunk_ids: [a.id, a.id] })).toBe(1)
        expect((yield* chunks.list(me, { doc_id: doc.id })).items.map((c) => c.id)).toEqual([b.id])
        expect(yield* found(me, kb.id, "otters hands", 0)).toEqual([])
        const counted = yield* docs.get(me, { doc_id: doc.id })
        expect([counted.chunk_num, counted.token_num]).toEqual([1, b.token_num])
        const kbAfter = yield* kbs.get(me, { kb_id: kb.id })
        expect([kbAfter.chunk_count, kbAfter.token_num]).toEqual([1, b.token_num])
        const gone = yield* Effect.either(chunks.get(me, { doc_id: doc.id, chunk_id: a.id }))
        expect(Either.isLeft(gone) && gone.left._tag).toBe("NotFound")

        // Neither ids nor `delete_all`: nothing deleted; `delete_all`: every chunk, counts to zero.
        expect(yield* chunks.remove(me, { doc_id: doc.id, chunk_ids: [] })).toBe(0)
        yield* chunks.add(me, { doc_id: doc.id, content: "Dogs descend from wolves." })
        expect(yield* chunks.remove(me, { doc_id: doc.id, delete_all: true })).toBe(2)
        expect((yield* chunks.list(me, { doc_id: doc.id })).total).toBe(0)
        const emptied = yield* docs.get(me, { doc_id: doc.id })
        expect([emptied.chunk_num, emptied.token_num]).toEqual([0, 0])
        const kbEmptied = yield* kbs.get(me, { kb_id: kb.id })
        expect([kbEmptied.chunk_count, kbEmptied.token_num]).toEqual([0, 0])
      }))

    it.effect("another tenant's ids are not found, and nothing changes", () =>
      Effect.gen(function* () {
        const { chunks, docs } = yield* services
        const { me, kb, doc } = yield* setup
        const chunk = yield* chunks.add(me, { doc_id: doc.id, content: "Otters hold hands." })
        const other = yield* newCaller()
        const attempts: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
          chunks.list(other, { doc_id: doc.id }),
          chunks.get(other, { doc_id: doc.id, chunk_id: chunk.id }),
          chunks.add(other, { doc_id: doc.id, content: "Intruder" }),
          chunks.update(other, { doc_id: doc.id, chunk_id: chunk.id, content: "Intruder", available: false }),
          chunks.remove(other, { doc_id: doc.id, chunk_ids: [chunk.id] }),
          chunks.remove(other, { doc_id: doc.id, delete_all: true })
        ]
        for (const attempt of attempts) {
          const result = yield* Effect.either(attempt)
          expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "NotFound", entity: "Document" })
        }
        // Their own document with my knowledge base's id, or my chunk under their document: not found either.
        const theirs = yield* setup
        const wrongKb = yield* Effect.either(chunks.list(theirs.me, { kb_id: kb.id, doc_id: theirs.doc.id }))
        expect(Either.isLeft(wrongKb) && wrongKb.left._tag).toBe("NotFound")
        const wrongDoc = yield* Effect.either(chunks.update(theirs.me, { doc_id: theirs.doc.id, chunk_id: chunk.id, available: false }))
        expect(Either.isLeft(wrongDoc) && wrongDoc.left).toMatchObject({ _tag: "NotFound", entity: "Chunk" })

        expect(yield* chunks.get(me, { doc_id: doc.id, chunk_id: chunk.id })).toEqual(chunk)
        expect((yield* chunks.list(me, { doc_id: doc.id })).total).toBe(1)
        expect((yield* docs.get(me, { doc_id: doc.id })).chunk_num).toBe(1)
      }))

    it.effect("a team member works on a team knowledge base's chunks, as on its documents", () =>
      Effect.gen(function* () {
        const { chunks, kbs } = yield* services
        const { me, kb, doc } = yield* setup
        const member = yield* newCaller()
        yield* joinTeam(me, member)
        const hidden = yield* Effect.either(chunks.list(member, { doc_id: doc.id }))
        expect(Either.isLeft(hidden) && hidden.left._tag).toBe("NotFound")
        yield* kbs.update(me, { kb_id: kb.id, permission: "team" })
        const chunk = yield* chunks.add(member, { doc_id: doc.id, content: "Shared otters." })
        expect(chunk.tenant_id).toBe(me.tenantId)
        expect((yield* chunks.list(me, { doc_id: doc.id })).items.map((c) => c.id)).toEqual([chunk.id])
      }))

    it.effect("bad fields are InvalidInput naming the field", () =>
      Effect.gen(function* () {
        const { chunks } = yield* services
        const { me, doc } = yield* setup
        const chunk = yield* chunks.add(me, { doc_id: doc.id, content: "Otters hold hands." })
        const cases: ReadonlyArray<[string, Effect.Effect<unknown, unknown>]> = [
          ["content", chunks.add(me, { doc_id: doc.id, content: "   " })],
          ["content", chunks.add(me, { doc_id: doc.id } as never)],
          ["content", chunks.add(me, { doc_id: doc.id, content: 42 } as never)],
          // Postgres can store no U+0000: refused for every store alike.
          ["content", chunks.add(me, { doc_id: doc.id, content: "nul\u0000here" })],
          ["questions[0]", chunks.add(me, { doc_id: doc.id, content: "x", questions: ["why\u0000"] })],
          ["doc_id", chunks.add(me, { doc_id: "nope", content: "x" } as never)],
          ["important_keywords", chunks.add(me, { doc_id: doc.id, content: "x", important_keywords: "otter" } as never)],
          ["questions[0]", chunks.add(me, { doc_id: doc.id, content: "x", questions: [1] } as never)],
          ["available", chunks.update(me, { doc_id: doc.id, chunk_id: chunk.id, available: "no" } as never)],
          ["chunk_id", chunks.update(me, { doc_id: doc.id, chunk_id: "x" } as never)],
          ["chunk_ids[0]", chunks.remove(me, { doc_id: doc.id, chunk_ids: ["x"] } as never)],
          ["delete_all", chunks.remove(me, { doc_id: doc.id, delete_all: "yes" } as never)],
          ["page_size", chunks.list(me, { doc_id: doc.id, page_size: 0 })]
        ]
        for (const [field, attempt] of cases) {
          const result = yield* Effect.either(attempt)
          expect(Either.isLeft(result) && result.left, field).toMatchObject({ _tag: "InvalidInput", field })
        }
        const nul = yield* Effect.flip(chunks.add(me, { doc_id: doc.id, content: "nul\u0000here" }))
        expect(nul.message).toContain("must not contain the NUL character (U+0000)")
        expect((yield* chunks.list(me, { doc_id: doc.id })).total).toBe(1)
      }))
  })
})

describe("Chunks through the Promise client", () => {
  it("adds, finds, updates and deletes a chunk; bad input rejects with the typed error", async () => {
    const rag = await createRagClient(Rag.layer(Rag.layerMemoryPorts, [TestModels.layer]))
    try {
      const me = await rag.localCaller({ embeddingModel: "hash-64@Test" })
      const kb = await rag.knowledgeBases.create(me, { name: "Notes" })
      const doc = await rag.documents.createVirtual(me, { kb_id: kb.id, name: "notes" })
      const chunk = await rag.chunks.add(me, { doc_id: doc.id, content: "Otters hold hands while they sleep." })
      const found = await rag.retrieval.retrieve(me, { question: "otters", kb_ids: [kb.id] })
      expect(found.chunks.map((c) => c.chunk.id)).toEqual([chunk.id])
      const updated = await rag.chunks.update(me, { doc_id: doc.id, chunk_id: chunk.id, questions: ["Why?"] })
      expect(updated.questions).toEqual(["Why?"])
      expect(await rag.chunks.remove(me, { doc_id: doc.id, chunk_ids: [chunk.id] })).toBe(1)
      expect((await rag.chunks.list(me, { doc_id: doc.id })).total).toBe(0)
      await expect(rag.chunks.add(me, { doc_id: doc.id, content: "" })).rejects.toMatchObject({ _tag: "InvalidInput", field: "content" })
    } finally {
      await rag.dispose()
    }
  })
})

const WithWorker = Rag.layerWorker({ heartbeatMs: 100 }).pipe(
  Layer.provideMerge(Rag.layer(Rag.layerMemoryPorts, [TestModels.layer])),
  Layer.provideMerge(Layer.merge(ChunkMethod.layer([paragraphs]), Tokenizer.layer))
)

describe("Chunks of a parsed document", () => {
  layer(WithWorker)((it) => {
    it.effect("hand-made chunks count on top of the run's, and a new parse drops them with their counts", () =>
      Effect.gen(function* () {
        const { chunks, docs, kbs } = yield* services
        const me = yield* newCaller()
        const kb = yield* kbs.create(me, { name: "Parsed", embedding_model: "hash-64@Test" })
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "pets.txt", bytes: text("Otters hold hands.\n\nCats sleep.") }] })
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        yield* (yield* Ingestion).drain
        const parsed = yield* docs.get(me, { doc_id: doc!.id })
        expect([parsed.run, parsed.chunk_num]).toEqual(["DONE", 2])

        const added = yield* chunks.add(me, { doc_id: doc!.id, content: "Dogs descend from wolves." })
        expect(added.index).toBe(2)
        expect(added.title_tks).toBe((yield* chunks.list(me, { doc_id: doc!.id })).items[0]!.title_tks)
        const counted = yield* docs.get(me, { doc_id: doc!.id })
        expect([counted.chunk_num, counted.token_num]).toEqual([3, parsed.token_num + added.token_num])
        expect((yield* kbs.get(me, { kb_id: kb.id })).chunk_count).toBe(3)

        yield* docs.parse(me, { doc_ids: [doc!.id] })
        yield* (yield* Ingestion).drain
        const again = yield* docs.get(me, { doc_id: doc!.id })
        expect([again.chunk_num, again.token_num]).toEqual([2, parsed.token_num])
        const kbAgain = yield* kbs.get(me, { kb_id: kb.id })
        expect([kbAgain.chunk_count, kbAgain.token_num]).toEqual([2, parsed.token_num])
        expect((yield* chunks.list(me, { doc_id: doc!.id })).total).toBe(2)
      }))
  })
})
