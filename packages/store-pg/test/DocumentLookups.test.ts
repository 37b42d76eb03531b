/**
 * Retrieval's lookup of a knowledge base's disabled documents (`documents.find({ where: { kb_id,
 * status: "0" } })`, every search) is served by the partial index of `0007_disabled_documents`
 * rather than by reading every document of the knowledge base. The index scan is read from
 * `pg_stat_user_indexes`, so the check holds for whatever SQL the store sends; the table is not
 * analysed, as PGlite (no autovacuum) leaves it.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { type KnowledgeBaseId } from "@ragkit/core"
import { aDocument, anId } from "@ragkit/core/testing"
import { Effect } from "effect"
import * as StorePg from "../src/index.js"
import * as StorePglite from "../src/Embedded.js"

it.live("the disabled documents of a knowledge base are found through their partial index", () =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* StorePg.Migrations.run
    const store = yield* StorePg.PgRecordStore.make
    const kb = anId<KnowledgeBaseId>()
    const documents = Array.from({ length: 3_000 }, (_, i) =>
      aDocument({ kb_id: kb, name: `doc-${i}.txt`, status: i % 1_000 === 7 ? "0" : "1", progress_msg: "parsed ".repeat(60) }))
    yield* store.documents.insertNew(documents)
    const scans = Effect.gen(function* () {
      yield* sql`SELECT pg_stat_force_next_flush()`
      const [row] = yield* sql<{ readonly n: string | number }>`
        SELECT idx_scan AS n FROM pg_stat_user_indexes WHERE indexrelname = 'document_disabled_idx'`
      return Number(row?.n ?? -1)
    })

    const before = yield* scans
    const disabled = yield* store.documents.find({ where: { kb_id: kb, status: "0" } })
    expect(disabled.items.map((d) => d.name).sort()).toEqual(["doc-1007.txt", "doc-2007.txt", "doc-7.txt"])
    expect(before).toBeGreaterThanOrEqual(0)
    expect(yield* scans).toBeGreaterThan(before)
  }).pipe(Effect.provide(StorePglite.PgliteClient.layer())), 120_000)
