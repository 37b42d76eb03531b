/**
 * Acceptance of the ingestion: the real engine (memory stores, every parser with OCR, every chunk
 * method, the worker) takes a generated corpus through upload -> parse -> drain, and a user finds
 * the files' sentences in the chunks, on the right pages. Bad files end FAIL with a message that
 * says what is wrong, and the worker goes on.
 */
import { describe, expect, layer } from "@effect/vitest"
import {
  BlobStore,
  type Caller,
  type Chunk,
  ChunkIndex,
  decoding,
  type Document,
  Documents,
  Ingestion,
  type KnowledgeBase,
  KnowledgeBases,
  Rag,
  Tokenizer
} from "@ragkit/core"
import { Context, Effect, Layer } from "effect"
import * as Parsers from "../../src/index.js"
import * as ParserThreads from "../../src/threads/ParserThreads.js"
import { words } from "@ragkit/fixtures/images"
import { PAGE } from "@ragkit/fixtures/pdfs"
import { engine as engineOver, newCaller } from "./engine.js"
import { badFiles, type CorpusFile, type Expectation, goodText, knowledgeBases, type Sample, samples } from "./samples.js"

// ---------------------------------------------------------------------------------------------
// The engine: memory stores, the parsers' registry as the ParserRegistry port, the worker with the
// chunk methods and the tokenizer. `Parsing` is one value, so its OCR engine is loaded once.

const Parsing = Parsers.layer().pipe(Layer.provideMerge(Tokenizer.layer))

// The same acceptance twice: parsing on the worker's own thread, and on a pool of parser threads.
const workers = [
  ["on the worker's thread", Rag.layerWorker({ workerId: "acceptance", concurrency: 4 })],
  [
    "on parser threads",
    Rag.layerWorkerWith(ParserThreads.layer({ threads: 2, setupOptions: { ocr: true } }), { workerId: "threads", concurrency: 4 })
  ]
] as const

const engine = (worker: (typeof workers)[number][1]) => engineOver(worker, Parsing)

const upload = (file: CorpusFile) => ({ name: file.fileName, bytes: file.bytes })

const normalise = (text: string) => text.replace(/\s+/gu, " ").trim()

const allChunks = (kb: KnowledgeBase, doc: Document) =>
  Effect.map(
    Effect.flatMap(ChunkIndex.ChunkIndex, (index) => index.list({ kbId: kb.id, docId: doc.id, offset: 0, limit: 10_000 })),
    (page) => page.chunks
  )

// ---------------------------------------------------------------------------------------------
// The whole corpus, ingested once when the layer is built: one knowledge base per chunk method,
// each file uploaded into the knowledge base of every method that applies, all parsed, one drain.

interface Run {
  readonly key: string
  readonly sample: Sample
  readonly kbName: string
  readonly expectation: Expectation
  readonly kb: KnowledgeBase
  readonly doc: Document
  readonly chunks: ReadonlyArray<Chunk>
  readonly indexed: number
}

interface IngestedCorpus {
  readonly caller: Caller
  readonly runs: ReadonlyMap<string, Run>
  readonly knowledgeBases: ReadonlyArray<KnowledgeBase>
  readonly drained: number
}

class Ingested extends Context.Tag("test/Ingested")<Ingested, IngestedCorpus>() {}

const keyOf = (fileName: string, kbName: string) => `${fileName} x ${kbName}`

