/**
 * Table maintenance, on a background fiber per table and never in a write: after `optimizeEvery`
 * written rows or `optimizeEveryCommits` commits the table is optimised (compaction, new rows merged
 * into the indexes), one run at a time (a run covers every write made during the previous one), and
 * the IVF_PQ index is built once the table passes `annThreshold` vectors. A failed run is logged and
 * tried again after a later write; closing the scope waits for running ones.
 */
import * as lancedb from "@lancedb/lancedb"
import { Effect, Fiber } from "effect"
import type { Scope } from "effect"
import { lance } from "./lance.js"
import { type TableState, vectorDimension } from "./tables.js"

export interface Settings {
  readonly annThreshold: number
  readonly optimizeEvery: number
  readonly optimizeEveryCommits: number
  /** How long `optimize()` keeps the files of older table versions, in milliseconds. */
  readonly keepVersionsMs: number
}

export interface Maintenance {
  /**
   * Counts a committed write (`changed` rows, `added` when it may have added vectors); starts the
   * table's maintenance fiber when work is due and none is running.
   */
  readonly noteWrite: (state: TableState, changed: number, added: boolean) => Effect.Effect<void>
}

export const make = (settings: Settings): Effect.Effect<Maintenance, never, Scope.Scope> =>
  Effect.gen(function*() {
    const running = new Set<Fiber.RuntimeFiber<void>>()
    yield* Effect.addFinalizer(() => Fiber.awaitAll([...running]))

    const noteWrite = (state: TableState, changed: number, added: boolean) =>
      Effect.suspend(() => {
        state.written += changed
        if (changed > 0) state.commits++
        if (added) state.annCheck = true
        if (state.maintaining || !isDue(settings, state)) return Effect.void
        state.maintaining = true
        return Effect.flatMap(Effect.forkDaemon(maintain(settings, state)), (fiber) =>
          Effect.sync(() => {
            running.add(fiber)
            fiber.addObserver(() => running.delete(fiber))
          }))
      })

    return { noteWrite }
  })

const optimizeDue = (settings: Settings, state: TableState) =>
  state.written >= settings.optimizeEvery || state.commits >= settings.optimizeEveryCommits

const annDue = (state: TableState) => state.annCheck && !state.ann

const isDue = (settings: Settings, state: TableState) => optimizeDue(settings, state) || annDue(state)

/**
 * Maintains a table until nothing is due: optimises when due (the rows written meanwhile are counted
 * for the next run), builds the ANN index when due. A failure is logged and leaves the work due for
 * the next write to start again.
 */
const maintain = (settings: Settings, state: TableState): Effect.Effect<void> =>
  Effect.gen(function*() {
    while (state.table.isOpen() && isDue(settings, state)) {
      if (optimizeDue(settings, state)) {
        const taken = state.written
        const commits = state.commits
        state.written = 0
        state.commits = 0
        if (yield* failed(optimize(settings, state), `optimize of ${state.table.name}`)) {
          state.written += taken
          state.commits += commits
          return
        }
      }
      if (annDue(state)) {
        state.annCheck = false
        if (yield* failed(buildAnnIfDue(settings, state), `vector index of ${state.table.name}`)) {
          state.annCheck = true
          return
        }
      }
    }
  }).pipe(Effect.ensuring(Effect.sync(() => void (state.maintaining = false))))

/** Runs a maintenance step; a failure is logged, and tells the caller to stop. */
const failed = <E extends { readonly message: string }>(step: Effect.Effect<unknown, E>, what: string) =>
  step.pipe(
    Effect.as(false),
    Effect.catchAll((error) =>
      Effect.as(Effect.logWarning(`LanceDB ${what} failed; will retry later: ${error.message}`), true)
    )
  )

const optimize = (settings: Settings, state: TableState) =>
  lance("optimize", () => state.table.optimize({ cleanupOlderThan: new Date(Date.now() - settings.keepVersionsMs) }))

/** IVF_PQ sub-vectors of 8 dimensions (or the fewest larger ones that divide the dimension). */
const subVectors = (dimension: number): number => {
  for (let width = 8; width <= dimension; width++) if (dimension % width === 0) return dimension / width
  return 1
}

/** Builds the IVF_PQ index (about √n partitions) once the table holds `annThreshold` vectors. */
const buildAnnIfDue = (settings: Settings, state: TableState) =>
  Effect.gen(function*() {
    if ((yield* lance("count rows", () => state.table.countRows())) < settings.annThreshold) return
    const vectors = yield* lance("count vectors", () => state.table.countRows("has_vector"))
    if (vectors < settings.annThreshold) return
    const dimension = yield* vectorDimension(state)
    if (dimension === undefined) return
    yield* lance("create vector index", () =>
      state.table.createIndex("vector", {
        config: lancedb.Index.ivfPq({
          distanceType: "cosine",
          numPartitions: Math.max(1, Math.round(Math.sqrt(vectors))),
          numSubVectors: subVectors(dimension)
        })
      }))
    state.ann = true
  })
