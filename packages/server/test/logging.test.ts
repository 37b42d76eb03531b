/**
 * The server's JSON logs: one object per line, every annotation a field of its own, spans with
 * their duration, a failure's cause; a `Redacted` value never printed, wherever it is.
 */
import { Effect, Logger, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { defaults } from "../src/Config.js"
import * as Logging from "../src/Logging.js"

/** The lines `effect` logs through the JSON logger. */
const linesOf = async (effect: Effect.Effect<unknown>) => {
  const lines: Array<string> = []
  const capture = Logger.replace(Logger.defaultLogger, Logger.map(Logging.jsonLogger, (line) => void lines.push(line)))
  await Effect.runPromise(effect.pipe(Effect.provide(capture)))
  return lines
}

describe("JSON logs", () => {
  it("print annotations as fields and never a Redacted value", async () => {
    const secret = Redacted.make("sk-super-secret-value")
    const lines = await linesOf(
      Effect.gen(function* () {
        yield* Effect.logInfo("handled", { key: secret })
        yield* Effect.logWarning("slow").pipe(Effect.withLogSpan("query"))
        yield* Effect.logError("failed", new Error(`with ${String(secret)}`))
      }).pipe(Effect.annotateLogs({ request_id: "req-1", tenant: "t-1", credential: secret }))
    )
    const [info, warning, error] = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(info).toMatchObject({ level: "INFO", message: `handled {"key":"<redacted>"}`, request_id: "req-1", tenant: "t-1", credential: "<redacted>" })
    expect(typeof info!.time).toBe("string")
    expect(warning).toMatchObject({ level: "WARN", message: "slow", request_id: "req-1" })
    expect(typeof warning!["span.query"]).toBe("number")
    expect(error).toMatchObject({ level: "ERROR", request_id: "req-1" })
    expect(lines.join("\n")).not.toContain("sk-super-secret-value")
  })

  it("the configured layer writes JSON lines to stderr at the configured level", async () => {
    const written: Array<string> = []
    const write = process.stderr.write.bind(process.stderr)
    process.stderr.write = ((chunk: string) => {
      written.push(String(chunk))
      return true
    }) as typeof process.stderr.write
    try {
      await Effect.runPromise(
        Effect.zipRight(Effect.logDebug("hidden"), Effect.logInfo("shown")).pipe(
          Effect.annotateLogs("request_id", "r-2"),
          Effect.provide(Logging.layer(defaults({ log: { format: "json", level: "info" } })))
        )
      )
    } finally {
      process.stderr.write = write
    }
    expect(written.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([expect.objectContaining({ message: "shown", request_id: "r-2" })])
  })
})