const IngestedLive = Layer.effect(
  Ingested,
  Effect.gen(function*() {
    const docs = decoding(yield* Documents.Documents, Documents.Operations)
    const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
    const worker = yield* Ingestion.Ingestion
    const index = yield* ChunkIndex.ChunkIndex
    const corpus = yield* Effect.promise(samples)
    const caller = yield* newCaller

    const uploaded: Array<{ sample: Sample; kbName: string; kb: KnowledgeBase; doc: Document }> = []
    for (const { name, method, config } of knowledgeBases) {
      const kb = yield* kbs.create(caller, {
        name: `kb-${name}`,
        parser_id: method,
        embedding_model: "hash-64@Test",
        ...(config === undefined ? {} : { parser_config: config })
      })
      const mine = corpus.filter((s) => s.methods[name] !== undefined)
      if (mine.length === 0) continue
      const stored = yield* docs.upload(caller, { kb_id: kb.id, files: mine.map((s) => upload(s.file)) })
      for (const [i, doc] of stored.entries()) {
        // Images, slides and e-mails get their own method on upload; the matrix wants this one.
        const chosen =
          doc.parser_id === method
            ? doc
            : yield* docs.changeParser(caller, { doc_id: doc.id, parser_id: method, ...(config === undefined ? {} : { parser_config: config }) })
        uploaded.push({ sample: mine[i]!, kbName: name, kb, doc: chosen })
      }
      yield* docs.parse(caller, { doc_ids: stored.map((d) => d.id) })
    }
    const drained = yield* worker.drain

    const runs = new Map<string, Run>()
    for (const { sample, kbName, kb, doc } of uploaded) {
      runs.set(keyOf(sample.file.fileName, kbName), {
        key: keyOf(sample.file.fileName, kbName),
        sample,
        kbName,
        expectation: sample.methods[kbName]!,
        kb,
        doc: yield* docs.get(caller, { doc_id: doc.id }),
        chunks: yield* allChunks(kb, doc),
        indexed: yield* index.countByDocument(kb.id, doc.id)
      })
    }
    const knowledgeBasesAfter = yield* Effect.map(kbs.list(caller, { page: 1, page_size: 100 }), (l) => l.items)
    return { caller, runs, knowledgeBases: knowledgeBasesAfter, drained }
  })
).pipe(Layer.orDie)

// ---------------------------------------------------------------------------------------------
// Assertions a user would make on one (file, method) run.

const holding = (run: Run, text: string): Chunk => {
  const wanted = normalise(text)
  const chunk = run.chunks.find((c) => normalise(c.content).includes(wanted))
  expect(chunk, `${JSON.stringify(text)} in the chunks of ${run.key}: ${JSON.stringify(run.chunks.map((c) => c.content))}`).toBeDefined()
  return chunk!
}

/** The chunk is on the page (only there when pages are exact); a PDF chunk has a position box on it. */
const checkPage = (run: Run, chunk: Chunk, page: number, what: string) => {
  if (run.expectation.exactPages === true) expect(chunk.page_num, `${run.key}: pages of ${what}`).toEqual([page])
  else expect(chunk.page_num, `${run.key}: pages of ${what}`).toContain(page)
  if (!run.sample.file.fileName.endsWith(".pdf")) return
  const onPage = chunk.positions.filter(([p]) => p === page)
  expect(onPage.length, `${run.key}: a position on page ${page} for ${what}`).toBeGreaterThan(0)
  for (const [, x0, x1, top, bottom] of onPage) {
    expect(0 <= x0 && x0 < x1 && x1 <= PAGE.width, `${run.key}: x ${x0}..${x1} on page ${page}`).toBe(true)
    expect(0 <= top && top < bottom && bottom <= PAGE.height, `${run.key}: y ${top}..${bottom} on page ${page}`).toBe(true)
  }
}

