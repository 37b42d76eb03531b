/**
 * The engine's own time before the first token of an answer: from `Completions.stream` being run
 * until the chat model is called (load the conversation's dialog and model, retrieve, build and fit
 * the prompt), with a chat model that answers at once, so that no model time is counted.
 *
 *   npx tsx --conditions=development bench/chat.ts [--chunks 10000] [--questions 200] [--runs 3] [--warmup 20] [--sentences 3]
 *
 * Corpus: BEIR SciFact abstracts (../shared/datasets/scifact), each cut into chunks of `--sentences`
 * sentences (one paragraph each, chunked one per paragraph), abstracts taken in file order until
 * `--chunks` chunks; ingested through the library (upload, parse, embed with `hash-64@Test`, the
 * memory chunk index). Questions: the SciFact claims (`queries.jsonl`), in file order, `--warmup`
 * of them first (not measured). Each question starts a new conversation of one dialog over the
 * knowledge base with the default settings (top_n 6, top_k 1024, similarity_threshold 0.1, vector
 * weight 0.3, quote on, no refinement or keywords).
 *
 * Measured per question, from just before the stream runs (the request is already decoded):
 * - `model called`: the chat model's `stream` was invoked (the engine's own time before the first token);
 * - `first Delta`: the consumer received the first piece of the answer;
 * - `Done`: the answer was decorated (citations) and stored, its last event received;
 * and, next to them, `Retrieval.retrieve` alone with the same settings and question.
 * p50 and p95 per run; the table shows the median over `--runs` runs.
 *
 * Then the built-in extractive answerer's accuracy (`bench/internal/extractiveQa.ts`).
 */
import {
  ChatModel,
  ChunkMethod,
  Completions,
  decodeRequest,
  decoding,
  Dialogs,
  Documents,
  Ingestion,
  KnowledgeBases,
  ModelProvider,
  Rag,
  Retrieval
} from "@ragkit/core"
import { TestModels } from "@ragkit/core/doubles"
import { Effect, Layer, Stream } from "effect"
import { readFileSync } from "node:fs"
import { cpus, loadavg, totalmem } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { newBenchCaller } from "./internal/caller.js"
import { formatExtractiveQa, runExtractiveQa } from "./internal/extractiveQa.js"

const args = new Map<string, string>()
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "")
const chunkTarget = Number(args.get("chunks") ?? 10_000)
const questionCount = Number(args.get("questions") ?? 200)
const runs = Number(args.get("runs") ?? 3)
const warmup = Number(args.get("warmup") ?? 20)
const sentencesPerChunk = Number(args.get("sentences") ?? 3)

const log = (line: string) => process.stderr.write(`${line}\n`)
const print = (line = "") => console.log(line)

const dataset = fileURLToPath(new URL("../../shared/datasets/scifact/", import.meta.url))
const readJsonl = <A>(file: string): Array<A> =>
  readFileSync(join(dataset, file), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as A)

/** Abstracts as documents of paragraphs of `sentencesPerChunk` sentences, up to `chunkTarget` paragraphs. */
const corpus = (() => {
  const files: Array<{ name: string; bytes: Uint8Array }> = []
  let chunks = 0
  for (const doc of readJsonl<{ _id: string; title: string; text: string }>("corpus.jsonl")) {
    if (chunks >= chunkTarget) break
    const sentences = doc.text.split(/(?<=[.!?])\s+(?=[A-Z0-9])/).filter((s) => s.trim() !== "")
    const paragraphs: Array<string> = []
    for (let i = 0; i < sentences.length && chunks < chunkTarget; i += sentencesPerChunk, chunks++) {
      paragraphs.push(sentences.slice(i, i + sentencesPerChunk).join(" "))
    }
    if (paragraphs.length > 0) files.push({ name: `${doc._id}.txt`, bytes: new TextEncoder().encode(paragraphs.join("\n\n")) })
  }
  return { files, chunks }
})()
const questions = readJsonl<{ _id: string; text: string }>("queries.jsonl").map((q) => q.text)

/** One chunk per paragraph. */
const paragraphs: ChunkMethod.ChunkMethod = {
  id: "naive",
  accepts: ["txt"],
  chunk: (doc) => Effect.succeed(doc.sections.map((s) => ({ content: s.text, page_num: [], positions: [] })))
}

/** When the bench chat model was last called. */
let calledAt = 0
/** `instant@Bench`: notes when it is called, then answers at once, citing the first passage. */
const BenchChat = ModelProvider.plugin({
  kind: "bench-chat",
  providers: ["Bench"],
  chatModel: () =>
    Effect.succeed(
      ChatModel.make({
        modelId: "instant@Bench",
        stream: () => {
          calledAt = performance.now()
          return Stream.make(
            ChatModel.ChatDelta.Text({ text: "The passages say so " }),
            ChatModel.ChatDelta.Text({ text: "[ID:0]." }),
            ChatModel.ChatDelta.Usage({ promptTokens: 1, completionTokens: 2 })
          )
        }
      })
    )
})

const Engine = Rag.layerWorker({ concurrency: 2 }).pipe(
  Layer.provideMerge(Rag.layer(Rag.layerMemoryPorts, [TestModels.layer, BenchChat])),
  Layer.provideMerge(ChunkMethod.layer([paragraphs]))
)

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const ms = (x: number) => x.toFixed(1)

