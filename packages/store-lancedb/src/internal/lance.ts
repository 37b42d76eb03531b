/**
 * LanceDB calls as Effects. Every promise of the LanceDB client goes through `lance`, once: its
 * failure becomes a `ChunkIndexError` (`Mismatch` for schema and dimension errors, `Unavailable`
 * otherwise), and a commit that lost a race with another writer (another process on the same
 * table) is tried again.
 */
import { ChunkIndexError } from "@ragkit/core"
import { Duration, Effect, Option, Schedule } from "effect"
import * as Rows from "./rows.js"

export const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const mismatchPattern = /schema|dimension|cast |type mismatch|fixedsizelist|incompatible/i

const lanceError = (what: string, cause: unknown): ChunkIndexError =>
  new ChunkIndexError({
    reason: mismatchPattern.test(messageOf(cause)) ? "Mismatch" : "Unavailable",
    message: `LanceDB: ${what}: ${messageOf(cause).split("\n")[0]}`,
    cause
  })

const isRetryableConflict = (error: ChunkIndexError) =>
  /retryable commit conflict|preempted by concurrent transaction|commit conflict/i.test(error.message)

/** A LanceDB call; a commit that lost to a concurrent writer is tried again, a few times. */
export const lance = <A>(what: string, f: () => Promise<A>): Effect.Effect<A, ChunkIndexError> =>
  Effect.tryPromise({ try: f, catch: (cause) => lanceError(what, cause) }).pipe(
    Effect.retry({
      while: isRetryableConflict,
      schedule: Schedule.exponential(Duration.millis(20)).pipe(
        Schedule.jittered,
        Schedule.intersect(Schedule.recurs(6))
      )
    })
  )

const isNotFound = (cause: unknown) => /was not found|not found|does not exist/i.test(messageOf(cause))

/** A LanceDB call on a table that may not exist: `None` when it does not. */
export const lanceIfFound = <A>(what: string, f: () => Promise<A>): Effect.Effect<Option.Option<A>, ChunkIndexError> =>
  Effect.tryPromise({ try: f, catch: (cause) => cause }).pipe(
    Effect.map(Option.some),
    Effect.catchAll((cause) => isNotFound(cause) ? Effect.succeedNone : Effect.fail(lanceError(what, cause)))
  )

/** Row ids of an Arrow result, as numbers (fragment × 2^32 + offset: exact in a double). */
export const rowIdsOf = (arrow: { getChild: (name: string) => { toArray: () => unknown } | null }): Array<number> =>
  Array.from((arrow.getChild("_rowid")?.toArray() ?? []) as ArrayLike<bigint | number>, Number)

/** The rows a query returns, as plain values. */
export const rowsOf = (
  query: { toArrow: () => Promise<Parameters<typeof Rows.fromArrow>[0]> },
  what: string
): Effect.Effect<Array<Rows.Row>, ChunkIndexError> => Effect.map(lance(what, () => query.toArrow()), Rows.fromArrow)
