/**
 * Parser libraries load on first use, not when the package is imported: a process (or parser
 * thread) that never reads a spreadsheet does not hold exceljs, and a host whose parsing runs on
 * parser threads keeps only the registry on its own thread. Optional peers (unstructured-client,
 * OCR) that are not installed fail with reason `Unsupported` and a message naming the
 * `npm install` to run.
 */
import { OptionalPeer, ParseError } from "@ragkit/core"
import { Effect } from "effect"

/** A library that failed to load, as a `ParseError`. */
export const cannotLoad = (error: OptionalPeer.OptionalPeerError): ParseError =>
  new ParseError({
    reason: error.missing ? "Unsupported" : "Unknown",
    message: error.message,
    cause: error.cause
  })

/** The module, imported once (the first call starts it; later calls share it). */
export const lazyModule = <A>(
  name: string,
  load: () => Promise<A>,
  options?: OptionalPeer.LoadOptions
): Effect.Effect<A, ParseError> => Effect.mapError(OptionalPeer.load(name, load, options), cannotLoad)
