/**
 * The conformance suite every `ChunkIndex` implementation runs:
 *
 *   ChunkIndexSuite("memory", ChunkIndex.layerMemory)
 *
 * Each test works in fresh random knowledge bases, so the layer can be shared by the whole file.
 * Vectors use values exact in float32, so stores that keep float32 vectors round-trip them exactly.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { Layer } from "effect"
import { Chunk } from "../domain/Chunk.js"
import { ChunkId, DocumentId, KnowledgeBaseId, randomHex32, TenantId } from "../domain/Ids.js"
import { ChunkIndex, makeMemory } from "../ports/ChunkIndex.js"
import type { ChunkFilter, ScoredChunk, ScoredSummary } from "../ports/ChunkIndex.js"

const tenantId = TenantId.make(randomHex32())
const newKb = () => KnowledgeBaseId.make(randomHex32())
const newDoc = () => DocumentId.make(randomHex32())

type ChunkFields = ConstructorParameters<typeof Chunk>[0]

/** A chunk with sensible defaults; `content_ltks` defaults to the lower-cased content. */
export const makeTestChunk = (
  kbId: KnowledgeBaseId,
  docId: DocumentId,
  fields: Partial<ChunkFields> & { readonly content: string }
): Chunk =>
  new Chunk({
    id: ChunkId.make(randomHex32()),
    tenant_id: tenantId,
    kb_id: kbId,
    doc_id: docId,
    docnm_kwd: "document.txt",
    content_ltks: fields.content.toLowerCase(),
    content_sm_ltks: "",
    title_tks: "",
    important_keywords: [],
    questions: [],
    available: true,
    token_num: fields.content.split(/\s+/).length,
    page_num: [],
    positions: [],
    index: 0,
    metadata: {},
    create_time: 1_700_000_000_000,
    ...fields
  })

/** Cosine similarity written out, to check the index's arithmetic. */
const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => {
  const dot = a.reduce((sum, x, i) => sum + x * b[i]!, 0)
  const norm = (v: ReadonlyArray<number>) => Math.sqrt(v.reduce((sum, x) => sum + x * x, 0))
  return dot / (norm(a) * norm(b))
}

const ids = (results: ReadonlyArray<ScoredChunk>) => results.map((r) => r.chunk.id)

const plain = (chunk: Chunk) => ({ ...chunk })

