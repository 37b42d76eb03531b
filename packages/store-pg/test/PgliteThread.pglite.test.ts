/**
 * PGlite in a thread of its own: a long statement does not stop the opening thread's event loop
 * (in the opening thread it does: the control), results, errors with their SQLSTATE and
 * transactions come through the wire protocol as from a server, and a data directory that cannot
 * be opened fails the layer with a clear error.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { PgliteClient } from "../src/Embedded.js"
import { sqlState } from "../src/internal/errors.js"

/** A statement that keeps PGlite busy for a while: ~1.2 s on a fast 2-core machine (a quarter of it, 1.5M rows, once took 0.29 s there: under the 300 ms below). */
const busy = "SELECT count(*)::int AS n FROM generate_series(1, 6000000) AS g WHERE g % 7 = 3"

/** Runs `busy` while a 10 ms timer ticks: how long the statement took, and the longest gap between ticks. */
const stall = (options: PgliteClient.Options) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`SELECT 1`
    let last = performance.now()
    let longest = 0
    const timer = setInterval(() => {
      const now = performance.now()
      longest = Math.max(longest, now - last)
      last = now
    }, 10)
    const began = performance.now()
    const rows = yield* sql.unsafe<{ n: number }>(busy).pipe(Effect.ensuring(Effect.sync(() => clearInterval(timer))))
    const took = performance.now() - began
    longest = Math.max(longest, performance.now() - last)
    expect(rows).toEqual([{ n: 857143 }])
    return { took, longest }
  }).pipe(Effect.provide(PgliteClient.layer(options)))

describe("PGlite in a thread", () => {
  it.live("a long statement leaves the event loop free; in the opening thread it stops it", () =>
    Effect.gen(function* () {
      const threaded = yield* stall({ thread: true })
      const inline = yield* stall({ thread: false })
      // The control: the same statement in this thread stops the timer for its whole run.
      expect(inline.took).toBeGreaterThan(300)
      expect(inline.longest).toBeGreaterThan(inline.took * 0.8)
      expect(threaded.took).toBeGreaterThan(300)
      expect(threaded.longest).toBeLessThan(threaded.took / 2)
    }), 120_000)

  it.live("errors keep their SQLSTATE, a failed transaction rolls back, and the connection goes on", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)`
      yield* sql`INSERT INTO t ${sql.insert({ id: 1, name: "one" })}`
      const duplicate = yield* Effect.flip(sql`INSERT INTO t ${sql.insert({ id: 1, name: "again" })}`)
      expect(sqlState(duplicate)).toBe("23505")
      const exit = yield* Effect.exit(sql.withTransaction(Effect.gen(function* () {
        yield* sql`INSERT INTO t ${sql.insert({ id: 2, name: "two" })}`
        yield* sql`SELECT 1 / 0`
      })))
      expect(Exit.isFailure(exit)).toBe(true)
      const rows = yield* sql<{ id: number; name: string }>`SELECT id, name FROM t ORDER BY id`
      expect(rows).toEqual([{ id: 1, name: "one" }])
      // Many statements at once take turns on the one connection; each gets its own answer.
      const many = yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (i) => sql<{ x: number }>`SELECT ${i}::int AS x`, {
        concurrency: "unbounded"
      })
      expect(many.map((r) => r[0]!.x)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    }).pipe(Effect.provide(PgliteClient.layer({ thread: true }))), 60_000)

  it.live("a data directory that cannot be opened fails the layer, naming it", () =>
    Effect.gen(function* () {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ragkit-pglite-")), "not-a-directory")
      fs.writeFileSync(file, "x")
      const error = yield* Effect.flip(Layer.build(PgliteClient.layer({ dataDir: file, thread: true })))
      expect(error._tag).toBe("SqlError")
      expect(error.message).toContain(`PGlite: could not open ${file}`)
      fs.rmSync(path.dirname(file), { recursive: true, force: true })
    }).pipe(Effect.scoped), 60_000)

  it.live("data written through the thread is there when the directory is opened again, in either mode", () =>
    Effect.gen(function* () {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ragkit-pglite-"))
      const write = Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE kept (v text)`
        yield* sql`INSERT INTO kept VALUES ('through the thread')`
      }).pipe(Effect.provide(PgliteClient.layer({ dataDir, thread: true })))
      yield* write
      const read = (thread: boolean) =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          return yield* sql<{ v: string }>`SELECT v FROM kept`
        }).pipe(Effect.provide(PgliteClient.layer({ dataDir, thread })))
      expect(yield* read(false)).toEqual([{ v: "through the thread" }])
      expect(yield* read(true)).toEqual([{ v: "through the thread" }])
      fs.rmSync(dataDir, { recursive: true, force: true })
    }), 120_000)
})
