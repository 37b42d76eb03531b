import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either } from "effect"
import { Documents } from "../../src/services/Documents.js"
import { Ingestion } from "../../src/services/Ingestion.js"
import * as KnowledgeBases from "../../src/services/KnowledgeBases.js"
import * as Retrieval from "../../src/services/Retrieval.js"
import { decoding } from "../../src/RagClient.js"
import { EngineWithWorker, joinTeam, newCaller, SummaryEngineWithWorker, text } from "./helpers.js"

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

/** The services as the surfaces call them: requests decoded first. */
const retrievalService = Effect.map(Retrieval.Retrieval, (service) => decoding(service, Retrieval.Operations))
const knowledgeBases = Effect.map(KnowledgeBases.KnowledgeBases, (service) => decoding(service, KnowledgeBases.Operations))

/** A tenant with a knowledge base of two parsed documents. */
const setup = (embedding_model = "hash-64@Test") =>
  Effect.gen(function* () {
    const me = yield* newCaller()
    const kbs = yield* knowledgeBases
    const docs = yield* Documents
    const kb = yield* kbs.create(me, { name: "Facts", embedding_model })
    const [pets, space] = yield* docs.upload(me, {
      kb_id: kb.id,
      files: [
        { name: "pets.txt", bytes: text(PETS) },
        { name: "space.txt", bytes: text(SPACE) }
      ]
    })
    yield* docs.parse(me, { doc_ids: [pets!.id, space!.id] })
    yield* (yield* Ingestion).drain
    return { me, kb, pets: pets!, space: space! }
  })

