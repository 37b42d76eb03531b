/**
 * Fuzzing the ingestion (issue 11): 560 files mutated from valid DOCX, XLSX, PPTX, PDF, EML, HTML
 * and CSV samples (truncated, bytes flipped, ZIP headers that lie about sizes and offsets, ZIP64
 * fields past their bounds, broken XML inside the archives, damaged PDF structure, deep nesting),
 * the same files on every run (seeded), go through the real path: upload -> parse -> the worker,
 * on memory stores with the `hash-64@Test` embedder. Every one ends DONE, or FAIL with a
 * `ParseError` whose message says what is wrong; none crashes a parser (a defect, "internal
 * error") or fails for an unknown reason; and the worker is alive afterwards.
 */
import { expect, layer } from "@effect/vitest"
import { decoding, type Document, DocumentPreparer, Documents, Ingestion, KnowledgeBases, Rag, Tokenizer } from "@ragkit/core"
import { Cause, Effect, Layer, Option } from "effect"
import * as Parsers from "../../src/index.js"
import { engine, newCaller } from "../ingestion/engine.js"
import { type Mutant, mutants, zip64OverrunDocx } from "./mutations.js"

const SEED = 11
const PER_FORMAT = 80

/** How each parse ended, by file name, as the preparer saw it. */
const outcomes = new Map<string, string>()

/** The real preparer (on the worker's thread), watched: it records each failure's reason or defect. */
const Watched = Layer.effect(
  DocumentPreparer.DocumentPreparer,
  Effect.map(DocumentPreparer.DocumentPreparer, (real) =>
    DocumentPreparer.DocumentPreparer.of({
      prepare: (input) =>
        real.prepare(input).pipe(
          Effect.tapErrorCause((cause) =>
            Effect.sync(() => {
              const failure = Cause.failureOption(cause)
              outcomes.set(input.fileName, Option.isSome(failure) ? failure.value.reason : `defect: ${Cause.pretty(cause)}`)
            })
          )
        )
    }))
).pipe(Layer.provide(DocumentPreparer.layerLocal))

const Parsing = Parsers.layerWithoutOcr().pipe(Layer.provideMerge(Tokenizer.layer))
const Engine = engine(Rag.layerWorkerWith(Watched, { workerId: "fuzz", concurrency: 2 }), Parsing)

/** Reasons a hostile file may fail with: each says what is wrong with the file. */
const FILE_REASONS = ["Corrupt", "Encrypted", "TooLarge", "Empty", "Unsupported"]

layer(Engine, { timeout: 120_000 })("fuzzing the ingestion", (it) => {
  it.effect("560 mutated files each end DONE or FAIL with a clear message; none crashes; the worker lives on", () =>
    Effect.gen(function*() {
      const docs = decoding(yield* Documents.Documents, Documents.Operations)
      const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
      const worker = yield* Ingestion.Ingestion
      const caller = yield* newCaller
      const kb = yield* kbs.create(caller, { name: "fuzz", embedding_model: "hash-64@Test" })
      const files: ReadonlyArray<Mutant> = [
        ...(yield* Effect.promise(() => mutants(SEED, PER_FORMAT))),
        { fileName: "zip64-overrun.docx", bytes: zip64OverrunDocx(), how: "the 136-byte DOCX of issue 11" }
      ]
      expect(files.length).toBeGreaterThanOrEqual(500)
      const how = new Map(files.map((f) => [f.fileName, f.how]))

      const uploaded: Array<Document> = []
      for (let i = 0; i < files.length; i += 100) {
        const batch = files.slice(i, i + 100).map((f) => ({ name: f.fileName, bytes: f.bytes }))
        uploaded.push(...(yield* docs.upload(caller, { kb_id: kb.id, files: batch })))
      }
      yield* docs.parse(caller, { doc_ids: uploaded.map((d) => d.id) })
      expect(yield* worker.drain).toBe(files.length)

      const ended = yield* Effect.forEach(uploaded, (d) => docs.get(caller, { doc_id: d.id }))
      const wrong = ended.flatMap((doc) => {
        const outcome = outcomes.get(doc.name)
        const line = `${doc.name} (${how.get(doc.name)}): ${doc.run}, ${outcome ?? "no failure"}: ${doc.progress_msg.split("\n").at(-1)}`
        if (doc.run === "DONE" && outcome === undefined) return []
        if (doc.run === "FAIL" && outcome !== undefined && FILE_REASONS.includes(outcome) && !/internal error/i.test(doc.progress_msg)) return []
        return [line]
      })
      expect(wrong).toEqual([])
      const done = ended.filter((d) => d.run === "DONE").length
      // Many mutants still parse, many fail: the mutations reach past the first check.
      expect(done).toBeGreaterThan(files.length / 5)
      expect(files.length - done).toBeGreaterThan(files.length / 5)

      // The worker is alive: a good file after the batch is parsed.
      const [good] = yield* docs.upload(caller, {
        kb_id: kb.id,
        files: [{ name: "after.txt", bytes: new TextEncoder().encode("Sea otters hold hands while they sleep.") }]
      })
      yield* docs.parse(caller, { doc_ids: [good!.id] })
      expect(yield* worker.drain).toBe(1)
      const after = yield* docs.get(caller, { doc_id: good!.id })
      expect([after.run, after.chunk_num]).toEqual(["DONE", 1])
    }), 120_000)
})
