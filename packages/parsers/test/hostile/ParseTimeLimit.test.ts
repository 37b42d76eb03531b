/**
 * The parse time limit of the parser threads: a document that runs past it fails `TooLarge` with
 * a message naming the limit, its thread is stopped and replaced, and the next document parses.
 * With `startOnDemand` no thread starts before the first document.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { DocumentPreparer } from "@ragkit/core"
import { Effect } from "effect"
import * as ParserThreads from "../../src/threads/ParserThreads.js"

const setup = new URL("../threads/setup.fixture.ts", import.meta.url)
const input = (fileName: string, content: string): DocumentPreparer.PrepareInput => ({
  bytes: new TextEncoder().encode(content),
  fileName,
  parserId: "naive",
  parserConfig: {}
})

describe("the parse time limit", () => {
  layer(ParserThreads.layer({ threads: 1, setup, parseTimeoutMs: 1_000 }), { timeout: 60_000, excludeTestServices: true })((it) => {
    it.effect("stops a parse stuck in a loop: the document fails TooLarge naming the limit, a new thread takes the next", () =>
      Effect.gen(function*() {
        const pool = yield* DocumentPreparer.DocumentPreparer
        const error = yield* Effect.flip(pool.prepare(input("stuck.spin", "x")))
        expect(error.reason).toBe("TooLarge")
        expect(error.message).toBe("parsing stuck.spin took longer than the parse time limit of 1 s")
        const next = yield* pool.prepare(input("fine.txt", "Otters eat fish."))
        expect(next.chunks.map((c) => c.content)).toEqual(["Otters eat fish."])
      }), 60_000)

    it.effect("a document within the limit is untouched by it", () =>
      Effect.gen(function*() {
        const pool = yield* DocumentPreparer.DocumentPreparer
        const done = yield* pool.prepare(input("short.wait", "300"))
        expect(done.chunks[0]!.content).toMatch(/^ran on thread \d+$/)
      }))
  })

  it.live("startOnDemand: no thread starts with the layer; the first document starts it", () =>
    Effect.gen(function*() {
      // A setup that cannot be built fails the layer when threads start with it ...
      const eager = yield* Effect.flip(Effect.scoped(ParserThreads.make({ threads: 1, setup, setupOptions: { broken: true } })))
      expect(eager.reason).toBe("Unavailable")
      // ... but not when they start on demand: then the first document fails with it.
      const pool = yield* ParserThreads.make({ threads: 1, setup, setupOptions: { broken: true }, startOnDemand: true })
      const error = yield* Effect.flip(pool.prepare(input("fine.txt", "Otters eat fish.")))
      expect([error.reason, error.message]).toEqual(["Unavailable", "a parser thread could not start: the models of this setup are missing"])
    }).pipe(Effect.scoped), 60_000)
})
