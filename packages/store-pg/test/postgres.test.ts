/**
 * Both conformance suites on a real Postgres server, each in a database of its own that is dropped
 * afterwards, and two separate pools claiming from one queue. Runs when `RAGKIT_TEST_PG_URL` points
 * at a server where the user may create databases, e.g. `postgres://postgres@127.0.0.1:55432/postgres`.
 *
 * The chunk index: when the server has pgvector, its conformance suite and checks; without it, the
 * layer must fail when built with `Unsupported`.
 */
import { describe, expect, it } from "@effect/vitest"
import { randomHex32, TaskQueue } from "@ragkit/core"
import { ChunkIndexSuite, RecordStoreSuite, TaskQueueSuite } from "@ragkit/core/testing"
import { Context, Effect, Exit, Layer, Option } from "effect"
import * as Pg from "pg"
import * as StorePg from "../src/index.js"
import { freshDatabase } from "../src/Testing.js"
import { chunkIndexChecks } from "./chunkIndexChecks.js"

const adminUrl = process.env["RAGKIT_TEST_PG_URL"]

const onFreshDatabase = (url: string) =>
  Layer.unwrapScoped(Effect.map(freshDatabase(url), (db) => StorePg.layer({ url: db.url, maxConnections: 4 })))

/** Whether the server can `CREATE EXTENSION vector`. */
const hasPgvector = async (url: string): Promise<boolean> => {
  const client = new Pg.Client({ connectionString: url })
  await client.connect()
  try {
    const result = await client.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'vector'`)
    return result.rows.length > 0
  } finally {
    await client.end()
  }
}

const onFreshDatabaseWithChunkIndex = (url: string) =>
  Layer.unwrapScoped(Effect.map(freshDatabase(url), (db) =>
    StorePg.layerChunkIndex.pipe(Layer.provideMerge(StorePg.layer({ url: db.url, maxConnections: 4 })))))

if (adminUrl === undefined) {
  describe("real Postgres", () => {
    it.skip("real Postgres skipped: RAGKIT_TEST_PG_URL is not set", () => {})
  })
} else {
  RecordStoreSuite("Postgres", onFreshDatabase(adminUrl))
  TaskQueueSuite("Postgres", onFreshDatabase(adminUrl))

  if (await hasPgvector(adminUrl)) {
    const WithChunkIndex = onFreshDatabaseWithChunkIndex(adminUrl)
    ChunkIndexSuite("pgvector (Postgres)", WithChunkIndex)
    chunkIndexChecks("Postgres", WithChunkIndex)
  } else {
    describe("real Postgres without pgvector", () => {
      it.effect("the chunk index fails when its layer is built, with Unsupported", () =>
        Effect.gen(function* () {
          const exit = yield* Effect.exit(Layer.build(onFreshDatabaseWithChunkIndex(adminUrl)))
          expect(Exit.isFailure(exit)).toBe(true)
          const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
          expect(error?._tag).toBe("ChunkIndexError")
          expect(error?._tag === "ChunkIndexError" && error.reason).toBe("Unsupported")
          expect(error?.message).toMatch(/^pgvector is not installed in this database: CREATE EXTENSION vector failed: /)
        }).pipe(Effect.scoped), { timeout: 60_000 })
    })
  }

  describe("real Postgres, two pools", () => {
    it.live(
      "two processes' pools started together migrate once and never run a task twice",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const db = yield* freshDatabase(adminUrl)
            // Two layers, two pools, built at the same time on an empty database.
            const [a, b] = yield* Effect.all(
              [
                Layer.build(StorePg.layer({ url: db.url, maxConnections: 4 })),
                Layer.build(StorePg.layer({ url: db.url, maxConnections: 4 }))
              ],
              { concurrency: 2 }
            )
            const queues = [Context.get(a, TaskQueue.TaskQueue), Context.get(b, TaskQueue.TaskQueue)] as const
            const kind = `kind-${randomHex32().slice(0, 8)}`
            const n = 200
            const enqueued = yield* Effect.forEach(
              Array.from({ length: n }, (_, i) => i),
              (i) => queues[i % 2]!.enqueue({ kind, key: `doc-${i}` }),
              { concurrency: 8 }
            )
            const runs: Array<string> = []
            const worker = (queue: TaskQueue.TaskQueueService, name: string) =>
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
            // Four workers on each pool.
            yield* Effect.all(
              Array.from({ length: 8 }, (_, i) => worker(queues[i % 2]!, `w${i}`)),
              { concurrency: "unbounded" }
            )
            expect(runs.length).toBe(n)
            expect(new Set(runs)).toEqual(new Set(enqueued.map((t) => t.id)))
            const done = yield* Effect.forEach(enqueued, (t) => queues[0].get(t.id))
            expect(done.every((t) => Option.getOrThrow(t).status === "done" && Option.getOrThrow(t).attempts === 1)).toBe(true)
          })
        ),
      120_000
    )
  })
}
