import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import * as ChunkMethod from "../../src/ports/ChunkMethod.js"
import * as Rag from "../../src/Rag.js"
import { Documents } from "../../src/services/Documents.js"
import { Ingestion } from "../../src/services/Ingestion.js"
import { KnowledgeBases } from "../../src/services/KnowledgeBases.js"
import { Retrieval } from "../../src/services/Retrieval.js"
import * as TestModels from "../../src/testing/TestModels.js"
import * as Tokenizer from "../../src/text/Tokenizer.js"
import { joinTeam, newCaller, text } from "./helpers.js"

/** One chunk per paragraph. */
const paragraphs: ChunkMethod.ChunkMethod = {
  id: "naive",
  accepts: ["txt"],
  chunk: (doc) => Effect.succeed(doc.sections.map((s) => ({ content: s.text, page_num: [], positions: [] })))
}

const Engine = Rag.layerWorker({ heartbeatMs: 100 }).pipe(
  Layer.provideMerge(Rag.layer(Rag.layerMemoryPorts, [TestModels.layer])),
  Layer.provideMerge(Layer.merge(ChunkMethod.layer([paragraphs]), Tokenizer.layer))
)

const PETS = [
  "Otters hold hands while sleeping so they do not drift apart.",
  "Cats sleep for most of the day and hunt at dusk.",
  "Dogs were domesticated from wolves thousands of years ago."
].join("\n\n")
const SPACE = [
  "The Moon orbits the Earth every twenty-seven days.",
  "Mars has two small moons called Phobos and Deimos.",
  "熊猫主要以竹子为食，每天要吃很多竹子。"
].join("\n\n")

/** A tenant with a knowledge base of two parsed documents. */
const setup = (embedding_model = "hash-64@Test") =>
  Effect.gen(function* () {
    const me = yield* newCaller()
    const kbs = yield* KnowledgeBases
    const docs = yield* Documents
    const kb = yield* kbs.create(me, { name: "Facts", embedding_model })
    const [pets, space] = yield* docs.upload(me, kb.id, [
      { name: "pets.txt", bytes: text(PETS) },
      { name: "space.txt", bytes: text(SPACE) }
    ])
    yield* docs.parse(me, [pets!.id, space!.id])
    yield* (yield* Ingestion).drain
    return { me, kb, pets: pets!, space: space! }
  })

