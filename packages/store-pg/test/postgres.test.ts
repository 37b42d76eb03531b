/**
 * Both conformance suites on a real Postgres server, each in a database of its own that is dropped
 * afterwards, and two separate pools claiming from one queue. Runs when `RAGKIT_TEST_PG_URL` points
 * at a server where the user may create databases, e.g. `postgres://postgres@127.0.0.1:55432/postgres`.
 *
 * The chunk index: when the server has pgvector, its conformance suite and checks; without it, the
 * layer must fail when built with `Unsupported`, unless `RAGKIT_TEST_PGVECTOR=1` (`.ci/run` builds
 * pgvector) says it must be there: then this file fails.
 */
import { describe, expect, it } from "@effect/vitest"
import { ChunkIndexError, randomHex32, TaskQueue } from "@ragkit/core"
import { ChunkIndexSuite, RecordStoreSuite, TaskQueueSuite } from "@ragkit/core/testing"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Context, Effect, Exit, Layer, Option, Redacted } from "effect"
import * as StorePg from "../src/index.js"
import { admin, freshDatabase, hasPgvector } from "../src/Testing.js"
import { chunkIndexChecks } from "./chunkIndexChecks.js"

const adminUrl = process.env["RAGKIT_TEST_PG_URL"]

const onFreshDatabase = (url: string) =>
  Layer.unwrapScoped(Effect.map(freshDatabase(url), (db) => StorePg.layer({ url: db.url, maxConnections: 4 })))

const onFreshDatabaseWithChunkIndex = (url: string, options: StorePg.PgChunkIndex.Options = {}) =>
  Layer.unwrapScoped(Effect.map(freshDatabase(url), (db) =>
    StorePg.PgChunkIndex.layer(options).pipe(Layer.provideMerge(StorePg.layer({ url: db.url, maxConnections: 4 })))))

/** Builds a layer that must fail with `ChunkIndexError` `Unsupported`; its message. */
const unsupported = <ROut, E>(layer: Layer.Layer<ROut, E>) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(Layer.build(layer))
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
    expect(error instanceof ChunkIndexError && error.reason).toBe("Unsupported")
    return error instanceof ChunkIndexError ? error.message : ""
  })

if (adminUrl === undefined) {
  describe("real Postgres", () => {
    it.skip("real Postgres skipped: RAGKIT_TEST_PG_URL is not set", () => {})
  })
} else {
  RecordStoreSuite("Postgres", onFreshDatabase(adminUrl))
  TaskQueueSuite("Postgres", onFreshDatabase(adminUrl))

  if (await Effect.runPromise(hasPgvector(adminUrl))) {
    const WithChunkIndex = onFreshDatabaseWithChunkIndex(adminUrl)
    ChunkIndexSuite("pgvector (Postgres)", WithChunkIndex)
    chunkIndexChecks("Postgres", (options) => onFreshDatabaseWithChunkIndex(adminUrl, options))
    describe("real Postgres with pgvector", () => {
      it.effect("a user who may not create the extension is told so when the layer is built", () =>
        Effect.gen(function* () {
          const db = yield* freshDatabase(adminUrl)
          const role = `ragkit_test_${randomHex32().slice(0, 12)}`
          yield* Effect.acquireRelease(admin(adminUrl, `CREATE ROLE ${role} LOGIN`), () => admin(adminUrl, `DROP ROLE ${role}`))
          const url = new URL(db.url)
          url.username = role
          // It may connect; it may not create the extension (nor the record store's tables: no store layer here).
          const pool = PgClient.layer({ url: Redacted.make(url.toString()), maxConnections: 1 })
          const message = yield* unsupported(StorePg.layerChunkIndex.pipe(Layer.provide(pool)))
          expect(message).toBe(
            `pgvector is not created in this database and this user may not create it: run CREATE EXTENSION vector ` +
              `in this database as a superuser once (permission denied to create extension "vector")`
          )
        }).pipe(Effect.scoped), { timeout: 60_000 })
    })
  } else if (process.env["RAGKIT_TEST_PGVECTOR"] === "1") {
    describe("real Postgres without pgvector", () => {
      it("RAGKIT_TEST_PGVECTOR=1: pgvector must be installed on the server", () => {
        expect.fail(`RAGKIT_TEST_PGVECTOR=1 but ${new URL(adminUrl).host} has no pgvector: run scripts/install-pgvector.sh`)
      })
    })
  } else {
    describe("real Postgres without pgvector", () => {
      it.effect("the chunk index fails when its layer is built, with Unsupported", () =>
        Effect.gen(function* () {
          const message = yield* unsupported(onFreshDatabaseWithChunkIndex(adminUrl))
          expect(message).toMatch(/^pgvector is not installed in this database: CREATE EXTENSION vector failed: /)
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
