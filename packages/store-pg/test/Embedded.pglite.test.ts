/**
 * What the conformance suites do not cover: the SQL store answers every query exactly as the memory
 * store does, the fixed migrations match the table specs, a caught Conflict does not poison a
 * transaction, and a PGlite data directory keeps its data (and its migrations) across restarts.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it, layer } from "@effect/vitest"
import { randomHex32, RecordStore, TaskQueue, type KnowledgeBaseId, type TaskId } from "@ragkit/core"
import { aDocument, aKnowledgeBase, aTenant, anId, stamps } from "@ragkit/core/testing"
import { Effect, Either, Option, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as StorePg from "../src/index.js"
import * as StorePglite from "../src/Embedded.js"

describe("PGlite store", () => {
  layer(StorePglite.layerEmbedded(), { timeout: 120_000 })((it) => {
    it.effect("answers every query exactly as the memory store does", () =>
      Effect.gen(function* () {
        const pg = yield* RecordStore.RecordStore
        const memory = yield* Effect.provide(RecordStore.RecordStore, RecordStore.layerMemory)
        const kb = anId<KnowledgeBaseId>()
        const names = [
          "Annual Report.pdf", "annual report (2).pdf", "REPORT-final.txt", "notes.txt", "50% off_sale.txt",
          "a_b.txt", "axb.txt", "back\\slash.md", "Bücher.txt", "bücher-2.txt", "知识库.md", "zeta", "Zeta", "",
          "report", "x%y", "under_score", "plain"
        ]
        const docs = names.map((name, i) =>
          aDocument({
            kb_id: kb,
            name,
            suffix: ["txt", "pdf", "md"][i % 3]!,
            size: [5, -1, 2.5, 0, 5, 10, 1e6, 3][i % 8]!,
            progress: (i % 5) / 4,
            process_begin_at: i % 3 === 0 ? null : 1_000 - (i % 4) * 10,
            pipeline_id: i % 4 === 0 ? null : `p${i % 2}`,
            run: (["UNSTART", "RUNNING", "DONE", "FAIL"] as const)[i % 4]!,
            ...stamps(100 + (i % 4))
          })
        )
        yield* Effect.forEach(docs, (d) => Effect.zipRight(pg.documents.insert(d), memory.documents.insert(d)))

        const wheres: Array<Readonly<Record<string, RecordStore.Condition>>> = [
          {},
          { suffix: "txt" },
          { size: 5 },
          { size: 2.5 },
          { size: "5" },
          { name: 5 },
          { pipeline_id: null },
          { pipeline_id: "p1" },
          { process_begin_at: null },
          { suffix: { in: ["txt", "md"] } },
          { size: { in: [5, 2.5, "3"] } },
          { run: { in: [] } },
          { size: { gte: 0, lte: 5 } },
          { size: { gte: 3 } },
          { process_begin_at: { lte: 985 } },
          { name: { gte: 0 } },
          { progress: { gte: 0.25, lte: 0.75 } },
          { id: { in: [docs[2]!.id, docs[5]!.id, "nope"] } },
          { id: docs[7]!.id },
          { status: "1", suffix: "pdf" }
        ]
        const searches: Array<RecordStore.Query["search"]> = [
          undefined,
          { fields: ["name"], text: "REPORT" },
          { fields: ["name"], text: "50%" },
          { fields: ["name"], text: "a_b" },
          { fields: ["name"], text: "%" },
          { fields: ["name"], text: "_" },
          { fields: ["name"], text: "\\" },
          { fields: ["name"], text: "BÜCHER" },
          { fields: ["name", "suffix"], text: "md" },
          { fields: ["size"], text: "5" },
          { fields: [], text: "x" },
          { fields: ["name"], text: "" }
        ]
        const orders = ["create_time", "name", "size", "process_begin_at", "progress", "pipeline_id", "id", "missing_field"]
        const pages: Array<{ offset?: number; limit?: number }> = [
          {}, { limit: 3 }, { offset: 2, limit: 4 }, { offset: 40 }, { limit: 0 }, { offset: 40, limit: 0 },
          { offset: -3, limit: 2 }, { offset: 1.5, limit: 1.5 }, { limit: 0.5 }, { limit: -1 }
        ]

        let compared = 0
        const check = (query: RecordStore.Query) =>
          Effect.gen(function* () {
            const scoped = { ...query, where: { ...query.where, kb_id: kb } }
            const [a, b] = yield* Effect.all([pg.documents.find(scoped), memory.documents.find(scoped)])
            expect({ query, ids: a.items.map((d) => d.name), total: a.total }).toEqual({
              query,
              ids: b.items.map((d) => d.name),
              total: b.total
            })
            expect(yield* pg.documents.count(scoped.where)).toBe(yield* memory.documents.count(scoped.where))
            compared++
          })
        for (const where of wheres) for (const search of searches) yield* check({ where, ...(search ? { search } : {}) })
        for (const orderBy of orders) {
          for (const desc of [false, true]) for (const page of pages) yield* check({ orderBy, desc, ...page })
        }
        expect(compared).toBe(wheres.length * searches.length + orders.length * 2 * pages.length)

        // removeWhere follows the same conditions.
        const where = { kb_id: kb, size: { gte: 0, lte: 5 } }
        expect(yield* pg.documents.removeWhere(where)).toBe(yield* memory.documents.removeWhere(where))
        expect(yield* pg.documents.count({ kb_id: kb })).toBe(yield* memory.documents.count({ kb_id: kb }))
      }))

    it.effect("has a unique index for every unique key and an index for every indexed field", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const indexes = yield* sql<{ readonly tablename: string; readonly indexdef: string }>`
          SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = current_schema()`
        const expression = (key: ReadonlyArray<string>) => key.map((f) => `((data ->> '${f}'::text))`).join(", ")
        for (const spec of Object.values(RecordStore.Tables)) {
          const defs = indexes.filter((i) => i.tablename === spec.name).map((i) => i.indexdef)
          expect(defs.some((d) => d.includes("UNIQUE") && d.includes("(id)"))).toBe(true)
          for (const key of spec.unique) {
            expect(defs.filter((d) => d.includes("UNIQUE") && d.endsWith(`(${expression(key)})`)), `${spec.name} ${key}`).toHaveLength(1)
          }
          for (const key of spec.indexes) {
            expect(defs.filter((d) => !d.includes("UNIQUE") && d.endsWith(`(${expression(key)})`)), `${spec.name} ${key}`).toHaveLength(1)
          }
        }
      }))

    it.effect("a Conflict caught inside a transaction leaves the transaction usable", () =>
      Effect.gen(function* () {
        const store = yield* RecordStore.RecordStore
        const tenant = aTenant()
        const taken = aKnowledgeBase({ tenant_id: tenant.id, name: "taken" })
        const other = aKnowledgeBase({ tenant_id: tenant.id, name: "other" })
        yield* store.knowledgeBases.insert(taken)
        yield* store.knowledgeBases.insert(other)
        const fallback = aKnowledgeBase({ tenant_id: tenant.id, name: "taken" })
        yield* store.transaction(
          Effect.gen(function* () {
            yield* store.tenants.insert(tenant)
            const dup = yield* Effect.either(store.knowledgeBases.insert(fallback))
            expect(Either.isLeft(dup) && dup.left.reason).toBe("Conflict")
            const rename = yield* Effect.either(store.knowledgeBases.update(aKnowledgeBase({ ...other, name: "taken" })))
            expect(Either.isLeft(rename) && rename.left.reason).toBe("Conflict")
            yield* store.knowledgeBases.insert(aKnowledgeBase({ ...fallback, name: "taken (1)" }))
          })
        )
        expect(Option.isSome(yield* store.tenants.get(tenant.id))).toBe(true)
        expect(Option.getOrThrow(yield* store.knowledgeBases.get(fallback.id)).name).toBe("taken (1)")
        expect(Option.getOrThrow(yield* store.knowledgeBases.get(other.id)).name).toBe("other")
      }))

    it.effect("a claim skips tasks out of attempts without counting them against its limit", () =>
      Effect.gen(function* () {
        const queue = yield* TaskQueue.TaskQueue
        const kind = `kind-${randomHex32().slice(0, 8)}`
        const poison = yield* queue.enqueue({ kind, key: "poison", maxAttempts: 1 })
        yield* TestClock.adjust(1)
        const [b, c, d] = yield* Effect.forEach(["b", "c", "d"], (key) => queue.enqueue({ kind, key }))
        expect((yield* queue.claim({ worker: "w1", leaseMs: 100, kinds: [kind] })).map((t) => t.id)).toEqual([poison.id])
        yield* TestClock.adjust(1_000)
        const claimed = yield* queue.claim({ worker: "w2", leaseMs: 100, kinds: [kind], limit: 2 })
        expect(claimed.map((t) => t.id)).toEqual([b!.id, c!.id])
        const ended = Option.getOrThrow(yield* queue.get(poison.id))
        expect([ended.status, ended.error, ended.lease_owner]).toEqual(["failed", "gave up after 1 attempts", null])
        expect(Option.getOrThrow(yield* queue.get(d!.id)).status).toBe("queued")
        expect(yield* queue.claim({ worker: "w2", leaseMs: 100, kinds: [kind], limit: 0 })).toEqual([])
        expect(yield* queue.claim({ worker: "w2", leaseMs: 100, kinds: [] })).toEqual([])
      }))

    it.effect("refuses field names that are not plain identifiers", () =>
      Effect.gen(function* () {
        const store = yield* RecordStore.RecordStore
        for (const query of [
          { where: { "name'); DROP TABLE document; --": "x" } },
          { orderBy: "name DESC" },
          { search: { fields: ["Name"], text: "x" } }
        ]) {
          const result = yield* Effect.either(store.documents.find(query))
          expect(Either.isLeft(result) && result.left.message).toMatch(/invalid field name/)
        }
        expect(yield* store.documents.count({})).toBeGreaterThanOrEqual(0)
      }))
  })

  it.live("keeps data and applied migrations when the data directory is opened again", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ragkit-pglite-"))
    const open = <A, E>(use: Effect.Effect<A, E, StorePg.Services>) =>
      Effect.provide(use, StorePglite.layerEmbedded({ dataDir }))
    const tenant = aTenant({ name: "persisted" })
    return Effect.gen(function* () {
      const taskId = yield* open(
        Effect.gen(function* () {
          yield* (yield* RecordStore.RecordStore).tenants.insert(tenant)
          const task = yield* (yield* TaskQueue.TaskQueue).enqueue({ kind: "parse", key: "doc" })
          // Already migrated by the layer: a second run applies nothing.
          expect(yield* StorePg.Migrations.run).toEqual([])
          return task.id
        })
      )
      yield* open(
        Effect.gen(function* () {
          expect(Option.getOrThrow(yield* (yield* RecordStore.RecordStore).tenants.get(tenant.id)).name).toBe("persisted")
          const task = Option.getOrThrow(yield* (yield* TaskQueue.TaskQueue).get(taskId as TaskId))
          expect([task.kind, task.status]).toEqual(["parse", "queued"])
          const sql = yield* SqlClient.SqlClient
          const applied = yield* sql<{ readonly migration_id: number }>`SELECT migration_id FROM ragkit_migrations ORDER BY migration_id`
          expect(applied.map((m) => m.migration_id)).toEqual(Object.keys(StorePg.Migrations.migrations).map((name) => Number(name.slice(0, 4))))
          expect(Option.isNone(yield* (yield* TaskQueue.TaskQueue).get(randomHex32() as TaskId))).toBe(true)
        })
      )
    }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(dataDir, { recursive: true, force: true }))))
  }, 120_000)
})