const checkRun = (run: Run, blobs: BlobStore.BlobStoreService) =>
  Effect.gen(function*() {
    const { doc, chunks, expectation: e } = run
    const method = knowledgeBases.find((k) => k.name === run.kbName)!.method
    expect([doc.run, doc.progress], `${run.key}: ${doc.progress_msg}`).toEqual(["DONE", 1])
    expect(doc.parser_id).toBe(method)
    expect(doc.progress_msg).toMatch(new RegExp(`Generated \\d+ chunks with the ${method} method`))
    expect(doc.chunk_num, `${run.key}: ${doc.progress_msg}`).toBeGreaterThan(0)
    expect([doc.chunk_num, chunks.length]).toEqual([run.indexed, run.indexed])
    expect(chunks.every((c) => c.vector?.length === 64 && c.token_num > 0)).toBe(true)

    if (e.chunkCount !== undefined) expect(chunks.length, `${run.key}: ${JSON.stringify(chunks.map((c) => c.content))}`).toBe(e.chunkCount)
    for (const sentence of e.sentences) holding(run, sentence)

    for (const [text, page] of e.pages ?? []) checkPage(run, holding(run, text), page, JSON.stringify(text))
    for (const question of e.questions ?? []) {
      expect(chunks.some((c) => c.questions.includes(question)), `${run.key}: question ${JSON.stringify(question)}`).toBe(true)
      expect(holding(run, question).content).toMatch(/^Question: .*\tAnswer: /s)
    }

    for (const [description, tags] of e.tags ?? []) {
      const chunk = chunks.find((c) => c.content === description)
      expect(chunk, `${run.key}: a chunk that is ${JSON.stringify(description)}`).toBeDefined()
      expect([...chunk!.important_keywords].sort()).toEqual([...tags].sort())
    }

    if (e.fields !== undefined) {
      const wanted = e.fields
      const rows = chunks.map((c) => (c.metadata.fields ?? {}) as Record<string, unknown>)
      expect(rows, `${run.key}: a row with ${JSON.stringify(wanted)}`).toContainEqual(expect.objectContaining(wanted))
    }

    if (e.ocrWords !== undefined) {
      const found = chunks.find((c) => e.ocrWords!.every((w) => words(c.content).includes(w)))
      expect(found, `${run.key}: OCR words ${e.ocrWords.join(" ")} in ${JSON.stringify(chunks.map((c) => c.content))}`).toBeDefined()
      if (e.ocrPage !== undefined) checkPage(run, found!, e.ocrPage, "the OCR text")
    }

    if (e.first !== undefined) {
      const first = chunks.find((c) => c.index === 0)!
      for (const text of e.first) expect(first.content, `${run.key}: first chunk`).toContain(text)
    }

    for (const text of e.absent ?? []) expect(chunks.some((c) => c.content.includes(text)), `${run.key}: no ${text}`).toBe(false)

    if (e.image === true) {
      const withImage = chunks.filter((c) => c.img_id !== undefined)
      expect(withImage.length).toBeGreaterThan(0)
      const stored = yield* blobs.get(withImage[0]!.img_id!)
      expect(Buffer.from(stored).equals(Buffer.from(run.sample.file.bytes))).toBe(true)
    }
  })

// The matrix, known before the files are generated (the file names and methods are static).
const matrix: ReadonlyArray<readonly [file: string, kb: string]> = [
  ...["naive", "naive-small", "paper", "book", "laws", "manual", "presentation", "one"].map((kb) => ["otters.pdf", kb] as const),
  ["faq.pdf", "qa"],
  ["faq.pdf", "naive"],
  ["scanned.pdf", "naive"],
  ["scanned.pdf", "presentation"],
  ...["naive", "qa", "book", "laws", "manual", "one"].map((kb) => ["report.docx", kb] as const),
  ...["presentation", "naive", "naive-small", "one"].map((kb) => ["review.pptx", kb] as const),
  ...["naive", "one", "table"].map((kb) => ["sales.xlsx", kb] as const),
  ...["qa", "table", "naive", "one"].map((kb) => ["faq.xlsx", kb] as const),
  ...["qa", "table", "naive", "one"].map((kb) => ["faq.csv", kb] as const),
  ...["qa", "naive", "one"].map((kb) => ["faq.txt", kb] as const),
  ["tags.xlsx", "tag"],
  ["tags.xlsx", "table"],
  ["tags.csv", "tag"],
  ["tags.txt", "tag"],
  ["species.txt", "table"],
  ...["naive", "book", "laws", "one"].map((kb) => ["handbook.txt", kb] as const),
  ...["naive", "qa", "laws", "one"].map((kb) => ["guide.md", kb] as const),
  ...["naive", "book", "laws", "one"].map((kb) => ["page.html", kb] as const),
  ["people.json", "naive"],
  ["people.json", "one"],
  ["events.jsonl", "naive"],
  ["server.py", "naive"],
  ...["naive", "one", "table"].map((kb) => ["contacts.csv", kb] as const),
  ["sign.png", "picture"],
  ["message.eml", "email"],
  ["message.eml", "naive"]
]

