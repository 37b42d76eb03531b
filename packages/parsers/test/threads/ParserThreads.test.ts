/**
 * The parser-thread pool as a `DocumentPreparer`: the same chunks as on the calling thread, failures that
 * come back as the same `ParseError`s, jobs on different threads at once, and the pool surviving a
 * parse that never ends (interrupted) or runs out of memory. The corpus-wide equivalence is in
 * `ingestion/Ingestion.test.ts`, which runs the acceptance on both.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { DocumentPreparer, Tokenizer } from "@ragkit/core"
import { Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Parsers from "../../src/index.js"
import * as ParserThreads from "../../src/threads/ParserThreads.js"
import { knowledgeBases, samples } from "../ingestion/samples.js"

const setup = new URL("./setup.fixture.ts", import.meta.url)
const text = (s: string) => new TextEncoder().encode(s)
const input = (fileName: string, content: string, parserId = "naive"): DocumentPreparer.PrepareInput => ({
  bytes: text(content),
  fileName,
  parserId,
  parserConfig: {}
})

const Local = DocumentPreparer.layerLocal.pipe(Layer.provide(Parsers.layerWithoutOcr()), Layer.provide(Tokenizer.layer))

describe("ParserThreads", () => {
  layer(ParserThreads.layer({ threads: 2, setup, maxMemoryMb: 64 }), { timeout: 60_000, excludeTestServices: true })((it) => {
    it.effect("jobs run on different threads at once", () =>
      Effect.gen(function*() {
        const pool = yield* DocumentPreparer.DocumentPreparer
        const [a, b] = yield* Effect.all([pool.prepare(input("a.wait", "400")), pool.prepare(input("b.wait", "400"))], {
          concurrency: 2
        })
        const threads = new Set([a!.chunks[0]!.content, b!.chunks[0]!.content])
        expect(threads.size).toBe(2)
        for (const t of threads) expect(t).toMatch(/^ran on thread \d+$/)
      }))

    it.effect("an interrupted parse stops its thread; the pool goes on with a new one", () =>
      Effect.gen(function*() {
        const pool = yield* DocumentPreparer.DocumentPreparer
        const fiber = yield* Effect.fork(pool.prepare(input("endless.spin", "x")))
        yield* Effect.sleep(Duration.millis(300))
        yield* Fiber.interrupt(fiber)
        // Both threads answer again, one of them the replacement (once it has started).
        const pair = Effect.all([pool.prepare(input("c.wait", "300")), pool.prepare(input("d.wait", "300"))], {
          concurrency: 2
        }).pipe(
          Effect.map((after) => new Set(after.map((p) => p.chunks[0]!.content)).size),
          Effect.filterOrFail((threads) => threads === 2, () => "one thread answered")
        )
        expect(yield* Effect.retry(pair, { times: 30 })).toBe(2)
      }))

    it.effect("a file that needs more memory than a thread has fails TooLarge, and the pool goes on", () =>
      Effect.gen(function*() {
        const pool = yield* DocumentPreparer.DocumentPreparer
        const error = yield* Effect.flip(pool.prepare(input("big.hog", "x")))
        expect(error.reason).toBe("TooLarge")
        expect(error.message).toMatch(/big\.hog needs more than the parser thread's 64 MiB/)
        const next = yield* pool.prepare(input("fine.txt", "Otters eat fish."))
        expect(next.chunks.map((c) => c.content)).toEqual(["Otters eat fish."])
      }))

    it.effect("parse errors come back as the ParseError the parser failed with", () =>
      Effect.gen(function*() {
        const pool = yield* DocumentPreparer.DocumentPreparer
        const empty = yield* Effect.flip(pool.prepare(input("empty.txt", "")))
        expect([empty._tag, empty.reason]).toEqual(["ParseError", "Empty"])
        const unknown = yield* Effect.flip(pool.prepare(input("notes.txt", "x", "no-such-method")))
        expect([unknown.reason, unknown.message]).toEqual(["Unsupported", 'unsupported parser id "no-such-method"'])
      }))
  })

  it.effect("gives exactly the chunks the calling thread gives, for every file of the corpus and its methods", () =>
    Effect.gen(function*() {
      const corpus = yield* Effect.promise(samples)
      const compare = (local: DocumentPreparer.DocumentPreparerService, pool: DocumentPreparer.DocumentPreparerService) =>
        Effect.forEach(corpus, (sample) =>
          Effect.forEach(Object.keys(sample.methods), (kbName) =>
            Effect.gen(function*() {
              const kb = knowledgeBases.find((k) => k.name === kbName)!
              const job: DocumentPreparer.PrepareInput = {
                bytes: sample.file.bytes,
                fileName: sample.file.fileName,
                parserId: kb.method,
                parserConfig: kb.config ?? {}
              }
              const [here, there] = yield* Effect.all([Effect.exit(local.prepare(job)), Effect.exit(pool.prepare(job))])
              const strip = (exit: typeof here) => Exit.map(exit, ({ parseMs: _p, chunkMs: _c, ...rest }) => rest)
              expect(strip(there), `${sample.file.fileName} with ${kbName}`).toEqual(strip(here))
              return 1
            })))
      const compared = yield* Effect.scoped(
        Effect.flatMap(ParserThreads.make({ threads: 2 }), (pool) =>
          Effect.flatMap(DocumentPreparer.DocumentPreparer, (local) => compare(local, pool)))
      ).pipe(Effect.provide(Local))
      expect(compared.flat().length).toBeGreaterThan(40)
    }), 120_000)
})

describe("ParserThreads on demand", () => {
  it.effect("starts threads as documents come, up to `threads`, and stops them when idle", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ParserThreads.make({ threads: 2, setup, startOnDemand: true, idleTimeoutMs: 400 })
      const ranOn = (p: DocumentPreparer.PreparedDocument) => p.chunks[0]!.content
      // One document at a time: one thread, kept while it is busy enough.
      const first = ranOn(yield* pool.prepare(input("a.wait", "10")))
      expect(ranOn(yield* pool.prepare(input("b.wait", "10")))).toBe(first)
      // A second document while the thread is busy: the pool starts a second thread for it.
      const long = yield* Effect.fork(pool.prepare(input("c.wait", "6000")))
      yield* Effect.sleep(Duration.millis(100))
      const second = ranOn(yield* pool.prepare(input("d.wait", "10")))
      expect(ranOn(yield* Fiber.join(long))).toBe(first)
      expect(second).not.toBe(first)
      const busy = new Set([first, second])
      // Idle past the timeout: both stop; the next document runs on a new thread.
      yield* Effect.sleep(Duration.millis(1_500))
      const later = ranOn(yield* pool.prepare(input("e.wait", "10")))
      expect(busy.has(later)).toBe(false)
      expect(later).toMatch(/^ran on thread \d+$/)
    })), { timeout: 60_000 })
})

describe("ParserThreads sending the next job ahead", () => {
  const oneThread = ParserThreads.layer({ threads: 1, setup, maxMemoryMb: 64 })
  const marker = () => join(mkdtempSync(join(tmpdir(), "ragkit-threads-")), "ran")

  layer(oneThread, { timeout: 60_000, excludeTestServices: true })((it) => {
    it.effect("a job sent ahead runs on the busy thread once its job ends", () =>
      Effect.gen(function*() {
        const pool = yield* DocumentPreparer.DocumentPreparer
        const path = marker()
        const [waited, marked] = yield* Effect.all([pool.prepare(input("a.wait", "300")), pool.prepare(input("b.mark", path))], {
          concurrency: 2
        })
        const thread = waited.chunks[0]!.content.replace("ran on ", "")
        expect(marked.chunks[0]!.content).toBe(`marked on ${thread}`)
        expect(readFileSync(path, "utf8")).toBe(`ran on ${thread}\n`)
      }))

    it.effect("a job interrupted while it waits in a busy thread never runs; the thread's own job ends well", () =>
      Effect.gen(function*() {
        const pool = yield* DocumentPreparer.DocumentPreparer
        const path = marker()
        const running = yield* Effect.fork(pool.prepare(input("a.wait", "600")))
        yield* Effect.sleep(Duration.millis(100))
        const waiting = yield* Effect.fork(pool.prepare(input("b.mark", path)))
        yield* Effect.sleep(Duration.millis(100))
        yield* Fiber.interrupt(waiting)
        const ran = (yield* Fiber.join(running)).chunks[0]!.content
        // The same thread (not replaced) takes the next job.
        expect((yield* pool.prepare(input("c.wait", "10"))).chunks[0]!.content).toBe(ran)
        expect(existsSync(path)).toBe(false)
      }))

    it.effect("when the running job is interrupted, the job sent after it runs on the new thread", () =>
      Effect.gen(function*() {
        const pool = yield* DocumentPreparer.DocumentPreparer
        const endless = yield* Effect.fork(pool.prepare(input("endless.spin", "x")))
        yield* Effect.sleep(Duration.millis(300))
        const next = yield* Effect.fork(pool.prepare(input("next.txt", "Otters eat fish.")))
        yield* Effect.sleep(Duration.millis(100))
        yield* Fiber.interrupt(endless)
        expect((yield* Fiber.join(next)).chunks.map((c) => c.content)).toEqual(["Otters eat fish."])
      }))

    it.effect("when the running job runs out of memory, it fails TooLarge and the job sent after it still runs", () =>
      Effect.gen(function*() {
        const pool = yield* DocumentPreparer.DocumentPreparer
        const [big, fine] = yield* Effect.all([
          Effect.flip(pool.prepare(input("big.hog", "x"))),
          pool.prepare(input("fine.txt", "Otters eat fish."))
        ], { concurrency: 2 })
        expect([big.reason, big.message]).toEqual(["TooLarge", expect.stringMatching(/big\.hog needs more than/)])
        expect(fine.chunks.map((c) => c.content)).toEqual(["Otters eat fish."])
      }))
  })

  it.effect("a job that runs past the time limit fails, and the job sent after it runs on the new thread", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ParserThreads.make({ threads: 1, setup, parseTimeoutMs: 500 })
      const [slow, next] = yield* Effect.all([
        Effect.flip(pool.prepare(input("endless.spin", "x"))),
        pool.prepare(input("next.txt", "Otters eat fish."))
      ], { concurrency: 2 })
      expect([slow.reason, slow.message]).toEqual(["TooLarge", "parsing endless.spin took longer than the parse time limit of 500 ms"])
      expect(next.chunks.map((c) => c.content)).toEqual(["Otters eat fish."])
    })), { timeout: 30_000 })
})

describe("ParserThreads shutdown", () => {
  it.effect("stopping the pool fails the job it runs and the jobs it queued, and stops the threads", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const pool = yield* ParserThreads.make({ threads: 1, setup }).pipe(Scope.extend(scope))
      const running = yield* Effect.fork(pool.prepare(input("endless.spin", "x")))
      yield* Effect.sleep(Duration.millis(200))
      const queued = yield* Effect.fork(pool.prepare(input("later.txt", "Otters")))
      yield* Effect.sleep(Duration.millis(50))
      yield* Scope.close(scope, Exit.void)
      for (const fiber of [running, queued]) {
        const error = yield* Effect.flip(Fiber.join(fiber))
        expect([error.reason, error.message]).toEqual(["Unavailable", "the parser threads were stopped"])
      }
      const after = yield* Effect.flip(pool.prepare(input("late.txt", "Otters")))
      expect(after.message).toBe("the parser threads were stopped")
    }), { timeout: 30_000 })
})

describe("ParserThreads setup", () => {
  it.effect("a setup that cannot be built fails the layer with the reason", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(ParserThreads.make({ threads: 1, setup, setupOptions: { broken: true } })))
      expect([error._tag, error.reason]).toEqual(["ParseError", "Unavailable"])
      expect(error.message).toMatch(/a parser thread could not start: .*the models of this setup are missing/)
    }))
})
