/**
 * The TaskQueue conformance suite. Every implementation runs it:
 *
 *   TaskQueueSuite("memory", TaskQueue.layerMemory)
 *
 * Time is the Effect TestClock, so leases expire when a test says so. Each test uses a task kind
 * of its own, so tests sharing one queue never take each other's tasks.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either, Layer, Option, TestClock } from "effect"
import { randomHex32 } from "../domain/Ids.js"
import type { Task } from "../ports/TaskQueue.js"
import { TaskQueue, WorkerStatus } from "../ports/TaskQueue.js"

const freshKind = () => `kind-${randomHex32().slice(0, 8)}`

export const TaskQueueSuite = <E>(name: string, queueLayer: Layer.Layer<TaskQueue, E>) =>
  describe(`TaskQueue conformance: ${name}`, () => {
    layer(queueLayer, { timeout: 120_000 })((it) => {
      it.effect("claims the oldest queued task and leases it", () =>
        Effect.gen(function* () {
          const queue = yield* TaskQueue
          const kind = freshKind()
          const first = yield* queue.enqueue({ kind, key: "doc-1", payload: { doc_id: "doc-1", n: 1 } })
          yield* TestClock.adjust(10)
          const second = yield* queue.enqueue({ kind, key: "doc-2" })
          expect(first.status).toBe("queued")

          const [claimed] = yield* queue.claim({ worker: "w1", leaseMs: 1_000, kinds: [kind] })
          expect(claimed?.id).toBe(first.id)
          expect(claimed?.status).toBe("running")
          expect(claimed?.attempts).toBe(1)
          expect(claimed?.lease_owner).toBe("w1")
          expect(claimed?.payload).toEqual({ doc_id: "doc-1", n: 1 })

          const next = yield* queue.claim({ worker: "w1", leaseMs: 1_000, kinds: [kind], limit: 5 })
          expect(next.map((t) => t.id)).toEqual([second.id])
          expect(yield* queue.claim({ worker: "w1", leaseMs: 1_000, kinds: [kind] })).toEqual([])
        }))

      it.effect("enqueueMany queues tasks in the order given; they are claimed in that order", () =>
        Effect.gen(function* () {
          const queue = yield* TaskQueue
          const kind = freshKind()
          expect(yield* queue.enqueueMany([])).toEqual([])
          // More than one statement's worth in the SQL stores (1,000 rows each).
          const inputs = Array.from({ length: 1_203 }, (_, i) => ({ kind, key: `doc-${i}`, payload: { n: i }, maxAttempts: 1 + (i % 3) }))
          const tasks = yield* queue.enqueueMany(inputs)
          expect(tasks.map((t) => [t.key, t.payload, t.max_attempts, t.status])).toEqual(
            inputs.map((input) => [input.key, input.payload, input.maxAttempts, "queued"])
          )
          expect(new Set(tasks.map((t) => t.id)).size).toBe(inputs.length)
          const claimed = yield* queue.claim({ worker: "w1", leaseMs: 1_000, kinds: [kind], limit: 2_000 })
          expect(claimed.map((t) => t.id)).toEqual(tasks.map((t) => t.id))
          expect((yield* queue.listByKey("doc-7")).filter((t) => t.kind === kind).map((t) => t.id)).toEqual([tasks[7]!.id])
        }))

      it.effect("two claimers take N tasks and each task runs exactly once", () =>
        Effect.gen(function* () {
          const queue = yield* TaskQueue
          const kind = freshKind()
          const n = 40
          const enqueued = yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) =>
            queue.enqueue({ kind, key: `doc-${i}` })
          )
          const runs: Array<string> = []
          const worker = (name: string) =>
            Effect.gen(function* () {
              while (true) {
                const tasks = yield* queue.claim({ worker: name, leaseMs: 60_000, kinds: [kind], limit: 3 })
                if (tasks.length === 0) return
                for (const task of tasks) {
                  runs.push(task.id)
                  yield* queue.heartbeat(task.id, name, 60_000)
                  yield* queue.complete(task.id, name)
                }
              }
            })
          yield* Effect.all([worker("a"), worker("b")], { concurrency: 2 })
          expect(runs.length).toBe(n)
          expect(new Set(runs).size).toBe(n)
          expect(new Set(runs)).toEqual(new Set(enqueued.map((t) => t.id)))
          const done = yield* Effect.forEach(enqueued, (t) => queue.get(t.id))
          expect(done.every((t) => Option.getOrThrow(t).status === "done")).toBe(true)
        }))

      it.effect("an expired lease is taken again, and the old holder learns it lost the task", () =>
        Effect.gen(function* () {
          const queue = yield* TaskQueue
          const kind = freshKind()
          const task = yield* queue.enqueue({ kind, key: "doc" })
          yield* queue.claim({ worker: "w1", leaseMs: 1_000, kinds: [kind] })

          yield* TestClock.adjust(500)
          expect(yield* queue.claim({ worker: "w2", leaseMs: 1_000, kinds: [kind] })).toEqual([])
          yield* queue.heartbeat(task.id, "w1", 1_000) // now valid until 1500

          yield* TestClock.adjust(1_200)
          const [retaken] = yield* queue.claim({ worker: "w2", leaseMs: 1_000, kinds: [kind] })
          expect(retaken?.id).toBe(task.id)
          expect(retaken?.attempts).toBe(2)
          expect(retaken?.lease_owner).toBe("w2")

          const lost = yield* Effect.either(queue.heartbeat(task.id, "w1", 1_000))
          expect(Either.isLeft(lost) && lost.left._tag === "LeaseLost" && lost.left.reason).toBe("Expired")
          const lateComplete = yield* Effect.either(queue.complete(task.id, "w1"))
          expect(Either.isLeft(lateComplete)).toBe(true)

          yield* queue.complete(task.id, "w2")
          expect(Option.getOrThrow(yield* queue.get(task.id)).status).toBe("done")
        }))

      it.effect("a batch claim leases each task on its own: the ones renewed stay, a dead holder's others are taken again", () =>
        Effect.gen(function* () {
          const queue = yield* TaskQueue
          const kind = freshKind()
          const tasks = yield* Effect.forEach([1, 2, 3, 4], (i) => queue.enqueue({ kind, key: `doc-${i}` }))
          const batch = yield* queue.claim({ worker: "w1", leaseMs: 1_000, kinds: [kind], limit: 3 })
          expect(batch.map((t) => t.id)).toEqual(tasks.slice(0, 3).map((t) => t.id))
          // w1 renews the first (it works on it) and then dies.
          yield* TestClock.adjust(800)
          yield* queue.heartbeat(batch[0]!.id, "w1", 1_000)
          yield* TestClock.adjust(400)
          const retaken = yield* queue.claim({ worker: "w2", leaseMs: 1_000, kinds: [kind], limit: 10 })
          expect(retaken.map((t) => [t.id, t.attempts]).sort()).toEqual(
            [[tasks[1]!.id, 2], [tasks[2]!.id, 2], [tasks[3]!.id, 1]].sort()
          )
          const lost = yield* Effect.either(queue.complete(batch[1]!.id, "w1"))
          expect(Either.isLeft(lost) && lost.left._tag === "LeaseLost" && lost.left.reason).toBe("Expired")
          yield* queue.complete(batch[0]!.id, "w1")
          expect(Option.getOrThrow(yield* queue.get(batch[0]!.id)).status).toBe("done")
        }))

      it.effect("completeMany ends every task the worker holds in one call, or none and says why", () =>
        Effect.gen(function* () {
          const queue = yield* TaskQueue
          const kind = freshKind()
          const tasks = yield* Effect.forEach([1, 2, 3, 4, 5], (i) => queue.enqueue({ kind, key: `many-${i}` }))
          const mine = yield* queue.claim({ worker: "w1", leaseMs: 1_000, kinds: [kind], limit: 4 })
          expect(mine.length).toBe(4)
          // One canceled, one taken over after its lease ran out, two still held; one never claimed.
          yield* queue.cancelKey("many-1")
          yield* TestClock.adjust(800)
          yield* queue.heartbeat(mine[2]!.id, "w1", 1_000)
          yield* queue.heartbeat(mine[3]!.id, "w1", 1_000)
          yield* TestClock.adjust(400)
          const [taken] = yield* queue.claim({ worker: "w2", leaseMs: 1_000, kinds: [kind] })
          expect(taken?.id).toBe(tasks[1]!.id)
          const status = () => Effect.forEach(tasks, (t) => Effect.map(queue.get(t.id), (o) => Option.getOrThrow(o).status))

          const lost = yield* queue.completeMany(tasks.map((t) => t.id), "w1")
          expect(lost.map((l) => [l.task_id, l.reason])).toEqual([
            [tasks[0]!.id, "Canceled"],
            [tasks[1]!.id, "Expired"],
            [tasks[4]!.id, "Expired"]
          ])
          expect(yield* status()).toEqual(["canceled", "running", "running", "running", "queued"])

          expect(yield* queue.completeMany([tasks[2]!.id, tasks[3]!.id, tasks[2]!.id], "w1")).toEqual([])
          expect(yield* status()).toEqual(["canceled", "running", "done", "done", "queued"])
          // Done once: a second call finds them no longer held.
          expect((yield* queue.completeMany([tasks[2]!.id], "w1")).map((l) => l.reason)).toEqual(["Expired"])
          expect(yield* queue.completeMany([], "w1")).toEqual([])
        }))

      it.effect("gives up on a task that keeps losing its worker", () =>
        Effect.gen(function* () {
          const queue = yield* TaskQueue
          const kind = freshKind()
          const task = yield* queue.enqueue({ kind, key: "poison", maxAttempts: 2 })
          yield* queue.claim({ worker: "w1", leaseMs: 100, kinds: [kind] })
          yield* TestClock.adjust(200)
          expect((yield* queue.claim({ worker: "w2", leaseMs: 100, kinds: [kind] })).length).toBe(1)
          yield* TestClock.adjust(200)
          expect(yield* queue.claim({ worker: "w3", leaseMs: 100, kinds: [kind] })).toEqual([])
          const ended = Option.getOrThrow(yield* queue.get(task.id))
          expect(ended.status).toBe("failed")
          expect(ended.error).toMatch(/2 attempts/)
        }))

      it.effect("a claim can return the tasks it gave up on, beside the ones it leased", () =>
        Effect.gen(function* () {
          const queue = yield* TaskQueue
          const kind = freshKind()
          const poison = yield* queue.enqueue({ kind, key: "poison", maxAttempts: 1 })
          yield* TestClock.adjust(1)
          const fine = yield* queue.enqueue({ kind, key: "fine" })
          expect((yield* queue.claim({ worker: "w1", leaseMs: 100, kinds: [kind] })).map((t) => t.id)).toEqual([poison.id])
          yield* TestClock.adjust(200)
          const claimed = yield* queue.claim({ worker: "w2", leaseMs: 100, kinds: [kind], includeExhausted: true })
          expect(claimed.map((t) => [t.id, t.status, t.error])).toEqual([
            [fine.id, "running", null],
            [poison.id, "failed", "gave up after 1 attempts"]
          ])
          expect(Option.getOrThrow(yield* queue.get(poison.id)).status).toBe("failed")
        }))

      it.effect("depth counts the queued and the running tasks, and no ended ones", () =>
        Effect.gen(function* () {
          const queue = yield* TaskQueue
          const kind = freshKind()
          const before = yield* queue.depth
          const [a, b] = [yield* queue.enqueue({ kind, key: "d-a" }), yield* queue.enqueue({ kind, key: "d-b" })]
          yield* queue.enqueue({ kind, key: "d-c" })
          yield* queue.enqueue({ kind, key: "d-d" })
          yield* queue.claim({ worker: "w", leaseMs: 1_000, kinds: [kind], limit: 2 })
          const delta = (now: { queued: number; running: number }) => [now.queued - before.queued, now.running - before.running]
          expect(delta(yield* queue.depth)).toEqual([2, 2])
          yield* queue.complete(a.id, "w")
          yield* queue.fail(b.id, "w", "bad file")
          expect(yield* queue.cancelKey("d-c")).toBe(1)
          expect(delta(yield* queue.depth)).toEqual([1, 0])
          // An expired lease still counts as running until a claim takes the task again.
          const [d] = yield* queue.claim({ worker: "w", leaseMs: 100, kinds: [kind] })
          yield* TestClock.adjust(200)
          expect(delta(yield* queue.depth)).toEqual([0, 1])
          yield* queue.claim({ worker: "w2", leaseMs: 1_000, kinds: [kind] })
          yield* queue.complete(d!.id, "w2")
          expect(yield* queue.depth).toEqual(before)
        }))

      it.effect("keeps each worker's latest status report, the most recent first, until forgotten", () =>
        Effect.gen(function* () {
          const queue = yield* TaskQueue
          const [a, b] = [`w-${randomHex32().slice(0, 8)}`, `w-${randomHex32().slice(0, 8)}`]
          const report = (id: string, at: number, changes: Partial<WorkerStatus> = {}) =>
            new WorkerStatus({
              id,
              state: "idle",
              concurrency: 2,
              in_flight: 0,
              processed: 0,
              errors: 0,
              last_error: null,
              last_error_at: null,
              started_at: 1_000,
              heartbeat_at: at,
              ...changes
            })
          yield* queue.reportWorker(report(a, 2_000))
          yield* queue.reportWorker(report(b, 3_000))
          const failing = report(a, 4_000, { state: "backing-off", in_flight: 1, errors: 3, last_error: "claim: StoreError Unavailable", last_error_at: 3_900 })
          yield* queue.reportWorker(failing)
          const mine = (yield* queue.listWorkers).filter((w) => w.id === a || w.id === b)
          expect(mine).toEqual([failing, report(b, 3_000)])
          expect(yield* queue.forgetWorkers(3_500)).toBeGreaterThanOrEqual(1)
          expect((yield* queue.listWorkers).filter((w) => w.id === a || w.id === b).map((w) => w.id)).toEqual([a])
        }))

      it.effect("records failure reasons and retries", () =>
        Effect.gen(function* () {
          const queue = yield* TaskQueue
          const kind = freshKind()
          const task = yield* queue.enqueue({ kind, key: "doc", maxAttempts: 2 })
          yield* queue.claim({ worker: "w", leaseMs: 1_000, kinds: [kind] })
          const during = Option.getOrThrow(yield* queue.get(task.id))
          expect([during.status, during.lease_owner, during.attempts]).toEqual(["running", "w", 1])

          yield* queue.fail(task.id, "w", "embedder unavailable", { retry: true })
          expect(Option.getOrThrow(yield* queue.get(task.id)).status).toBe("queued")
          const [again] = yield* queue.claim({ worker: "w", leaseMs: 1_000, kinds: [kind] })
          expect(again?.attempts).toBe(2)
          yield* queue.fail(task.id, "w", "embedder unavailable", { retry: true })
          const failed = Option.getOrThrow(yield* queue.get(task.id))
          expect([failed.status, failed.error]).toEqual(["failed", "embedder unavailable"])
        }))

      it.effect("cancel stops queued and running tasks of a key", () =>
        Effect.gen(function* () {
          const queue = yield* TaskQueue
          const kind = freshKind()
          const running = yield* queue.enqueue({ kind, key: "doc-x" })
          yield* queue.claim({ worker: "w", leaseMs: 1_000, kinds: [kind] })
          yield* TestClock.adjust(1)
          const queued = yield* queue.enqueue({ kind, key: "doc-x" })
          const other = yield* queue.enqueue({ kind, key: "doc-y" })

          expect(yield* queue.cancelKey("doc-x")).toBe(2)
          const lost = yield* Effect.either(queue.heartbeat(running.id, "w", 1_000))
          expect(Either.isLeft(lost) && lost.left._tag === "LeaseLost" && lost.left.reason).toBe("Canceled")
          const completed = yield* Effect.either(queue.complete(running.id, "w"))
          expect(Either.isLeft(completed) && completed.left._tag === "LeaseLost" && completed.left.reason).toBe("Canceled")

          const claimed = yield* queue.claim({ worker: "w", leaseMs: 1_000, kinds: [kind], limit: 10 })
          expect(claimed.map((t: Task) => t.id)).toEqual([other.id])
          const history = yield* queue.listByKey("doc-x")
          expect(history.map((t) => [t.id, t.status])).toEqual([
            [queued.id, "canceled"],
            [running.id, "canceled"]
          ])
          expect(yield* queue.cancelKey("doc-x")).toBe(0)
          expect(Option.isNone(yield* queue.get(randomHex32() as Task["id"]))).toBe(true)
        }))
    })
  })
