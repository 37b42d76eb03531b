/**
 * `0007_document_lookups`: retrieval's lookup of a knowledge base's disabled documents
 * (`documents.find({ where: { kb_id, status: "0" } })`, every search) and `documents/list`'s default
 * page (newest first) are served by their indexes, with the results the store gave before. The index
 * scans are read from `pg_stat_user_indexes`, so the checks hold for whatever SQL the store sends.
 * On PGlite, and on a real Postgres (one connection, so that its statistics are this session's)
 * when `RAGKIT_TEST_PG_URL` is set.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { type Document, type KnowledgeBaseId } from "@ragkit/core"
import { aDocument, anId } from "@ragkit/core/testing"
import { Effect, Layer } from "effect"
import * as StorePg from "../src/index.js"
import * as StorePglite from "../src/Embedded.js"
import { freshDatabase } from "../src/Testing.js"

const pgUrl = process.env["RAGKIT_TEST_PG_URL"]
const backends: ReadonlyArray<readonly [string, Layer.Layer<SqlClient.SqlClient, unknown>]> = [
  ["PGlite", StorePglite.PgliteClient.layer({ vacuumIntervalMillis: 0 })],
  ...(pgUrl === undefined ? [] : [[
    "Postgres",
    Layer.unwrapScoped(Effect.map(freshDatabase(pgUrl), (db) => StorePg.layer({ url: db.url, maxConnections: 1 })))
  ] as const])
]

const scans = (index: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`SELECT pg_stat_force_next_flush()`
    const [row] = yield* sql<{ readonly n: string | number }>`SELECT idx_scan AS n FROM pg_stat_user_indexes WHERE indexrelname = ${index}`
    return Number(row?.n ?? -1)
  })

const names = (docs: ReadonlyArray<Document>) => docs.map((d) => d.name)

for (const [backend, database] of backends) {
  it.live(`the disabled documents and a page of the newest are read through their indexes (${backend})`, () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* StorePg.Migrations.run
      const store = yield* StorePg.PgRecordStore.make
      const kb = anId<KnowledgeBaseId>()
      // Creation times shuffled, with ties (1,000 values for 3,000 documents), so the id tie-break shows.
      const documents = Array.from({ length: 3_000 }, (_, i) =>
        aDocument({
          kb_id: kb,
          name: `doc-${i}.txt`,
          status: i % 1_000 === 7 ? "0" : "1",
          create_time: 1_700_000_000_000 + ((i * 7_919) % 1_000),
          progress_msg: "parsed ".repeat(60)
        }))
      const others = Array.from({ length: 500 }, (_, i) => aDocument({ name: `other-${i}.txt`, create_time: 1_800_000_000_000 + i }))
      yield* store.documents.insertNew([...documents, ...others])

      // The disabled ones, on a table not analysed yet (as PGlite leaves it until its vacuum runs).
      const disabledScans = yield* scans("document_disabled_idx")
      expect(disabledScans).toBeGreaterThanOrEqual(0)
      const disabled = yield* store.documents.find({ where: { kb_id: kb, status: "0" } })
      expect(names(disabled.items).sort()).toEqual(["doc-1007.txt", "doc-2007.txt", "doc-7.txt"])
      expect(yield* scans("document_disabled_idx")).toBeGreaterThan(disabledScans)

      // A page of the newest, once the table has statistics.
      yield* sql`ANALYZE document`
      const newest = [...documents].sort((a, b) => b.create_time - a.create_time || (a.id < b.id ? -1 : 1))
      const orderScans = yield* scans("document_kb_id_create_time_idx")
      expect(orderScans).toBeGreaterThanOrEqual(0)
      const page = yield* store.documents.find({ where: { kb_id: kb }, orderBy: "create_time", desc: true, offset: 60, limit: 30 })
      expect(page.total).toBe(3_000)
      expect(names(page.items)).toEqual(names(newest.slice(60, 90)))
      expect(yield* scans("document_kb_id_create_time_idx")).toBeGreaterThan(orderScans)
      // Oldest first and another order give the same results as before, whatever the plan.
      const oldest = yield* store.documents.find({ where: { kb_id: kb }, orderBy: "create_time", offset: 2_990, limit: 30 })
      const ascending = [...documents].sort((a, b) => a.create_time - b.create_time || (a.id < b.id ? -1 : 1))
      expect(names(oldest.items)).toEqual(names(ascending.slice(2_990)))
      const byName = yield* store.documents.find({ where: { kb_id: kb }, orderBy: "name", limit: 3 })
      expect(names(byName.items)).toEqual(["doc-0.txt", "doc-1.txt", "doc-10.txt"])
    }).pipe(Effect.provide(database)), 120_000)
}
