/**
 * The `ragkit` command's entry point: see Cli.ts. Exits 0 after `--help`, `--version` and a
 * command that finished (or a server stopped by SIGTERM/SIGINT), 1 when a command failed (the
 * reason on stderr, naming the setting when it is the configuration's), and 1 with the usage on
 * a command line that can't be parsed.
 */
import { ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect } from "effect"
import { run } from "./Cli.js"

const usage = "usage: ragkit serve | worker | migrate | user create | token create [options]   (ragkit <command> --help)"

/** A failure's reason, once, on stderr: `@effect/cli` already printed its own (with the usage). */
const report = (cause: Cause.Cause<unknown>) =>
  Effect.sync(() => {
    for (const error of Cause.failures(cause)) {
      if (ValidationError.isValidationError(error)) {
        process.stderr.write(`${usage}\n`)
        continue
      }
      const message = typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)
      process.stderr.write(`ragkit: ${message}\n`)
    }
    for (const defect of Cause.defects(cause)) process.stderr.write(`ragkit: internal error: ${Cause.pretty(Cause.die(defect))}\n`)
  })

run(process.argv).pipe(
  Effect.tapErrorCause((cause) => (Cause.isInterruptedOnly(cause) ? Effect.void : report(cause))),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
