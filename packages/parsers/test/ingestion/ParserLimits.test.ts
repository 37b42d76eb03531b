/**
 * The parsers' safety limits are the deployment's (issue 11, defect 1). A tenant's `parser_config`
 * that tries to lift them is refused at the request; written into a record anyway, it changes
 * nothing: the parsers, on the worker's thread or on parser threads, keep the deployment's limits.
 * Only the deployment's own options (`Parsers.layer({ limits })`, the threads' `setupOptions`)
 * move them.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { decoding, Document, DocumentPreparer, Documents, Ingestion, KnowledgeBases, Rag, RecordStore, Tokenizer } from "@ragkit/core"
import * as Corpus from "@ragkit/fixtures/corpus"
import { Effect, Either, Layer } from "effect"
import JSZip from "jszip"
import * as Parsers from "../../src/index.js"
import * as ParserThreads from "../../src/threads/ParserThreads.js"
import { engine, newCaller } from "./engine.js"

const MiB = 1024 * 1024

/** What the tenant sent: enough to inflate 300 MB twice. */
const lifting = { zipMaxEntryBytes: 2e9, zipMaxTotalBytes: 4e9 }

/**
 * A valid DOCX of some 50 KB with one part that honestly declares 51 MiB uncompressed: above the
 * default 50 MiB per part, so the default limits refuse it before inflating anything.
 */
const bombBytes = (async () => {
  const zip = await JSZip.loadAsync((await Corpus.docx()).bytes)
  zip.file("word/media/padding.bin", new Uint8Array(51 * MiB))
  return zip.generateAsync({ type: "uint8array", compression: "DEFLATE", compressionOptions: { level: 1 } })
})()
const bombDocx = Effect.promise(() => bombBytes.then((bytes) => ({ name: "bomb.docx", bytes })))

const Parsing = Parsers.layerWithoutOcr().pipe(Layer.provideMerge(Tokenizer.layer))

const workers = [
  ["on the worker's thread", Rag.layerWorker({ workerId: "limits" })],
  ["on parser threads", Rag.layerWorkerWith(ParserThreads.layer({ threads: 1 }), { workerId: "limits-threads" })]
] as const

const invalidField = <A, E>(result: Either.Either<A, E>) =>
  Either.isLeft(result) && (result.left as { _tag?: string })._tag === "InvalidInput"
    ? (result.left as unknown as { field: string }).field
    : `not refused: ${JSON.stringify(Either.isRight(result) ? "a success" : result.left)}`

for (const [where, worker] of workers) describe(`parser limits, parsing ${where}`, () => {
  layer(engine(worker, Parsing), { timeout: 60_000, excludeTestServices: true })((it) => {
    it.effect("a parser_config that lifts the limits is refused at the request, naming the key", () =>
      Effect.gen(function*() {
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const docs = decoding(yield* Documents.Documents, Documents.Operations)
        const store = yield* RecordStore.RecordStore
        const caller = yield* newCaller
        const created = yield* Effect.either(kbs.create(caller, { name: "lifted", parser_config: lifting }))
        expect(invalidField(created)).toBe("parser_config.zipMaxEntryBytes")
        expect(yield* store.knowledgeBases.count({ tenant_id: caller.tenantId })).toBe(0)

        const kb = yield* kbs.create(caller, { name: "plain" })
        expect(invalidField(yield* Effect.either(kbs.update(caller, { kb_id: kb.id, parser_config: { zipMaxTotalBytes: 4e9 } }))))
          .toBe("parser_config.zipMaxTotalBytes")
        const [doc] = yield* docs.upload(caller, { kb_id: kb.id, files: [yield* bombDocx] })
        const changed = yield* Effect.either(docs.changeParser(caller, { doc_id: doc!.id, parser_id: "naive", parser_config: lifting }))
        expect(invalidField(changed)).toBe("parser_config.zipMaxEntryBytes")
        expect((yield* kbs.get(caller, { kb_id: kb.id })).parser_config).not.toHaveProperty("zipMaxTotalBytes")
        expect((yield* docs.get(caller, { doc_id: doc!.id })).parser_config).not.toHaveProperty("zipMaxEntryBytes")
      }))

    it.effect("written into the record anyway, the limits stay the deployment's: the bomb fails TooLarge", () =>
      Effect.gen(function*() {
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const docs = decoding(yield* Documents.Documents, Documents.Operations)
        const worker = yield* Ingestion.Ingestion
        const store = yield* RecordStore.RecordStore
        const caller = yield* newCaller
        const kb = yield* kbs.create(caller, { name: "bombs" })
        const [doc] = yield* docs.upload(caller, { kb_id: kb.id, files: [yield* bombDocx] })
        // As a store written before the check, or by hand: every limit key the parsers ever read.
        yield* store.documents.update(
          new Document({
            ...doc!,
            parser_config: { ...doc!.parser_config, ...lifting, zipMaxEntries: 1e9, maxCells: 1e12, emlDepth: -1e9, max_pages: 1e9 }
          })
        )
        yield* docs.parse(caller, { doc_ids: [doc!.id] })
        expect(yield* worker.drain).toBe(1)
        const after = yield* docs.get(caller, { doc_id: doc!.id })
        expect(after.run, after.progress_msg).toBe("FAIL")
        expect(after.progress_msg).toMatch(/\[ERROR\] bomb\.docx: .*padding\.bin declares 51\.0 MB uncompressed \(limit 50\.0 MB\)/)
        expect(after.chunk_num).toBe(0)
      }))
  })
})

describe("parser limits from the deployment", () => {
  const raised = { zipMaxEntryBytes: 64 * MiB }
  const prepare = (preparer: Layer.Layer<DocumentPreparer.DocumentPreparer, unknown>) =>
    Effect.gen(function*() {
      const { bytes, name } = yield* bombDocx
      const prepared = yield* DocumentPreparer.DocumentPreparer.pipe(
        Effect.flatMap((p) => p.prepare({ bytes, fileName: name, parserId: "naive", parserConfig: {} })),
        Effect.either
      )
      return Either.isRight(prepared) ? "parsed" : prepared.left
    }).pipe(Effect.provide(preparer))

  it.effect("Parsers.layer({ limits }) and the threads' setupOptions move them, for the host and its threads alike", () =>
    Effect.gen(function*() {
      const local = (limits: typeof raised) =>
        DocumentPreparer.layerLocal.pipe(Layer.provide(Parsers.layerWithoutOcr({ limits })), Layer.provide(Tokenizer.layer))
      // Under the default limits the same file fails TooLarge, on either side (the tests above).
      expect(yield* prepare(local(raised))).toBe("parsed")
      expect(yield* prepare(ParserThreads.layer({ threads: 1, setupOptions: { limits: raised } }))).toBe("parsed")
    }), 60_000)

  it("a limit that is not a positive integer is the deployment's mistake, named at start-up", () => {
    expect(() => Parsers.ParserLimits.make({ maxCells: 0 })).toThrow(/maxCells must be a positive integer/)
    expect(() => Parsers.ParserLimits.make({ zipMaxTotalBytes: Number.NaN })).toThrow(/zipMaxTotalBytes/)
  })
})