describe("Retrieval", () => {
  layer(Engine)((it) => {
    it.effect("ranks the matching chunk first, with RAGFlow's similarity arithmetic", () =>
      Effect.gen(function* () {
        const retrieval = yield* Retrieval
        const { me, kb, pets } = yield* setup()
        const result = yield* retrieval.retrieve(me, { question: "Why do otters hold hands?", kbIds: [kb.id] })
        const top = result.chunks[0]!
        expect(top.chunk.content).toMatch(/^Otters hold hands/)
        expect(top.chunk.doc_id).toBe(pets.id)
        for (const c of result.chunks) {
          expect(c.term_similarity).toBeGreaterThanOrEqual(0)
          expect(c.term_similarity).toBeLessThanOrEqual(1)
          expect(c.vector_similarity).toBeGreaterThanOrEqual(0)
          expect(c.vector_similarity).toBeLessThanOrEqual(1)
          expect(c.similarity).toBeCloseTo(0.7 * c.term_similarity + 0.3 * c.vector_similarity, 12)
          expect(c.similarity).toBeGreaterThanOrEqual(0.2)
        }
        expect(top.term_similarity).toBe(1)
        expect(result.total).toBe(result.chunks.length)
        expect(result.doc_aggs[0]).toEqual({ doc_id: pets.id, doc_name: "pets.txt", count: expect.any(Number) })
      }))

    it.effect("applies the threshold, the weight, paging and doc_aggs", () =>
      Effect.gen(function* () {
        const retrieval = yield* Retrieval
        const { me, kb, pets, space } = yield* setup()
        const all = yield* retrieval.retrieve(me, {
          question: "sleep moons",
          kbIds: [kb.id],
          similarityThreshold: 0,
          vectorSimilarityWeight: 0.5
        })
        expect(all.total).toBe(6)
        expect(all.chunks.map((c) => c.similarity)).toEqual([...all.chunks.map((c) => c.similarity)].sort((a, b) => b - a))
        for (const c of all.chunks) expect(c.similarity).toBeCloseTo(0.5 * c.term_similarity + 0.5 * c.vector_similarity, 12)
        expect(all.doc_aggs.map((a) => [a.doc_id, a.count]).sort()).toEqual([[pets.id, 3], [space.id, 3]].sort())

        const page2 = yield* retrieval.retrieve(me, { question: "sleep moons", kbIds: [kb.id], similarityThreshold: 0, vectorSimilarityWeight: 0.5, page: 2, pageSize: 4 })
        expect([page2.total, page2.chunks.map((c) => c.chunk.id)]).toEqual([6, all.chunks.slice(4).map((c) => c.chunk.id)])

        const strict = yield* retrieval.retrieve(me, { question: "sleep moons", kbIds: [kb.id], similarityThreshold: 0.6, vectorSimilarityWeight: 0.5 })
        expect(strict.total).toBeLessThan(6)
        expect(strict.chunks.every((c) => c.similarity >= 0.6)).toBe(true)

        const keywordOnly = yield* retrieval.retrieve(me, { question: "wolves", kbIds: [kb.id], vectorSimilarityWeight: 0 })
        expect(keywordOnly.chunks.map((c) => c.chunk.content)).toEqual(["Dogs were domesticated from wolves thousands of years ago."])
        expect(keywordOnly.chunks[0]!.similarity).toBe(1)
      }))

    it.effect("filters by documents, skips disabled documents, and matches Chinese", () =>
      Effect.gen(function* () {
        const retrieval = yield* Retrieval
        const docs = yield* Documents
        const { me, kb, pets, space } = yield* setup()
        const onlySpace = yield* retrieval.retrieve(me, { question: "sleep moons", kbIds: [kb.id], docIds: [space.id], similarityThreshold: 0 })
        expect(onlySpace.chunks.every((c) => c.chunk.doc_id === space.id)).toBe(true)
        expect(onlySpace.total).toBe(3)

        yield* docs.setStatus(me, [pets.id], "0")
        const withoutPets = yield* retrieval.retrieve(me, { question: "otters sleep", kbIds: [kb.id], similarityThreshold: 0 })
        expect(withoutPets.chunks.some((c) => c.chunk.doc_id === pets.id)).toBe(false)

        const chinese = yield* retrieval.retrieve(me, { question: "熊猫吃什么？", kbIds: [kb.id] })
        expect(chinese.chunks[0]!.chunk.content).toMatch(/^熊猫/)
      }))

    it.effect("highlights matched words", () =>
      Effect.gen(function* () {
        const retrieval = yield* Retrieval
        const { me, kb } = yield* setup()
        const result = yield* retrieval.retrieve(me, { question: "sleeping otters", kbIds: [kb.id], highlight: true })
        expect(result.chunks[0]!.highlight).toBe("<em>Otters</em> hold hands while <em>sleeping</em> so they do not drift apart.")
      }))

    it.effect("a rerank model replaces the vector side", () =>
      Effect.gen(function* () {
        const retrieval = yield* Retrieval
        const { me, kb } = yield* setup()
        const result = yield* retrieval.retrieve(me, { question: "Mars moons", kbIds: [kb.id], rerankId: "overlap@Test", similarityThreshold: 0 })
        const top = result.chunks[0]!
        expect(top.chunk.content).toMatch(/^Mars has two small moons/)
        for (const c of result.chunks) expect(c.similarity).toBeCloseTo(0.7 * c.term_similarity + 0.3 * c.vector_similarity, 12)
        const unknown = yield* Effect.either(retrieval.retrieve(me, { question: "Mars", kbIds: [kb.id], rerankId: "nope@Test" }))
        expect(Either.isLeft(unknown) && unknown.left._tag).toBe("ModelError")
      }))

    it.effect("searches several knowledge bases only when they share the embedding model", () =>
      Effect.gen(function* () {
        const retrieval = yield* Retrieval
        const a = yield* setup()
        const kbs = yield* KnowledgeBases
        const twin = yield* kbs.create(a.me, { name: "Twin", embedding_model: "hash-64@Test" })
        const other = yield* kbs.create(a.me, { name: "Other", embedding_model: "hash-32@Test" })
        const both = yield* retrieval.retrieve(a.me, { question: "otters", kbIds: [a.kb.id, twin.id] })
        expect(both.chunks[0]!.chunk.kb_id).toBe(a.kb.id)
        const mixed = yield* Effect.either(retrieval.retrieve(a.me, { question: "otters", kbIds: [a.kb.id, other.id] }))
        expect(Either.isLeft(mixed) && mixed.left._tag === "InvalidInput" && mixed.left.message).toMatch(/different embedding models/)
      }))

    it.effect("keeps tenants apart, shares team knowledge bases, and refuses bad requests", () =>
      Effect.gen(function* () {
        const retrieval = yield* Retrieval
        const { me, kb } = yield* setup()
        const [stranger, member] = [yield* newCaller(), yield* newCaller()]
        const denied = yield* Effect.either(retrieval.retrieve(stranger, { question: "otters", kbIds: [kb.id] }))
        expect(Either.isLeft(denied) && denied.left._tag).toBe("NotFound")

        yield* joinTeam(me, member)
        yield* (yield* KnowledgeBases).update(me, kb.id, { permission: "team" })
        const shared = yield* retrieval.retrieve(member, { question: "otters", kbIds: [kb.id] })
        expect(shared.chunks[0]!.chunk.content).toMatch(/^Otters/)

        for (const bad of [
          { question: "", kbIds: [kb.id] },
          { question: "otters", kbIds: [] },
          { question: "otters", kbIds: ["nope"] },
          { question: "otters", kbIds: [kb.id], similarityThreshold: 2 },
          { question: "otters", kbIds: [kb.id], page: 0 }
        ]) {
          const result = yield* Effect.either(retrieval.retrieve(me, bad))
          expect(Either.isLeft(result) && result.left._tag).toBe("InvalidInput")
        }
      }))
  })
})