const program = Effect.gen(function* () {
  const me = yield* newBenchCaller
  const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
  const docs = yield* Documents.Documents
  const kb = yield* kbs.create(me, { name: "SciFact", embedding_model: "hash-64@Test" })

  log(`ingesting ${corpus.chunks} chunks in ${corpus.files.length} documents...`)
  const ingestStart = performance.now()
  for (let i = 0; i < corpus.files.length; i += 200) {
    const uploaded = yield* docs.upload(me, { kb_id: kb.id, files: corpus.files.slice(i, i + 200) })
    yield* docs.parse(me, { doc_ids: uploaded.map((d) => d.id) })
  }
  yield* (yield* Ingestion.Ingestion).drain
  const ingestSeconds = (performance.now() - ingestStart) / 1000
  const indexed = (yield* kbs.get(me, { kb_id: kb.id })).chunk_count
  log(`ingested ${indexed} chunks in ${ingestSeconds.toFixed(1)} s`)

  const dialog = yield* decoding(yield* Dialogs.Dialogs, Dialogs.Operations).create(me, {
    name: "SciFact bot",
    kb_ids: [kb.id],
    llm_id: "instant@Bench"
  })
  const completions = yield* Completions.Completions
  const retrieval = yield* Retrieval.Retrieval
  const decode = decodeRequest(Completions.CompleteRequest)

  /** One question: the four times, in ms. */
  const measure = (question: string) =>
    Effect.gen(function* () {
      const request = yield* decode({ dialog_id: dialog.id, messages: [{ role: "user", content: question }] })
      calledAt = 0
      let firstDelta = 0
      const start = performance.now()
      yield* Stream.runForEach(completions.stream(me, request), (event) =>
        Effect.sync(() => {
          if (event._tag === "Delta" && firstDelta === 0) firstDelta = performance.now()
        })
      )
      const done = performance.now()
      const retrieveStart = performance.now()
      yield* retrieval.retrieve(me, {
        question,
        kb_ids: [kb.id],
        page: 1,
        page_size: dialog.top_n,
        similarity_threshold: dialog.similarity_threshold,
        vector_similarity_weight: dialog.vector_similarity_weight,
        top_k: dialog.top_k,
        highlight: false,
        term_similarity: "bm25"
      })
      const retrieved = performance.now() - retrieveStart
      if (calledAt === 0) return yield* Effect.dieMessage(`the model was not called for: ${question}`)
      return { called: calledAt - start, first: firstDelta - start, done: done - start, retrieval: retrieved }
    })

  for (const q of questions.slice(0, warmup)) yield* measure(q)
  const stages = ["retrieval", "called", "first", "done"] as const
  const perRun: Array<Record<(typeof stages)[number], { p50: number; p95: number; max: number }>> = []
  const measured = questions.slice(warmup, warmup + questionCount)
  for (let run = 0; run < runs; run++) {
    const samples = { retrieval: [] as Array<number>, called: [] as Array<number>, first: [] as Array<number>, done: [] as Array<number> }
    for (const q of measured) {
      const t = yield* measure(q)
      for (const s of stages) samples[s].push(t[s])
    }
    const summary = {} as (typeof perRun)[number]
    for (const s of stages) {
      const sorted = samples[s].sort((a, b) => a - b)
      summary[s] = { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), max: sorted[sorted.length - 1]! }
    }
    perRun.push(summary)
    log(`run ${run + 1}: model called p50 ${ms(summary.called.p50)} ms, p95 ${ms(summary.called.p95)} ms`)
  }

  const cpu = cpus()
  print(`Machine: ${cpu[0]?.model.trim() ?? "unknown CPU"}, ${cpu.length} cores (os.cpus), ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory, Node ${process.version}, ${process.platform} ${process.arch}. Load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(", ")}.`)
  print()
  print(
    `Corpus: ${indexed.toLocaleString("en")} chunks (SciFact abstracts, ${sentencesPerChunk} sentences a chunk, ${corpus.files.length.toLocaleString("en")} documents), ` +
      `\`hash-64@Test\`, memory stores and index; ingested in ${ingestSeconds.toFixed(1)} s. Dialog defaults (top_n ${dialog.top_n}, top_k ${dialog.top_k}, ` +
      `threshold ${dialog.similarity_threshold}, vector weight ${dialog.vector_similarity_weight}, quote on). ${measured.length} SciFact claims per run ` +
      `after ${warmup} warm-up, ${runs} runs (medians of the runs' percentiles).`
  )
  print()
  print("| from the stream's start to | p50 ms | p95 ms | max ms |")
  print("|---|---:|---:|---:|")
  const label: Record<(typeof stages)[number], string> = {
    retrieval: "(`Retrieval.retrieve` alone, same settings)",
    called: "**the chat model called** (the engine's own time before the first token)",
    first: "the first `Delta` received",
    done: "`Done` received (citations checked, exchange stored)"
  }
  for (const s of stages) {
    print(`| ${label[s]} | ${ms(median(perRun.map((r) => r[s].p50)))} | ${ms(median(perRun.map((r) => r[s].p95)))} | ${ms(median(perRun.map((r) => r[s].max)))} |`)
  }
  print()
})

await Effect.runPromise(Effect.scoped(Effect.provide(program, Engine)))

// ---------------------------------------------------------------------------------------------
// The built-in extractive answerer's accuracy on a question set with known answers: engineer C's
// `bench/internal/extractiveQa.ts` (its module comment describes the set and the scores).

log("scoring the extractive answerer...")
print(formatExtractiveQa(await runExtractiveQa()))