for (const [where, worker] of workers) describe(`Ingestion (acceptance), parsing ${where}`, () => {
  layer(IngestedLive.pipe(Layer.provideMerge(engine(worker))), { timeout: 120_000, excludeTestServices: true })((it) => {
    it.effect("the matrix above is exactly what was ingested, in one drain", () =>
      Effect.gen(function*() {
        const { runs, drained } = yield* Ingested
        expect([...runs.keys()].sort()).toEqual(matrix.map(([f, kb]) => keyOf(f, kb)).sort())
        expect(drained).toBe(matrix.length)
      }))

    for (const [file, kb] of matrix) {
      it.effect(`${file} with ${kb}`, () =>
        Effect.gen(function*() {
          const { runs } = yield* Ingested
          const run = runs.get(keyOf(file, kb))
          expect(run, keyOf(file, kb)).toBeDefined()
          yield* checkRun(run!, yield* BlobStore.BlobStore)
        }))
    }

    it.effect("every knowledge base counts the chunks and tokens of its documents", () =>
      Effect.gen(function*() {
        const { runs, knowledgeBases: after } = yield* Ingested
        for (const kb of after) {
          const mine = [...runs.values()].filter((r) => r.kb.id === kb.id)
          if (mine.length === 0) continue
          expect(kb.chunk_count, kb.name).toBe(mine.reduce((n, r) => n + r.doc.chunk_num, 0))
          expect(kb.token_num, kb.name).toBe(mine.reduce((n, r) => n + r.doc.token_num, 0))
          expect(kb.embedder).toEqual({ model: "hash-64@Test", dimensions: 64 })
        }
      }))

    it.effect("bad files end FAIL with a clear message, the good one DONE, and the worker goes on", () =>
      Effect.gen(function*() {
        const docs = decoding(yield* Documents.Documents, Documents.Operations)
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const worker = yield* Ingestion.Ingestion
        const index = yield* ChunkIndex.ChunkIndex
        const { caller } = yield* Ingested
        const kb = yield* kbs.create(caller, { name: "kb-bad", embedding_model: "hash-64@Test" })
        const bad = yield* Effect.promise(badFiles)
        const good = goodText("good.txt", "Wardens count otters every spring.")
        const uploaded = yield* docs.upload(caller, { kb_id: kb.id, files: [...bad.map((b) => upload(b.file)), upload(good)] })
        yield* docs.parse(caller, { doc_ids: uploaded.map((d) => d.id) })
        expect(yield* worker.drain).toBe(uploaded.length)

        for (const [i, { file, message }] of bad.entries()) {
          const doc = yield* docs.get(caller, { doc_id: uploaded[i]!.id })
          const error = doc.progress_msg.split("\n").find((line) => line.includes("[ERROR]"))
          expect([doc.run, doc.progress], `${file.fileName}: ${doc.progress_msg}`).toEqual(["FAIL", -1])
          expect(error, `${file.fileName}: ${doc.progress_msg}`).toMatch(message)
          expect([doc.chunk_num, yield* index.countByDocument(kb.id, doc.id)]).toEqual([0, 0])
        }
        const done = yield* docs.get(caller, { doc_id: uploaded[bad.length]!.id })
        expect([done.run, done.chunk_num], done.progress_msg).toEqual(["DONE", 1])
        expect((yield* allChunks(kb, done)).map((c) => c.content)).toEqual(["Wardens count otters every spring."])

        // The worker is still usable: another good file, parsed after the failures.
        const [next] = yield* docs.upload(caller, { kb_id: kb.id, files: [upload(goodText("next.txt", "Herons return in April."))] })
        yield* docs.parse(caller, { doc_ids: [next!.id] })
        expect(yield* worker.drain).toBe(1)
        const after = yield* docs.get(caller, { doc_id: next!.id })
        expect([after.run, after.chunk_num], after.progress_msg).toEqual(["DONE", 1])
        const kbAfter = yield* kbs.get(caller, { kb_id: kb.id })
        expect(kbAfter.chunk_count).toBe(2)
      }))
  })
})
