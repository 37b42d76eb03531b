/**
 * Stopping a worker (`Ingestion.stop`, then interrupting `run`), as the server does on SIGTERM:
 * nothing new is claimed, a document in hand that finishes within the grace ends DONE, and one that
 * doesn't is put back in the queue at once (not left leased until its lease runs out).
 */
import { describe, expect, layer } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import * as TaskQueue from "../../src/ports/TaskQueue.js"
import { Ingestion } from "../../src/services/Ingestion.js"
import { engine, Gate, runOf, setup, text, waitFor } from "./ingestionHelpers.js"

const body = (n: number) => Array.from({ length: n }, (_, i) => `Paragraph ${i}.`).join("\n\n")

/** The tasks of a document, by status. */
const tasksOf = (docId: string) =>
  Effect.flatMap(TaskQueue.TaskQueue, (queue) => queue.listByKey(docId))

describe("Ingestion: stopping", () => {
  // A lease far longer than the test: a task put back at once was put back by the stop.
  layer(engine({ ingestion: { concurrency: 1, leaseMs: 60_000 } }), { excludeTestServices: true })((it) => {
    it.effect("claims nothing more, lets the document in hand finish within the grace", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const { docs, me, kb } = yield* setup("hash-32@Gated")
        const [a, b] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text(body(3)) }, { name: "b.txt", bytes: text(body(3)) }] })
        const hold = yield* Gate.holdNext
        yield* docs.parse(me, { doc_ids: [a!.id, b!.id] })
        const running = yield* Effect.fork(worker.run)
        yield* hold.entered
        const stopping = yield* Effect.fork(worker.stop(Duration.seconds(5)))
        yield* Effect.sleep(Duration.millis(100))
        yield* hold.release
        yield* Fiber.join(stopping)
        yield* Fiber.interrupt(running)
        const [first, second] = [yield* runOf(a!.id), yield* runOf(b!.id)]
        // One was in hand and finished; the other was never claimed.
        const finished = [first, second].filter((d) => d?.run === "DONE")
        expect(finished).toHaveLength(1)
        const other = finished[0] === first ? b! : a!
        expect((yield* tasksOf(other.id)).map((t) => [t.status, t.attempts])).toEqual([["queued", 0]])
      }))

    it.effect("puts a document still in hand after the grace back in the queue at once", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const { docs, me, kb } = yield* setup("hash-32@Gated")
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "c.txt", bytes: text(body(3)) }] })
        const hold = yield* Gate.holdNext
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        const running = yield* Effect.fork(worker.run)
        yield* hold.entered
        yield* worker.stop(Duration.millis(100))
        yield* Fiber.interrupt(running)
        expect((yield* tasksOf(doc!.id)).map((t) => t.status)).toEqual(["queued"])
        expect((yield* runOf(doc!.id))?.run).toBe("RUNNING")
        // Another start picks it up and finishes it.
        yield* hold.release
        const again = yield* Effect.fork(worker.run)
        const done = yield* waitFor("the document to be DONE", runOf(doc!.id), (d) => d?.run === "DONE")
        expect(done!.chunk_num).toBe(3)
        yield* Fiber.interrupt(again)
      }))
  })
})
