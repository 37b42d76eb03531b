/**
 * Writes: upserts, updates and deletes, each under its knowledge base's write permit.
 *
 * Upserts that arrive while a commit is in flight are merged into the next one (group commit): one
 * LanceDB commit for all of them; each caller returns when its rows are committed, and a failed
 * commit fails every upsert in it (upserts whose vector dimensions disagree are committed
 * separately). Every committed write is counted for maintenance.
 *
 * A commit whose ids the table does not hold yet (a document run's chunks) appends its rows; one
 * that names a stored id merges on ids (`mergeInsert`, which joins the rows with every fragment not
 * yet compacted). The lookup and the commit run under the write permit, so within this process a
 * repeated write replaces its rows; two processes writing the same new ids at the same moment (a
 * run whose lease ran out, taken over while its first worker still writes) are not serialised by it.
 */
import { Chunk, ChunkIndex, ChunkIndexError } from "@ragkit/core"
import type { ChunkId, KnowledgeBaseId } from "@ragkit/core"
import { Deferred, Effect, Option } from "effect"
import { lance, messageOf, rowsOf } from "./lance.js"
import type { Maintenance } from "./maintenance.js"
import { getRow } from "./reads.js"
import * as Rows from "./rows.js"
import * as Sql from "./sql.js"
import { ensureDimension, ensureIndexes, type Tables, type TableState, vectorDimension } from "./tables.js"

/** The index's writes, as `ChunkIndex.make` takes them. */
export type Writes = Pick<
  ChunkIndex.ChunkIndexPrimitives,
  "upsert" | "update" | "deleteByDocument" | "deleteChunks" | "deleteKnowledgeBase"
>

/** An upsert waiting for the next commit of its table. */
interface PendingUpsert {
  readonly chunks: ReadonlyArray<Chunk>
  readonly dimension: number | undefined
  readonly done: Deferred.Deferred<void, ChunkIndexError>
}

/** Whether the table holds any of `ids` (looked up 500 at a time, through the id index where it covers the rows). */
const holdsAny = (state: TableState, ids: ReadonlyArray<string>): Effect.Effect<boolean, ChunkIndexError> =>
  Effect.gen(function*() {
    for (let start = 0; start < ids.length; start += 500) {
      const query = state.table.query().where(Sql.inList("id", ids.slice(start, start + 500))).select(["id"]).limit(1)
      if ((yield* rowsOf(query, "look up chunk ids")).length > 0) return true
    }
    return false
  })