export const ChunkIndexSuite = (name: string, indexLayer: Layer.Layer<ChunkIndex, unknown>): void => {
  describe(`ChunkIndex conformance: ${name}`, () => {
    layer(indexLayer)((it) => {
      it.effect("upsert then get returns the chunk with all its fields", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          const chunk = makeTestChunk(kb, doc, {
            content: "The quick brown fox",
            title_tks: "fox stori",
            important_keywords: ["fox"],
            questions: ["What does the fox do?"],
            page_num: [1, 2],
            positions: [[1, 10, 200, 30, 60], [2, 10, 200, 0, 20]],
            index: 7,
            img_id: "kb/img",
            metadata: { author: "ann", year: 2020, tags: ["a", "b"] },
            vector: [0.5, -0.25, 1, 0]
          })
          yield* index.upsert([chunk])
          const got = yield* index.get(kb, chunk.id)
          expect(Option.isSome(got)).toBe(true)
          expect(plain(Option.getOrThrow(got))).toEqual(plain(chunk))
          expect(Option.isNone(yield* index.get(kb, ChunkId.make(randomHex32())))).toBe(true)
          expect(Option.isNone(yield* index.get(newKb(), chunk.id))).toBe(true)
        }))

      it.effect("a batch keeps every field of each chunk: with and without vectors or images, any Unicode", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          const texts = ["plain ascii", "", "naïve café", "中文的内容 and more", "emoji 😀 here", "tab\tand\nnewline"]
          // 11 chunks: the validity of a column spans two bytes of its bitmap.
          const chunks = Array.from({ length: 11 }, (_, i) =>
            makeTestChunk(kb, doc, {
              content: texts[i % texts.length]!,
              content_sm_ltks: texts[(i + 1) % texts.length]!,
              title_tks: texts[(i + 2) % texts.length]!,
              index: i,
              token_num: i * 1.5,
              available: i % 3 !== 0,
              metadata: { i, note: texts[(i + 3) % texts.length]! },
              ...(i % 4 === 1 ? { img_id: `kb/img-${i}-é` } : {}),
              ...(i % 2 === 0 ? { vector: [i, -0.5, 0.25, 1] } : {})
            }))
          yield* index.upsert(chunks)
          for (const chunk of chunks) {
            expect(plain(Option.getOrThrow(yield* index.get(kb, chunk.id))), `chunk ${chunk.index}`).toEqual(plain(chunk))
          }
        }))

      it.effect("upsert replaces a chunk with the same id", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          const chunk = makeTestChunk(kb, doc, { content: "first version" })
          yield* index.upsert([chunk])
          yield* index.upsert([new Chunk({ ...chunk, content: "second version", content_ltks: "second version" })])
          const got = Option.getOrThrow(yield* index.get(kb, chunk.id))
          expect(got.content).toBe("second version")
          expect(yield* index.countByDocument(kb, doc)).toBe(1)
          expect(ids(yield* index.searchText({ kbIds: [kb], tokens: "first", limit: 10 }))).toEqual([])
          expect(ids(yield* index.searchText({ kbIds: [kb], tokens: "second", limit: 10 }))).toEqual([chunk.id])
        }))

      it.effect("list pages a document's chunks in index order, then id", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          const chunks = [3, 0, 4, 1, 2].map((i) => makeTestChunk(kb, doc, { content: `part ${i}`, index: i }))
          const twins = [makeTestChunk(kb, doc, { content: "twin a", index: 5 }), makeTestChunk(kb, doc, { content: "twin b", index: 5 })]
          const other = makeTestChunk(kb, newDoc(), { content: "other document", index: 0 })
          yield* index.upsert([...chunks, ...twins, other])
          const page1 = yield* index.list({ kbId: kb, docId: doc, offset: 0, limit: 2 })
          expect(page1.total).toBe(7)
          expect(page1.chunks.map((c) => c.index)).toEqual([0, 1])
          const page2 = yield* index.list({ kbId: kb, docId: doc, offset: 2, limit: 2 })
          expect(page2.chunks.map((c) => c.index)).toEqual([2, 3])
          const last = yield* index.list({ kbId: kb, docId: doc, offset: 4, limit: 10 })
          expect(last.chunks.map((c) => c.index)).toEqual([4, 5, 5])
          expect(last.chunks.slice(1).map((c) => c.id)).toEqual(twins.map((c) => c.id).sort())
          expect(yield* index.countByDocument(kb, doc)).toBe(7)
        }))

      it.effect("list filters by keywords and availability", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          const special = makeTestChunk(kb, doc, { content: "A Special offer", index: 0 })
          const hidden = makeTestChunk(kb, doc, { content: "hidden text", index: 1, available: false })
          const plainChunk = makeTestChunk(kb, doc, { content: "ordinary text", index: 2 })
          yield* index.upsert([special, hidden, plainChunk])
          const byKeyword = yield* index.list({ kbId: kb, docId: doc, keywords: "special", offset: 0, limit: 10 })
          expect(byKeyword.chunks.map((c) => c.id)).toEqual([special.id])
          expect(byKeyword.total).toBe(1)
          const available = yield* index.list({ kbId: kb, docId: doc, offset: 0, limit: 10, available: true })
          expect(available.chunks.map((c) => c.id)).toEqual([special.id, plainChunk.id])
          const unavailable = yield* index.list({ kbId: kb, docId: doc, offset: 0, limit: 10, available: false })
          expect(unavailable.chunks.map((c) => c.id)).toEqual([hidden.id])
          expect((yield* index.list({ kbId: kb, docId: doc, offset: 0, limit: 10 })).total).toBe(3)
        }))

      it.effect("deleteByDocument removes that document's chunks only", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const docA = newDoc()
          const docB = newDoc()
          yield* index.upsert([
            makeTestChunk(kb, docA, { content: "alpha one" }),
            makeTestChunk(kb, docA, { content: "alpha two" }),
            makeTestChunk(kb, docA, { content: "alpha three" }),
            makeTestChunk(kb, docB, { content: "alpha bravo" }),
            makeTestChunk(kb, docB, { content: "bravo" })
          ])
          expect(yield* index.deleteByDocument(kb, docA)).toBe(3)
          expect(yield* index.countByDocument(kb, docA)).toBe(0)
          expect(yield* index.countByDocument(kb, docB)).toBe(2)
          const results = yield* index.searchText({ kbIds: [kb], tokens: "alpha", limit: 10 })
          expect(results.map((r) => r.chunk.doc_id)).toEqual([docB])
          expect(yield* index.deleteByDocument(kb, docA)).toBe(0)
        }))

      it.effect("deleteChunks removes the named chunks and counts those that existed", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          const [a, b, c] = ["one", "two", "three"].map((content) => makeTestChunk(kb, doc, { content }))
          yield* index.upsert([a!, b!, c!])
          expect(yield* index.deleteChunks(kb, [a!.id, c!.id, ChunkId.make(randomHex32())])).toBe(2)
          const left = yield* index.list({ kbId: kb, docId: doc, offset: 0, limit: 10 })
          expect(left.chunks.map((chunk) => chunk.id)).toEqual([b!.id])
        }))

      it.effect("deleteKnowledgeBase empties it, leaves others, and frees its vector dimension", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kbA = newKb()
          const kbB = newKb()
          const doc = newDoc()
          const a = makeTestChunk(kbA, doc, { content: "shared words", vector: [1, 0, 0] })
          const b = makeTestChunk(kbB, doc, { content: "shared words", vector: [1, 0, 0] })
          yield* index.upsert([a, b])
          yield* index.deleteKnowledgeBase(kbA)
          expect(Option.isNone(yield* index.get(kbA, a.id))).toBe(true)
          expect(yield* index.countByDocument(kbA, doc)).toBe(0)
          expect(yield* index.searchText({ kbIds: [kbA], tokens: "shared", limit: 10 })).toEqual([])
          expect(ids(yield* index.searchText({ kbIds: [kbB], tokens: "shared", limit: 10 }))).toEqual([b.id])
          const again = makeTestChunk(kbA, doc, { content: "new embedder", vector: [0, 1, 0, 0, 0] })
          yield* index.upsert([again])
          const found = yield* index.searchVector({ kbIds: [kbA], vector: [0, 1, 0, 0, 0], limit: 5 })
          expect(ids(found)).toEqual([again.id])
        }))

      it.effect("update changes the given fields and keeps the others", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          const chunk = makeTestChunk(kb, doc, {
            content: "old words here",
            index: 3,
            metadata: { author: "ann" },
            vector: [1, 0, 0, 0]
          })
          yield* index.upsert([chunk])
          const updated = yield* index.update(kb, chunk.id, {
            content: "fresh words here",
            content_ltks: "fresh word here",
            important_keywords: ["novelty"],
            questions: ["what is fresh?"],
            vector: [0, 1, 0, 0]
          })
          expect(updated).toBe(true)
          const got = Option.getOrThrow(yield* index.get(kb, chunk.id))
          expect(got.content).toBe("fresh words here")
          expect(got.important_keywords).toEqual(["novelty"])
          expect(got.questions).toEqual(["what is fresh?"])
          expect(got.vector).toEqual([0, 1, 0, 0])
          expect(got.index).toBe(3)
          expect(got.metadata).toEqual({ author: "ann" })
          expect(got.doc_id).toBe(doc)
          expect(yield* index.searchText({ kbIds: [kb], tokens: "old", limit: 10 })).toEqual([])
          expect(ids(yield* index.searchText({ kbIds: [kb], tokens: "fresh", limit: 10 }))).toEqual([chunk.id])
          expect(ids(yield* index.searchText({ kbIds: [kb], tokens: "novelty", limit: 10 }))).toEqual([chunk.id])
          const near = yield* index.searchVector({ kbIds: [kb], vector: [0, 1, 0, 0], limit: 1 })
          expect(near[0]!.score).toBeCloseTo(1, 6)
          expect(yield* index.update(kb, ChunkId.make(randomHex32()), { content: "nothing" })).toBe(false)
        }))

      it.effect("an unavailable chunk is hidden from searches but still listed", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          const shown = makeTestChunk(kb, doc, { content: "visible lantern", vector: [1, 0, 0], index: 0 })
          const hidden = makeTestChunk(kb, doc, { content: "hidden lantern", vector: [1, 0, 0], index: 1 })
          yield* index.upsert([shown, hidden])
          expect(yield* index.update(kb, hidden.id, { available: false })).toBe(true)
          expect(ids(yield* index.searchText({ kbIds: [kb], tokens: "lantern", limit: 10 }))).toEqual([shown.id])
          expect(ids(yield* index.searchVector({ kbIds: [kb], vector: [1, 0, 0], limit: 10 }))).toEqual([shown.id])
          const onlyHidden = yield* index.searchText({
            kbIds: [kb],
            tokens: "lantern",
            limit: 10,
            filter: { available: false }
          })
          expect(ids(onlyHidden)).toEqual([hidden.id])
          expect(Option.getOrThrow(yield* index.get(kb, hidden.id)).available).toBe(false)
          expect((yield* index.list({ kbId: kb, docId: doc, offset: 0, limit: 10 })).total).toBe(2)
          yield* index.update(kb, hidden.id, { available: true })
          expect(yield* index.searchText({ kbIds: [kb], tokens: "lantern", limit: 10 })).toHaveLength(2)
        }))

      it.effect("BM25 ranks the chunk with the rare query term first, with positive scores", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          const banana = makeTestChunk(kb, doc, { content: "apple banana" })
          const cherry = makeTestChunk(kb, doc, { content: "apple cherry" })
          const zebra = makeTestChunk(kb, doc, { content: "apple zebra" })
          const none = makeTestChunk(kb, doc, { content: "banana cherry" })
          yield* index.upsert([banana, cherry, zebra, none])
          const results = yield* index.searchText({ kbIds: [kb], tokens: "apple zebra", limit: 10 })
          expect(results[0]!.chunk.id).toBe(zebra.id)
          expect(new Set(ids(results))).toEqual(new Set([zebra.id, banana.id, cherry.id]))
          expect(results.every((r) => r.score > 0)).toBe(true)
          expect(results[0]!.score).toBeGreaterThan(results[1]!.score)
          for (let i = 1; i < results.length; i++) expect(results[i - 1]!.score).toBeGreaterThanOrEqual(results[i]!.score)
          const limited = yield* index.searchText({ kbIds: [kb], tokens: "apple zebra", limit: 1 })
          expect(ids(limited)).toEqual([zebra.id])
          expect(yield* index.searchText({ kbIds: [kb], tokens: "unknownword", limit: 10 })).toEqual([])
        }))

      it.effect("query token weights change the ranking", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          const banana = makeTestChunk(kb, doc, { content: "banana split" })
          const cherry = makeTestChunk(kb, doc, { content: "cherry split" })
          yield* index.upsert([banana, cherry, makeTestChunk(kb, doc, { content: "plain split" })])
          const bananaFirst = yield* index.searchText({
            kbIds: [kb],
            tokens: [{ token: "banana", weight: 3 }, { token: "cherry", weight: 1 }],
            limit: 10
          })
          expect(ids(bananaFirst)).toEqual([banana.id, cherry.id])
          const cherryFirst = yield* index.searchText({
            kbIds: [kb],
            tokens: [{ token: "banana", weight: 1 }, { token: "cherry", weight: 3 }],
            limit: 10
          })
          expect(ids(cherryFirst)).toEqual([cherry.id, banana.id])
        }))

      it.effect("a token given twice counts twice, and tokens with spaces match nothing: the memory index's scores", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          const chunks = [
            makeTestChunk(kb, doc, { content: "river bank river", title_tks: "bank" }),
            makeTestChunk(kb, doc, { content: "bank loan", important_keywords: ["river"] }),
            makeTestChunk(kb, doc, { content: "loan shark river" }),
            makeTestChunk(kb, doc, { content: "nothing here" })
          ]
          yield* index.upsert(chunks)
          const reference = yield* makeMemory
          yield* reference.upsert(chunks)
          const search = {
            kbIds: [kb],
            tokens: [
              { token: "river", weight: 1 },
              { token: "bank", weight: 0.5 },
              { token: "river", weight: 2 },
              { token: "river bank", weight: 1 }
            ],
            limit: 10
          }
          const want = yield* reference.searchText(search)
          const got = yield* index.searchText(search)
          expect(want).toHaveLength(3)
          expect(ids(got)).toEqual(ids(want))
          got.forEach((result, i) => expect(result.score).toBe(want[i]!.score))
        }))

      it.effect("a match in important keywords outranks a plain content match; titles and questions are searched", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          const inContent = makeTestChunk(kb, doc, { content: "widget gadget gizmo" })
          const inKeywords = makeTestChunk(kb, doc, { content: "gadget gizmo sprocket", important_keywords: ["widget"] })
          const inTitle = makeTestChunk(kb, doc, { content: "lever pulley", title_tks: "flywheel handbook" })
          const inQuestion = makeTestChunk(kb, doc, { content: "axle wheel", questions: ["How is a camshaft made?"] })
          yield* index.upsert([inContent, inKeywords, inTitle, inQuestion])
          const results = yield* index.searchText({ kbIds: [kb], tokens: "widget", limit: 10 })
          expect(ids(results)).toEqual([inKeywords.id, inContent.id])
          expect(ids(yield* index.searchText({ kbIds: [kb], tokens: "flywheel", limit: 10 }))).toEqual([inTitle.id])
          expect(ids(yield* index.searchText({ kbIds: [kb], tokens: "camshaft", limit: 10 }))).toEqual([inQuestion.id])
        }))

      it.effect("vector search orders by cosine similarity with exact scores", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          const vectors = {
            a: [1, 0, 0, 0],
            b: [0.5, 0.5, 0.5, 0.5],
            c: [0, 0, 1, 0.25],
            d: [-1, 0.5, 0, 0]
          }
          const chunks = Object.entries(vectors).map(([name, vector]) => makeTestChunk(kb, doc, { content: name, vector }))
          const noVector = makeTestChunk(kb, doc, { content: "no vector here" })
          yield* index.upsert([...chunks, noVector])
          const query = [1, 0.5, 0.25, 0]
          const expected = chunks
            .map((chunk) => ({ id: chunk.id, score: cosine(query, chunk.vector!) }))
            .sort((x, y) => y.score - x.score)
          const results = yield* index.searchVector({ kbIds: [kb], vector: query, limit: 10 })
          expect(ids(results)).toEqual(expected.map((e) => e.id))
          results.forEach((r, i) => expect(Math.abs(r.score - expected[i]!.score)).toBeLessThan(1e-6))
          const top2 = yield* index.searchVector({ kbIds: [kb], vector: query, limit: 2 })
          expect(ids(top2)).toEqual(expected.slice(0, 2).map((e) => e.id))
          const above = yield* index.searchVector({ kbIds: [kb], vector: query, limit: 10, minSimilarity: 0.5 })
          expect(ids(above)).toEqual(expected.filter((e) => e.score >= 0.5).map((e) => e.id))
          expect(above.length).toBeLessThan(expected.length)
        }))

      it.effect("filters by document ids and metadata in both searches", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const docA = newDoc()
          const docB = newDoc()
          const ann = makeTestChunk(kb, docA, {
            content: "river report",
            metadata: { author: "Ann", year: 2020, tags: ["water", "survey"] },
            vector: [1, 0]
          })
          const bob = makeTestChunk(kb, docB, {
            content: "river study",
            metadata: { author: "Bob", year: 2023, tags: ["fish"] },
            vector: [1, 0.5]
          })
          const anon = makeTestChunk(kb, docB, { content: "river notes", vector: [0.5, 1] })
          yield* index.upsert([ann, bob, anon])
          const both = (filter: ChunkFilter) =>
            Effect.gen(function*() {
              const text = yield* index.searchText({ kbIds: [kb], tokens: "river", limit: 10, filter })
              const vector = yield* index.searchVector({ kbIds: [kb], vector: [1, 1], limit: 10, filter })
              expect(new Set(ids(text))).toEqual(new Set(ids(vector)))
              return new Set(ids(text))
            })
          expect(yield* both({ docIds: [docA] })).toEqual(new Set([ann.id]))
          expect(yield* both({ docIds: [docB] })).toEqual(new Set([bob.id, anon.id]))
          expect(yield* both({ metadata: [{ key: "author", op: "eq", value: "Ann" }] })).toEqual(new Set([ann.id]))
          expect(yield* both({ metadata: [{ key: "author", op: "ne", value: "Ann" }] })).toEqual(new Set([bob.id, anon.id]))
          expect(yield* both({ metadata: [{ key: "year", op: "gt", value: 2021 }] })).toEqual(new Set([bob.id]))
          expect(yield* both({ metadata: [{ key: "year", op: "lte", value: "2020" }] })).toEqual(new Set([ann.id]))
          expect(yield* both({ metadata: [{ key: "author", op: "in", value: ["Bob", "Carl"] }] })).toEqual(
            new Set([bob.id])
          )
          expect(yield* both({ metadata: [{ key: "tags", op: "contains", value: "SURV" }] })).toEqual(new Set([ann.id]))
          expect(yield* both({ metadata: [{ key: "author", op: "empty" }] })).toEqual(new Set([anon.id]))
          expect(
            yield* both({
              metadata: [{ key: "author", op: "eq", value: "Ann" }, { key: "year", op: "eq", value: 2023 }]
            })
          ).toEqual(new Set())
          expect(
            yield* both({
              metadataLogic: "or",
              metadata: [{ key: "author", op: "eq", value: "Ann" }, { key: "year", op: "eq", value: 2023 }]
            })
          ).toEqual(new Set([ann.id, bob.id]))
          expect(
            yield* both({ docIds: [docB], metadata: [{ key: "author", op: "not_empty" }] })
          ).toEqual(new Set([bob.id]))
        }))

      it.effect("vectors of another dimension are rejected with Mismatch", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kb = newKb()
          const doc = newDoc()
          yield* index.upsert([makeTestChunk(kb, doc, { content: "four", vector: [1, 0, 0, 0] })])
          const wrong = makeTestChunk(kb, doc, { content: "three", vector: [1, 0, 0] })
          const upsertError = yield* Effect.flip(index.upsert([wrong]))
          expect(upsertError._tag).toBe("ChunkIndexError")
          expect(upsertError.reason).toBe("Mismatch")
          expect(Option.isNone(yield* index.get(kb, wrong.id))).toBe(true)
          const searchError = yield* Effect.flip(index.searchVector({ kbIds: [kb], vector: [1, 0, 0], limit: 5 }))
          expect(searchError.reason).toBe("Mismatch")
          const fresh = newKb()
          const mixed = yield* Effect.flip(index.upsert([
            makeTestChunk(fresh, doc, { content: "two", vector: [1, 0] }),
            makeTestChunk(fresh, doc, { content: "three", vector: [1, 0, 0] })
          ]))
          expect(mixed.reason).toBe("Mismatch")
          expect(yield* index.countByDocument(fresh, doc)).toBe(0)
          const chunk = makeTestChunk(kb, doc, { content: "ok", vector: [0, 1, 0, 0] })
          yield* index.upsert([chunk])
          const updateError = yield* Effect.flip(index.update(kb, chunk.id, { vector: [1, 1] }))
          expect(updateError.reason).toBe("Mismatch")
          expect(Option.getOrThrow(yield* index.get(kb, chunk.id)).vector).toEqual([0, 1, 0, 0])
        }))

      it.effect("searches never cross knowledge bases", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kbA = newKb()
          const kbB = newKb()
          const doc = newDoc()
          const a = makeTestChunk(kbA, doc, { content: "identical text", vector: [1, 0, 1] })
          const b = makeTestChunk(kbB, doc, { content: "identical text", vector: [1, 0, 1] })
          yield* index.upsert([a, b])
          expect(ids(yield* index.searchText({ kbIds: [kbA], tokens: "identical", limit: 10 }))).toEqual([a.id])
          expect(ids(yield* index.searchVector({ kbIds: [kbA], vector: [1, 0, 1], limit: 10 }))).toEqual([a.id])
          expect(ids(yield* index.searchVector({ kbIds: [kbB], vector: [1, 0, 1], limit: 10 }))).toEqual([b.id])
          const together = yield* index.searchText({ kbIds: [kbA, kbB], tokens: "identical", limit: 10 })
          expect(new Set(ids(together))).toEqual(new Set([a.id, b.id]))
          expect(yield* index.searchText({ kbIds: [], tokens: "identical", limit: 10 })).toEqual([])
          expect(yield* index.countByDocument(kbB, doc)).toBe(1)
          expect(yield* index.deleteChunks(kbB, [a.id])).toBe(0)
          expect(Option.isSome(yield* index.get(kbA, a.id))).toBe(true)
        }))

      it.effect("summaries are the searches' results without their text; getMany reads chunks in the order asked", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex
          const kbA = newKb()
          const kbB = newKb()
          const docs = [newDoc(), newDoc(), newDoc()]
          const words = ["amber", "basil", "cedar", "delta"]
          const chunks = Array.from({ length: 30 }, (_, i) =>
            makeTestChunk(i % 3 === 0 ? kbB : kbA, docs[i % 3]!, {
              content: Array.from({ length: 1 + (i % 4) }, (_, j) => words[(i + j) % 4]).join(" "),
              docnm_kwd: `file-${i % 3}.txt`,
              metadata: { n: i },
              ...(i % 7 === 0 ? {} : { vector: [1 + (i % 5), (i * 7) % 11, 3 - (i % 3)] })
            }))
          yield* index.upsert(chunks)
          const summary = (r: ScoredSummary) => ({
            id: r.chunk.id,
            kb_id: r.chunk.kb_id,
            doc_id: r.chunk.doc_id,
            docnm_kwd: r.chunk.docnm_kwd,
            vector: r.chunk.vector,
            score: r.score
          })
          const filters: ReadonlyArray<ChunkFilter | undefined> = [
            undefined,
            { docIds: [docs[0]!, docs[1]!] },
            { metadata: [{ key: "n", op: "gte", value: 10 }] }
          ]
          for (const filter of filters) {
            for (const limit of [3, 100]) {
              const text = { kbIds: [kbA, kbB], tokens: "amber cedar", limit, ...(filter === undefined ? {} : { filter }) }
              const full = yield* index.searchText(text)
              expect(full.length).toBeGreaterThan(0)
              expect((yield* index.searchTextSummaries(text)).map(summary)).toEqual(full.map(summary))
              const vector = { kbIds: [kbA, kbB], vector: [1, 2, 3], limit, minSimilarity: 0.1, ...(filter === undefined ? {} : { filter }) }
              const nearest = yield* index.searchVector(vector)
              expect(nearest.length).toBeGreaterThan(0)
              expect((yield* index.searchVectorSummaries(vector)).map(summary)).toEqual(nearest.map(summary))
            }
          }
          // In the order asked, across knowledge bases; a chunk asked under another knowledge base, or gone, is left out.
          const asked = [chunks[4]!, chunks[3]!, chunks[1]!]
          const missing = makeTestChunk(kbA, docs[0]!, { content: "never stored" })
          const read = yield* index.getMany([
            ...asked.map((c) => ({ kb_id: c.kb_id, id: c.id })),
            { kb_id: kbB, id: chunks[1]!.id },
            { kb_id: missing.kb_id, id: missing.id }
          ])
          expect(read.map(plain)).toEqual(asked.map(plain))
          expect(yield* index.getMany([])).toEqual([])
        }))
    })
  })
}
