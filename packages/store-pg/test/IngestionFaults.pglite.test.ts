/**
 * The ingestion worker on the PGlite record store and task queue while the record store fails for a
 * while (core's `StoreFaults` over the real store): every queued document still ends DONE, and the
 * worker's entry in the `task_worker` registry shows the errors.
 */
import { describe, expect, layer } from "@effect/vitest"
import {
  BlobStore,
  Caller,
  ChunkIndex,
  ChunkMethod,
  decoding,
  DocumentPreparer,
  Documents,
  Ingestion,
  KnowledgeBases,
  Parser,
  Rag,
  RecordStore,
  TaskQueue,
  TenantMember,
  Tokenizer,
  type DocumentId,
  type UserId
} from "@ragkit/core"
import { TestModels } from "@ragkit/core/doubles"
import { aTenant, anId, StoreFaults, stamps } from "@ragkit/core/testing"
import { Duration, Effect, Fiber, Layer, Option } from "effect"
import * as StorePglite from "../src/Embedded.js"

/** One chunk per paragraph. */
const paragraphs: ChunkMethod.ChunkMethod = {
  id: "naive",
  accepts: ["txt"],
  chunk: (doc) => Effect.succeed(doc.sections.map((s) => ({ content: s.text, page_num: [], positions: [] })))
}

const ports = Layer.mergeAll(
  StoreFaults.recordStore.pipe(Layer.provideMerge(StorePglite.layerEmbedded())),
  BlobStore.layerMemory,
  ChunkIndex.layerMemory,
  Parser.layer([Parser.TextParser]),
  Tokenizer.layer
)

const Engine = Ingestion.layer({ workerId: "pg-w1", concurrency: 2, heartbeatMs: 100, pollMs: 20, backoffMs: 10, backoffMaxMs: 100, statusEveryMs: 100 }).pipe(
  Layer.provide(DocumentPreparer.layerLocal),
  Layer.provideMerge(Rag.layer(ports, [TestModels.layer])),
  Layer.provideMerge(Layer.mergeAll(ChunkMethod.layer([paragraphs]), Tokenizer.layer))
)

const text = (s: string) => new TextEncoder().encode(s)

/** Polls `effect` (a failing read counts as "not yet") until `done` holds. */
const waitFor = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>, done: (a: A) => boolean) =>
  Effect.gen(function* () {
    while (true) {
      const a = yield* Effect.option(effect)
      if (Option.isSome(a) && done(a.value)) return a.value
      yield* Effect.sleep(Duration.millis(25))
    }
  }).pipe(Effect.timeoutFail({ duration: Duration.seconds(20), onTimeout: () => new Error(`timed out waiting for ${what}`) }))

describe("Ingestion on PGlite while the record store fails", () => {
  layer(Engine, { timeout: 120_000, excludeTestServices: true })((it) => {
    it.effect("every queued document ends DONE, and the registry shows the errors", () =>
      Effect.gen(function* () {
        const store = yield* RecordStore.RecordStore
        const queue = yield* TaskQueue.TaskQueue
        const worker = yield* Ingestion.Ingestion
        const faults = yield* StoreFaults.RecordStoreFaults
        const tenant = aTenant({ embd_id: "hash-32@Test" })
        yield* store.tenants.insert(tenant)
        const userId = tenant.id as string as UserId
        yield* store.members.insert(
          new TenantMember({ id: anId(), tenant_id: tenant.id, user_id: userId, invited_by: userId, role: "owner", status: "1", ...stamps() })
        )
        const me = new Caller({ tenantId: tenant.id, userId })
        const docs = decoding(yield* Documents.Documents, Documents.Operations)
        const kb = yield* decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations).create(me, { name: "Shelf" })
        const uploaded = yield* docs.upload(me, {
          kb_id: kb.id,
          files: Array.from({ length: 3 }, (_, i) => ({ name: `doc-${i}.txt`, bytes: text(`One ${i}.\n\nTwo ${i}.`) }))
        })
        yield* docs.parse(me, { doc_ids: uploaded.map((d) => d.id) })

        yield* faults.failNext(10)
        const running = yield* Effect.fork(worker.run)
        yield* waitFor("the failures to be spent", faults.failed, (n) => n === 10)
        const done = yield* waitFor(
          "every document to be DONE",
          Effect.forEach(uploaded, (d) => store.documents.get(d.id as DocumentId)),
          (ds) => ds.every((d) => Option.isSome(d) && d.value.run === "DONE")
        )
        expect(done.map((d) => Option.getOrThrow(d).chunk_num)).toEqual([2, 2, 2])
        const entry = yield* waitFor(
          "the registry entry",
          Effect.map(queue.listWorkers, (ws) => ws.find((w) => w.id === "pg-w1")),
          (w) => w !== undefined && w.errors >= 10 && w.in_flight === 0
        )
        expect(entry!.last_error).toMatch(/StoreError Unavailable: RecordStore\.[a-zA-Z.]+: the store is unavailable/)
        yield* Fiber.interrupt(running)
      }))
  })
})
