/**
 * Parser libraries load on first use, not when the package is imported: a process (or parser
 * thread) that never reads a spreadsheet does not hold exceljs, and a host whose parsing runs on
 * parser threads keeps only the registry on its own thread.
 */
import { ParseError } from "@ragkit/core"
import { Effect } from "effect"

/** The module, imported once (the first call starts it; later calls share it). */
export const lazyModule = <A>(name: string, load: () => Promise<A>): Effect.Effect<A, ParseError> => {
  let loading: Promise<A> | undefined
  return Effect.tryPromise({
    try: () => (loading ??= load()),
    catch: (cause) =>
      new ParseError({
        reason: "Unknown",
        message: `the ${name} library cannot be loaded: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause
      })
  })
}
