/**
 * PGlite runs no autovacuum: the layer vacuums and analyses the tables past autovacuum's thresholds
 * (`vacuumIntervalMillis`), in its own thread or in this one, and not at all with 0.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { PgliteClient } from "../src/Embedded.js"

const activity = (over: Partial<PgliteClient.TableActivity>): PgliteClient.TableActivity => ({
  table: "t",
  rows: 1_000,
  liveRows: 1_000,
  deadRows: 0,
  modifiedSinceAnalyze: 0,
  ...over
})

/** Writes 2,000 rows and updates each twice: 4,000 dead rows, 6,000 written. */
const churn = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE churned (id int PRIMARY KEY, data jsonb NOT NULL)`
  yield* sql`INSERT INTO churned SELECT i, jsonb_build_object('v', i) FROM generate_series(1, 2000) i`
  yield* sql`UPDATE churned SET data = jsonb_build_object('v', id + 1)`
  yield* sql`UPDATE churned SET data = jsonb_build_object('v', id + 2)`
})

const stats = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`SELECT pg_stat_force_next_flush()`
  const [row] = yield* sql<{ readonly dead: string | number; readonly vacuumed: boolean; readonly rows: number }>`
    SELECT s.n_dead_tup AS dead, s.last_vacuum IS NOT NULL AS vacuumed, c.reltuples AS rows
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.relname = 'churned'`
  return { dead: Number(row!.dead), vacuumed: row!.vacuumed, rows: Number(row!.rows) }
})

describe("PGlite's vacuum", () => {
  it("is due past autovacuum's default thresholds", () => {
    expect(PgliteClient.vacuumDue(activity({ deadRows: 250 }))).toBe("none")
    expect(PgliteClient.vacuumDue(activity({ deadRows: 251 }))).toBe("vacuum")
    expect(PgliteClient.vacuumDue(activity({ modifiedSinceAnalyze: 150 }))).toBe("none")
    expect(PgliteClient.vacuumDue(activity({ modifiedSinceAnalyze: 151 }))).toBe("analyze")
    // Never analysed: the live rows stand in for the statistics.
    expect(PgliteClient.vacuumDue(activity({ rows: -1, liveRows: 10, modifiedSinceAnalyze: 60 }))).toBe("analyze")
    expect(PgliteClient.vacuumDue(activity({ rows: -1, liveRows: 10_000, modifiedSinceAnalyze: 60 }))).toBe("none")
  })

  for (const thread of [false, true]) {
    it.live(`runs every vacuumIntervalMillis${thread ? " (PGlite in its own thread)" : ""}`, () =>
      Effect.gen(function* () {
        yield* churn
        expect((yield* stats).dead).toBeGreaterThan(3_000)
        const deadline = Date.now() + 15_000
        let seen = yield* stats
        while (!seen.vacuumed && Date.now() < deadline) {
          yield* Effect.sleep("100 millis")
          seen = yield* stats
        }
        expect(seen.vacuumed).toBe(true)
        expect(seen.dead).toBeLessThan(100)
        // Analysed too: the planner knows the table's size.
        expect(seen.rows).toBe(2_000)
      }).pipe(Effect.provide(PgliteClient.layer({ vacuumIntervalMillis: 200, thread }))), 60_000)
  }

  it.live("does not run with vacuumIntervalMillis 0", () =>
    Effect.gen(function* () {
      yield* churn
      yield* Effect.sleep("1 second")
      const seen = yield* stats
      expect(seen.vacuumed).toBe(false)
      expect(seen.dead).toBeGreaterThan(3_000)
      expect(seen.rows).toBe(-1)
      // What the layer would have done, run by hand.
      const done = yield* PgliteClient.vacuumTables
      expect(done).toContainEqual(["churned", "vacuum"])
      expect((yield* stats).vacuumed).toBe(true)
    }).pipe(Effect.provide(PgliteClient.layer({ vacuumIntervalMillis: 0 }))), 60_000)
})
