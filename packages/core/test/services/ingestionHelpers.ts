/**
 * Set-up shared by the ingestion tests that run the worker against real (memory or file system)
 * stores: a chunk method, an embedder whose next call can be held, the engine with the worker,
 * waiting for a state, and the check that counts match the index.
 */
import { expect } from "@effect/vitest"
import { Deferred, Duration, Effect, Layer } from "effect"
import type { DocumentId, KnowledgeBaseId } from "../../src/domain/Ids.js"
import * as BlobStore from "../../src/ports/BlobStore.js"
import * as ChunkIndex from "../../src/ports/ChunkIndex.js"
import * as ChunkMethod from "../../src/ports/ChunkMethod.js"
import * as DocumentPreparer from "../../src/ports/DocumentPreparer.js"
import * as Embedder from "../../src/ports/Embedder.js"
import * as ModelProvider from "../../src/ports/ModelProvider.js"
import * as Parser from "../../src/ports/Parser.js"
import { RecordStore } from "../../src/ports/RecordStore.js"
import * as TaskQueue from "../../src/ports/TaskQueue.js"
import * as Rag from "../../src/Rag.js"
import { decoding } from "../../src/RagClient.js"
import * as Documents from "../../src/services/Documents.js"
import * as Ingestion from "../../src/services/Ingestion.js"
import * as KnowledgeBases from "../../src/services/KnowledgeBases.js"
import * as Tokenizer from "../../src/text/Tokenizer.js"
import * as HashEmbedder from "../../src/testing/HashEmbedder.js"
import * as TestModels from "../../src/testing/TestModels.js"
import { newCaller } from "./helpers.js"

/**
 * One chunk per paragraph; a paragraph starting with `[img]` gets an image (its text as bytes),
 * as a picture or a table snapshot would.
 */
export const paragraphs: ChunkMethod.ChunkMethod = {
  id: "naive",
  accepts: ["txt"],
  chunk: (doc) =>
    Effect.succeed(
      doc.sections.map((s) => ({
        content: s.text,
        page_num: [],
        positions: [],
        ...(s.text.startsWith("[img]") ? { image: { bytes: new TextEncoder().encode(s.text), mime: "image/png" } } : {})
      }))
    )
}

/** The embedder `hash-32@Gated`: the hash embedder, whose next call can be held (`holdNext`). */
export const Gate = (() => {
  let held: { readonly entered: Deferred.Deferred<void>; readonly release: Deferred.Deferred<void> } | undefined
  const inner = HashEmbedder.make({ dimensions: 32, modelId: "hash-32@Gated" })
  const plugin = ModelProvider.plugin({
    kind: "gated",
    providers: ["Gated"],
    embedder: () =>
      Effect.succeed(
        Embedder.make({
          modelId: "hash-32@Gated",
          dimensions: 32,
          maxBatchSize: 64,
          embedBatch: (texts) =>
            Effect.suspend(() => {
              const hold = held
              if (hold === undefined) return inner.embedDocuments(texts)
              held = undefined
              return Deferred.succeed(hold.entered, undefined).pipe(
                Effect.zipRight(Deferred.await(hold.release)),
                Effect.zipRight(inner.embedDocuments(texts))
              )
            })
        })
      )
  })
  /** The next embedding call waits for `release`; `entered` completes when it started waiting. */
  const holdNext = Effect.gen(function* () {
    const hold = { entered: yield* Deferred.make<void>(), release: yield* Deferred.make<void>() }
    held = hold
    return { entered: Deferred.await(hold.entered), release: Deferred.succeed(hold.release, undefined) }
  })
  return { plugin, holdNext }
})()

type Stores = RecordStore | TaskQueue.TaskQueue | BlobStore.BlobStore | ChunkIndex.ChunkIndex

export interface EngineOptions<S, E> {
  /** The record store, task queue, blob store and chunk index (memory by default), and what else they offer (`S`). */
  readonly stores?: Layer.Layer<Stores | S, E>
  readonly ingestion?: Ingestion.IngestionOptions
  /** More model provider plugins, besides `Test` and `Gated`. */
  readonly plugins?: ReadonlyArray<Layer.Layer<never, never, ModelProvider.ModelPlugins>>
}