// Over the memory index, and over an index whose searches give summaries (whole chunks read for
// the rerank head and the page only): the same results.
for (const [name, engine] of [["", EngineWithWorker], [" (an index giving summaries)", SummaryEngineWithWorker]] as const) {
describe(`Retrieval${name}`, () => {
  layer(engine)((it) => {
    it.effect("ranks the matching chunk first, with RAGFlow's similarity arithmetic", () =>
      Effect.gen(function* () {
        const retrieval = yield* retrievalService
        const { me, kb, pets } = yield* setup()
        const result = yield* retrieval.retrieve(me, { question: "Why do otters hold hands?", kb_ids: [kb.id] })
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
        const retrieval = yield* retrievalService
        const { me, kb, pets, space } = yield* setup()
        const all = yield* retrieval.retrieve(me, {
          question: "sleep moons",
          kb_ids: [kb.id],
          similarity_threshold: 0,
          vector_similarity_weight: 0.5
        })
        expect(all.total).toBe(6)
        expect(all.chunks.map((c) => c.similarity)).toEqual([...all.chunks.map((c) => c.similarity)].sort((a, b) => b - a))
        for (const c of all.chunks) expect(c.similarity).toBeCloseTo(0.5 * c.term_similarity + 0.5 * c.vector_similarity, 12)
        expect(all.doc_aggs.map((a) => [a.doc_id, a.count]).sort()).toEqual([[pets.id, 3], [space.id, 3]].sort())

        const page2 = yield* retrieval.retrieve(me, { question: "sleep moons", kb_ids: [kb.id], similarity_threshold: 0, vector_similarity_weight: 0.5, page: 2, page_size: 4 })
        expect([page2.total, page2.chunks.map((c) => c.chunk.id)]).toEqual([6, all.chunks.slice(4).map((c) => c.chunk.id)])

        const strict = yield* retrieval.retrieve(me, { question: "sleep moons", kb_ids: [kb.id], similarity_threshold: 0.6, vector_similarity_weight: 0.5 })
        expect(strict.total).toBeLessThan(6)
        expect(strict.chunks.every((c) => c.similarity >= 0.6)).toBe(true)

        const keywordOnly = yield* retrieval.retrieve(me, { question: "wolves", kb_ids: [kb.id], vector_similarity_weight: 0 })
        expect(keywordOnly.chunks.map((c) => c.chunk.content)).toEqual(["Dogs were domesticated from wolves thousands of years ago."])
        expect(keywordOnly.chunks[0]!.similarity).toBe(1)
      }))

    it.effect("filters by documents, skips disabled documents, and matches Chinese", () =>
      Effect.gen(function* () {
        const retrieval = yield* retrievalService
        const docs = yield* Documents
        const { me, kb, pets, space } = yield* setup()
        const onlySpace = yield* retrieval.retrieve(me, { question: "sleep moons", kb_ids: [kb.id], doc_ids: [space.id], similarity_threshold: 0 })
        expect(onlySpace.chunks.every((c) => c.chunk.doc_id === space.id)).toBe(true)
        expect(onlySpace.total).toBe(3)

        yield* docs.setStatus(me, { doc_ids: [pets.id], status: "0" })
        const withoutPets = yield* retrieval.retrieve(me, { question: "otters sleep", kb_ids: [kb.id], similarity_threshold: 0 })
        expect(withoutPets.chunks.some((c) => c.chunk.doc_id === pets.id)).toBe(false)

        // Metadata conditions reach the index: no document has a `lang`, and a missing key is empty.
        const withLang = (op: "empty" | "not_empty") =>
          retrieval.retrieve(me, {
            question: "moons",
            kb_ids: [kb.id],
            similarity_threshold: 0,
            metadata_condition: { conditions: [{ key: "lang", op }] }
          })
        expect((yield* withLang("empty")).total).toBe(3)
        expect((yield* withLang("not_empty")).total).toBe(0)

        const chinese = yield* retrieval.retrieve(me, { question: "熊猫吃什么？", kb_ids: [kb.id] })
        expect(chinese.chunks[0]!.chunk.content).toMatch(/^熊猫/)
      }))

    it.effect("highlights matched words", () =>
      Effect.gen(function* () {
        const retrieval = yield* retrievalService
        const { me, kb } = yield* setup()
        const result = yield* retrieval.retrieve(me, { question: "sleeping otters", kb_ids: [kb.id], highlight: true })
        expect(result.chunks[0]!.highlight).toBe("<em>Otters</em> hold hands while <em>sleeping</em> so they do not drift apart.")
      }))

    it.effect("a rerank model replaces the vector side", () =>
      Effect.gen(function* () {
        const retrieval = yield* retrievalService
        const { me, kb } = yield* setup()
        const result = yield* retrieval.retrieve(me, { question: "Mars moons", kb_ids: [kb.id], rerank_id: "overlap@Test", similarity_threshold: 0 })
        const top = result.chunks[0]!
        expect(top.chunk.content).toMatch(/^Mars has two small moons/)
        for (const c of result.chunks) expect(c.similarity).toBeCloseTo(0.7 * c.term_similarity + 0.3 * c.vector_similarity, 12)
        const unknown = yield* Effect.either(retrieval.retrieve(me, { question: "Mars", kb_ids: [kb.id], rerank_id: "nope@Test" }))
        expect(Either.isLeft(unknown) && unknown.left._tag).toBe("ModelError")
      }))

    it.effect("searches several knowledge bases only when they share the embedding model", () =>
      Effect.gen(function* () {
        const retrieval = yield* retrievalService
        const a = yield* setup()
        const kbs = yield* knowledgeBases
        const twin = yield* kbs.create(a.me, { name: "Twin", embedding_model: "hash-64@Test" })
        const other = yield* kbs.create(a.me, { name: "Other", embedding_model: "hash-32@Test" })
        const both = yield* retrieval.retrieve(a.me, { question: "otters", kb_ids: [a.kb.id, twin.id] })
        expect(both.chunks[0]!.chunk.kb_id).toBe(a.kb.id)
        const mixed = yield* Effect.either(retrieval.retrieve(a.me, { question: "otters", kb_ids: [a.kb.id, other.id] }))
        expect(Either.isLeft(mixed) && mixed.left).toMatchObject({ _tag: "InvalidInput", field: "kb_ids" })
        expect(Either.isLeft(mixed) && mixed.left.message).toMatch(/different embedding models/)
      }))

    it.effect("keeps tenants apart, shares team knowledge bases, and refuses bad requests", () =>
      Effect.gen(function* () {
        const retrieval = yield* retrievalService
        const { me, kb } = yield* setup()
        const [stranger, member] = [yield* newCaller(), yield* newCaller()]
        const denied = yield* Effect.either(retrieval.retrieve(stranger, { question: "otters", kb_ids: [kb.id] }))
        expect(Either.isLeft(denied) && denied.left._tag).toBe("NotFound")

        yield* joinTeam(me, member)
        yield* (yield* knowledgeBases).update(me, { kb_id: kb.id, permission: "team" })
        const shared = yield* retrieval.retrieve(member, { question: "otters", kb_ids: [kb.id] })
        expect(shared.chunks[0]!.chunk.content).toMatch(/^Otters/)

        const bad: ReadonlyArray<readonly [typeof Retrieval.RetrievalRequest.Encoded, string]> = [
          [{ question: "", kb_ids: [kb.id] }, "question"],
          [{ question: "  ", kb_ids: [kb.id] }, "question"],
          [{ question: "otters", kb_ids: [] }, "kb_ids"],
          [{ question: "otters", kb_ids: ["nope"] }, "kb_ids[0]"],
          [{ question: "otters", kb_ids: [kb.id], doc_ids: ["nope"] }, "doc_ids[0]"],
          [{ question: "otters", kb_ids: [kb.id], similarity_threshold: 2 }, "similarity_threshold"],
          [{ question: "otters", kb_ids: [kb.id], vector_similarity_weight: -0.1 }, "vector_similarity_weight"],
          [{ question: "otters", kb_ids: [kb.id], page: 0 }, "page"],
          [{ question: "otters", kb_ids: [kb.id], page_size: 1025 }, "page_size"],
          [{ question: "otters", kb_ids: [kb.id], top_k: 100_001 }, "top_k"],
          [{ question: "otters", kb_ids: [kb.id], term_similarity: "cosine" as never }, "term_similarity"],
          [
            { question: "otters", kb_ids: [kb.id], metadata_condition: { conditions: [{ key: "lang", op: "like" as never }] } },
            "metadata_condition.conditions[0].op"
          ],
          [{ question: "otters", kb_ids: [kb.id], metadata_condition: { logic: "xor" as never, conditions: [] } }, "metadata_condition.logic"]
        ]
        for (const [request, field] of bad) {
          const result = yield* Effect.either(retrieval.retrieve(me, request))
          expect(Either.isLeft(result) && result.left, JSON.stringify(request)).toMatchObject({ _tag: "InvalidInput", field })
        }
      }))
  })
})
}