export const make = (tables: Tables, maintenance: Maintenance): Writes => {
  const pending = new Map<KnowledgeBaseId, Array<PendingUpsert>>()

  /** Upserts chunks of one knowledge base (the last of a duplicated id wins); the caller holds its write permit. */
  const upsertLocked = (kbId: KnowledgeBaseId, chunks: ReadonlyArray<Chunk>) =>
    Effect.gen(function*() {
      const unique = [...new Map(chunks.map((chunk) => [chunk.id, chunk] as const)).values()]
      const dimension = ChunkIndex.dimensionOf(chunks)
      const existing = yield* tables.open(kbId)
      if (Option.isNone(existing)) {
        const created = yield* tables.create(kbId, Rows.toTable(unique, dimension ?? Rows.placeholderDimension), dimension)
        return yield* maintenance.noteWrite(created, 0, true)
      }
      const state = existing.value
      yield* ensureIndexes(state)
      if (dimension !== undefined) yield* ensureDimension(kbId, state, dimension)
      // Chunks without vectors take the table's vector type, whatever its dimension.
      const rows = Rows.toTable(unique, dimension ?? (yield* vectorDimension(state)) ?? Rows.placeholderDimension)
      // New ids are appended; a retried or repeated upsert still replaces its rows (module doc).
      const fresh = !(yield* holdsAny(state, unique.map((chunk) => chunk.id)))
      const result = yield* lance("upsert", () =>
        fresh
          ? state.table.add(rows)
          : state.table.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows))
      // The version this commit made holds vectors of this dimension: the next upsert's check is free.
      if (dimension !== undefined) state.dimension = { version: result.version, value: Option.some(dimension) }
      yield* maintenance.noteWrite(state, unique.length, true)
    })

  /** Commits every pending upsert of a knowledge base, run by run; the caller holds its write permit. */
  const commitPending = (kbId: KnowledgeBaseId) =>
    Effect.suspend(() =>
      Effect.forEach(ChunkIndex.dimensionRuns(pending.get(kbId)?.splice(0) ?? []), (run) =>
        Effect.flatMap(
          Effect.exit(upsertLocked(kbId, run.flatMap((entry) => entry.chunks))),
          (exit) => Effect.forEach(run, (entry) => Deferred.done(entry.done, exit), { discard: true })
        ), { discard: true })
    )

  /**
   * Group commit: queues the chunks, then takes the write permit; whoever gets it commits every
   * upsert queued by then (its own, unless an earlier holder already did), so that upserts arriving
   * during a commit share the next one.
   */
  const upsertGrouped = (kbId: KnowledgeBaseId, chunks: ReadonlyArray<Chunk>) =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<void, ChunkIndexError>()
      const entry: PendingUpsert = { chunks, dimension: ChunkIndex.dimensionOf(chunks), done }
      let queue = pending.get(kbId)
      if (queue === undefined) pending.set(kbId, queue = [])
      queue.push(entry)
      yield* tables.withWrite(kbId, Effect.uninterruptible(commitPending(kbId))).pipe(
        // Interrupted while waiting for the permit: withdraw the chunks unless a commit took them.
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            const queued = pending.get(kbId)
            const at = queued?.indexOf(entry) ?? -1
            if (at >= 0) queued!.splice(at, 1)
          })
        )
      )
      yield* Deferred.await(entry.done)
    })

  const upsert = (chunks: ReadonlyArray<Chunk>) =>
    Effect.forEach(ChunkIndex.byKnowledgeBase(chunks), ([kbId, list]) => upsertGrouped(kbId, list), { concurrency: 4, discard: true })

  const update = (kbId: KnowledgeBaseId, chunkId: ChunkId, patch: ChunkIndex.ChunkPatch) =>
    tables.withWrite(
      kbId,
      Effect.gen(function*() {
        const state = yield* tables.open(kbId)
        if (Option.isNone(state)) return false
        const old = yield* getRow(state.value, chunkId)
        if (Option.isNone(old)) return false
        const changes = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined))
        const chunk = yield* Effect.try({
          try: () => new Chunk({ ...old.value, ...changes }),
          catch: (cause) =>
            new ChunkIndexError({
              reason: "Mismatch",
              message: `update of chunk ${chunkId}: ${messageOf(cause)}`,
              cause
            })
        })
        yield* upsertLocked(kbId, [chunk])
        return true
      })
    )

  const deleteWhere = (kbId: KnowledgeBaseId, predicate: string) =>
    tables.withWrite(
      kbId,
      Effect.flatMap(tables.open(kbId), (state) =>
        Option.isNone(state)
          ? Effect.succeed(0)
          : Effect.gen(function*() {
            const result = yield* lance("delete", () => state.value.table.delete(predicate))
            yield* maintenance.noteWrite(state.value, result.numDeletedRows, false)
            return result.numDeletedRows
          }))
    )

  const deleteChunks = (kbId: KnowledgeBaseId, chunkIds: ReadonlyArray<ChunkId>) =>
    Effect.gen(function*() {
      const ids = [...new Set<string>(chunkIds)]
      let removed = 0
      for (let i = 0; i < ids.length; i += 500) {
        removed += yield* deleteWhere(kbId, Sql.inList("id", ids.slice(i, i + 500)))
      }
      return removed
    })

  return {
    upsert,
    update,
    deleteByDocument: (kbId, docId) => deleteWhere(kbId, `doc_id = ${Sql.literal(docId)}`),
    deleteChunks,
    deleteKnowledgeBase: (kbId) => tables.withWrite(kbId, tables.drop(kbId))
  }
}
