/**
 * Table maintenance, on a background fiber per table and never in a write: after `optimizeEvery`
 * written rows or `optimizeEveryCommits` commits the table is optimised (compaction, new rows merged
 * into the indexes; during a bulk load, once the writes pause: `bulkPause`), one run at a time (a
 * run covers every write made during the previous one), and
 * the IVF_PQ index is built once the table passes `annThreshold` vectors and, checked after each
 * optimize, trained again as the table grows (`annIndex.ts`). A failed run is logged and
 * tried again after a later write; closing the scope waits for running ones.
 */
import { Effect, Fiber } from "effect"
import type { Scope } from "effect"
import * as AnnIndex from "./annIndex.js"
import { lance } from "./lance.js"
import type { TableState } from "./tables.js"

export interface Settings extends AnnIndex.Settings {
  readonly optimizeEvery: number
  readonly optimizeEveryCommits: number
  /** A due optimize waits for writes to pause this long (a bulk load), up to 10 × the thresholds. */
  readonly optimizeQuietMs: number
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
        lastWriteAt.set(state, Date.now())
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

/** When each table was last written (for the bulk-load pause). */
const lastWriteAt = new WeakMap<TableState, number>()

/** Thresholds times this: an optimize waits no longer for a bulk load to pause. */
const bulkFactor = 10

/**
 * Waits while a bulk load goes on (the last write less than `optimizeQuietMs` ago), until
 * `bulkFactor` times the thresholds piled up.
 */
const bulkPause = (settings: Settings, state: TableState) =>
  Effect.gen(function*() {
    while (
      settings.optimizeQuietMs > 0 && state.table.isOpen() &&
      state.written < settings.optimizeEvery * bulkFactor && state.commits < settings.optimizeEveryCommits * bulkFactor
    ) {
      const quietFor = Date.now() - (lastWriteAt.get(state) ?? 0)
      if (quietFor >= settings.optimizeQuietMs) return
      yield* Effect.sleep(settings.optimizeQuietMs - quietFor)
    }
  })

const optimizeDue = (settings: Settings, state: TableState) =>
  state.written >= settings.optimizeEvery || state.commits >= settings.optimizeEveryCommits

const annDue = (state: TableState) => (state.annCheck && !state.ann) || state.annRetrainCheck

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
        yield* bulkPause(settings, state)
        if (!state.table.isOpen()) return
        const taken = state.written
        const commits = state.commits
        state.written = 0
        state.commits = 0
        if (yield* failed(state.maintenanceCommit(optimize(settings, state)), `optimize of ${state.table.name}`)) {
          state.written += taken
          state.commits += commits
          return
        }
        state.annRetrainCheck = state.ann
      }
      if (annDue(state)) {
        state.annCheck = false
        state.annRetrainCheck = false
        if (yield* failed(state.maintenanceCommit(AnnIndex.buildIfDue(settings, state)), `vector index of ${state.table.name}`)) {
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