/** The engine on memory stores (or the given ones) with the worker, `paragraphs` and the `Test` and `Gated` models. */
export const engine = <S = never, E = never>(options: EngineOptions<S, E> = {}) => {
  // Without stores of its own, `S` and `E` are `never`: the memory stores are the same type.
  const stores = options.stores ?? (Rag.layerMemoryStores as Layer.Layer<Stores | S, E>)
  const ports = Layer.mergeAll(stores, Parser.layer([Parser.TextParser]), Tokenizer.layer)
  return Ingestion.layer({ workerId: "w1", concurrency: 2, heartbeatMs: 100, leaseMs: 5_000, pollMs: 20, backoffMs: 10, backoffMaxMs: 100, statusEveryMs: 100, ...options.ingestion }).pipe(
    Layer.provide(DocumentPreparer.layerLocal),
    Layer.provideMerge(Rag.layer(ports, [TestModels.layer, Gate.plugin, ...(options.plugins ?? [])])),
    Layer.provideMerge(Layer.mergeAll(ChunkMethod.layer([paragraphs]), Tokenizer.layer))
  )
}

/** The services as the surfaces call them (requests decoded first), a caller and a knowledge base. */
export const setup = (embedding_model = "hash-32@Test") =>
  Effect.gen(function* () {
    const docs = decoding(yield* Documents.Documents, Documents.Operations)
    const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
    const me = yield* newCaller()
    const kb = yield* kbs.create(me, { name: "Shelf", embedding_model })
    return { docs, kbs, me, kb }
  })

/** Repeats `effect` until `done` holds (every 20 ms), failing after `seconds`. */
export const waitFor = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>, done: (a: A) => boolean, seconds = 10) =>
  Effect.gen(function* () {
    while (true) {
      const a = yield* effect
      if (done(a)) return a
      yield* Effect.sleep(Duration.millis(20))
    }
  }).pipe(Effect.timeoutFail({ duration: Duration.seconds(seconds), onTimeout: () => new Error(`timed out waiting for ${what}`) }))

/** `waitFor`, where a failing read counts as "not yet" (the store may be failing on purpose). */
export const waitThrough = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>, done: (a: A) => boolean, seconds = 10) =>
  Effect.map(
    waitFor(what, Effect.either(effect), (a) => a._tag === "Right" && done(a.right), seconds),
    (a) => (a as { readonly right: A }).right
  )

/** The document's run, and the counts on it, as stored. */
export const runOf = (docId: DocumentId) =>
  Effect.flatMap(RecordStore, (store) => Effect.map(store.documents.get(docId), (d) => d._tag === "Some" ? d.value : undefined))

/**
 * Every document's `chunk_num` equals what the index holds for it, deleted documents hold nothing,
 * and the knowledge base's `chunk_count` and `token_num` are the sums over its documents.
 */
export const expectCountsMatchIndex = (kbId: KnowledgeBaseId, everyDocId: ReadonlyArray<DocumentId>) =>
  Effect.gen(function* () {
    const store = yield* RecordStore
    const index = yield* ChunkIndex.ChunkIndex
    const docs = (yield* store.documents.find({ where: { kb_id: kbId } })).items
    const stored = new Set<string>(docs.map((d) => d.id))
    for (const doc of docs) {
      expect({ doc: doc.id, run: doc.run, chunks: yield* index.countByDocument(kbId, doc.id) }).toEqual({ doc: doc.id, run: doc.run, chunks: doc.chunk_num })
    }
    for (const id of everyDocId.filter((id) => !stored.has(id))) {
      expect({ deleted: id, chunks: yield* index.countByDocument(kbId, id) }).toEqual({ deleted: id, chunks: 0 })
    }
    const kb = yield* store.knowledgeBases.get(kbId)
    expect(kb._tag === "Some" && [kb.value.chunk_count, kb.value.token_num]).toEqual([
      docs.reduce((n, d) => n + d.chunk_num, 0),
      docs.reduce((n, d) => n + d.token_num, 0)
    ])
    return docs
  })

export const text = (s: string) => new TextEncoder().encode(s)
