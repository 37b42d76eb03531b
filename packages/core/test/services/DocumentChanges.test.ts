import { describe, expect, layer } from "@effect/vitest"
import { Chunk, Effect, Either, Stream } from "effect"
import { decoding } from "../../src/RagClient.js"
import type { DocumentChange } from "../../src/services/DocumentChanges.js"
import { Documents } from "../../src/services/Documents.js"
import { Ingestion } from "../../src/services/Ingestion.js"
import * as KnowledgeBases from "../../src/services/KnowledgeBases.js"
import { EngineWithWorker, newCaller, text } from "./helpers.js"

const ended = (c: DocumentChange) => c.run === "DONE" || c.run === "FAIL" || c.run === "CANCEL"

describe("Documents.changes", () => {
  layer(EngineWithWorker)((it) => {
    it.scoped("tells a subscriber each run's queuing, progress and end, and keeps to the caller's documents", () =>
      Effect.gen(function* () {
        const docs = yield* Documents
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const me = yield* newCaller()
        const other = yield* newCaller()
        const kb = yield* kbs.create(me, { name: "Pets", embedding_model: "hash-64@Test" })
        const [otters, cats] = yield* docs.upload(me, {
          kb_id: kb.id,
          files: [
            { name: "otters.txt", bytes: text("Otters hold hands.\n\nThey sleep in rafts.") },
            { name: "cats.txt", bytes: text("Cats sleep all day.") }
          ]
        })

        // Subscribed before parsing is queued: nothing is missed.
        const mine = yield* docs.changes(me, { kb_id: kb.id })
        const onlyCats = yield* docs.changes(me, { doc_ids: [cats!.id] })
        const theirs = yield* docs.changes(other, {})

        yield* docs.parse(me, { doc_ids: [otters!.id, cats!.id] })
        yield* (yield* Ingestion).drain
        yield* docs.parse(me, { doc_ids: [cats!.id] })
        yield* docs.cancel(me, { doc_ids: [cats!.id] })

        const seen = Chunk.toReadonlyArray(
          yield* mine.pipe(
            Stream.takeUntil((c) => c.doc_id === cats!.id && c.run === "CANCEL"),
            Stream.runCollect
          )
        )
        const ofOtters = seen.filter((c) => c.doc_id === otters!.id)
        expect(ofOtters[0]).toMatchObject({ run: "RUNNING", progress: 0, kb_id: kb.id, name: "otters.txt", chunk_num: 0 })
        expect(ofOtters.at(-1)).toMatchObject({ run: "DONE", progress: 1, chunk_num: 2 })
        expect(ofOtters.at(-1)!.progress_msg).toMatch(/Indexed 2 chunks/)
        // Progress never goes back. (A document done within a heartbeat has its progress lines
        // written with its end: queued and done are then its only writes.)
        expect(ofOtters.at(-1)!.progress_msg).toMatch(/Task has been received by .*\n.*Parsed .*\n.*Generated .*\n.*Embedded 2\/2 chunks/)
        const progress = ofOtters.map((c) => c.progress)
        expect(progress.length).toBeGreaterThanOrEqual(2)
        expect([...progress].sort((a, b) => a - b)).toEqual(progress)
        expect(seen.filter((c) => c.doc_id === cats!.id && ended(c)).map((c) => c.run)).toEqual(["DONE", "CANCEL"])

        // `doc_ids` keeps to those documents.
        const cat = Chunk.toReadonlyArray(yield* onlyCats.pipe(Stream.takeUntil((c) => c.run === "CANCEL"), Stream.runCollect))
        expect(new Set(cat.map((c) => c.doc_id))).toEqual(new Set([cats!.id]))

        // Another tenant sees none of them (its first change is of its own document), and can't
        // subscribe to the knowledge base.
        const own = yield* kbs.create(other, { name: "Theirs", embedding_model: "hash-64@Test" })
        const [theirDoc] = yield* docs.upload(other, { kb_id: own.id, files: [{ name: "t.txt", bytes: text("Theirs.") }] })
        yield* docs.parse(other, { doc_ids: [theirDoc!.id] })
        const first = yield* theirs.pipe(Stream.take(1), Stream.runCollect)
        expect(Chunk.toReadonlyArray(first).map((c) => [c.doc_id, c.run])).toEqual([[theirDoc!.id, "RUNNING"]])
        const refused = yield* Effect.either(docs.changes(other, { kb_id: kb.id }))
        expect(Either.isLeft(refused) && refused.left._tag).toBe("NotFound")
      })
    )
  })
})
