/**
 * Retrieval quality on BEIR SciFact: ingest the 5,183 abstracts through the library (upload,
 * parse with the naive method, embed, index), then run the queries through `Retrieval` and print
 * nDCG@10 and Recall@100 for keyword only (w = 0), vector only (w = 1) and hybrid (w = 0.3).
 *
 *   npx tsx --conditions=development bench/quality.ts [--split test|train] [--model glove-100d@Builtin] [--index memory|lancedb]
 *                            [--term bm25|overlap] [--weights 0,1,0.3] [--limit N (documents, for a quick look)]
 *
 * Tune on `--split train`; report `--split test`. Reads ../shared/datasets/scifact.
 */
import { NodeContext } from "@effect/platform-node"
import {
  BlobStore,
  ChunkIndex,
  decoding,
  Documents,
  Ingestion,
  KnowledgeBases,
  Parser,
  Rag,
  RecordStore,
  Retrieval,
  TaskQueue,
  Tokenizer
} from "@ragkit/core"
import { TestModels } from "@ragkit/core/doubles"
import * as Parsers from "@ragkit/parsers"
import { Effect, Layer } from "effect"
import { readFileSync } from "node:fs"
import { mkdtempSync, rmSync } from "node:fs"
import { cpus, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { newBenchCaller } from "./internal/caller.js"
import { builtinPlugins } from "./internal/models.js"

const args = new Map<string, string>()
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "")
const split = args.get("split") ?? "test"
const model = args.get("model") ?? "glove-100d@Builtin"
const indexKind = args.get("index") ?? "memory"
const term = (args.get("term") ?? "bm25") as "bm25" | "overlap"
const weights = (args.get("weights") ?? "0,1,0.3").split(",").map(Number)

const dataset = fileURLToPath(new URL("../../shared/datasets/scifact/", import.meta.url))
const readJsonl = <A>(file: string): Array<A> =>
  readFileSync(join(dataset, file), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as A)
const limit = Number(args.get("limit") ?? Infinity)
const corpus = readJsonl<{ _id: string; title: string; text: string }>("corpus.jsonl").slice(0, limit)
const queries = new Map(readJsonl<{ _id: string; text: string }>("queries.jsonl").map((q) => [q._id, q.text]))
const qrels = new Map<string, Map<string, number>>()
for (const line of readFileSync(join(dataset, `qrels/${split}.tsv`), "utf8").split("\n").slice(1)) {
  const [q, d, s] = line.split("\t")
  if (q === undefined || d === undefined || s === undefined) continue
  const m = qrels.get(q) ?? new Map<string, number>()
  m.set(d, Number(s))
  qrels.set(q, m)
}

const ndcgAt = (ranked: ReadonlyArray<string>, rel: Map<string, number>, k: number) => {
  const dcg = ranked.slice(0, k).reduce((sum, d, i) => sum + (2 ** (rel.get(d) ?? 0) - 1) / Math.log2(i + 2), 0)
  const ideal = [...rel.values()].sort((a, b) => b - a).slice(0, k).reduce((sum, r, i) => sum + (2 ** r - 1) / Math.log2(i + 2), 0)
  return ideal === 0 ? 0 : dcg / ideal
}
const recallAt = (ranked: ReadonlyArray<string>, rel: Map<string, number>, k: number) => {
  const top = new Set(ranked.slice(0, k))
  const relevant = [...rel].filter(([, s]) => s > 0).map(([d]) => d)
  return relevant.length === 0 ? 0 : relevant.filter((d) => top.has(d)).length / relevant.length
}

const dataDir = mkdtempSync(join(tmpdir(), "ragkit-quality-"))
const index =
  indexKind === "lancedb"
    ? (await import("@ragkit/store-lancedb")).LanceChunkIndex.layer({ uri: join(dataDir, "lancedb") })
    : ChunkIndex.layerMemory
const Ports = Layer.mergeAll(
  RecordStore.layerMemory,
  TaskQueue.layerMemory,
  BlobStore.layerMemory,
  index,
  Parser.layer([Parser.TextParser]),
  Tokenizer.layer
)
const Engine = Rag.layerWorker({ concurrency: 2, embedBatchSize: 64 }).pipe(
  Layer.provideMerge(Rag.layer(Ports, [TestModels.layer, ...builtinPlugins(join(dataDir, "models"))])),
  Layer.provideMerge(Parsers.Chunking.layer.pipe(Layer.provideMerge(Tokenizer.layer))),
  Layer.provide(NodeContext.layer)
)

const program = Effect.gen(function* () {
  const me = yield* newBenchCaller
  const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
  const docs = decoding(yield* Documents.Documents, Documents.Operations)
  const worker = yield* Ingestion.Ingestion
  const retrieval = decoding(yield* Retrieval.Retrieval, Retrieval.Operations)

  const kb = yield* kbs.create(me, { name: "SciFact", embedding_model: model })
  const t0 = performance.now()
  const encoder = new TextEncoder()
  for (let i = 0; i < corpus.length; i += 500) {
    const batch = corpus.slice(i, i + 500)
    const uploaded = yield* docs.upload(me, {
      kb_id: kb.id,
      files: batch.map((d) => ({ name: `${d._id}.txt`, bytes: encoder.encode(`${d.title}\n${d.text}`) }))
    })
    yield* docs.parse(me, { doc_ids: uploaded.map((d) => d.id) })
  }
  yield* worker.drain
  const ingestS = (performance.now() - t0) / 1000
  const after = yield* kbs.get(me, { kb_id: kb.id })

  const rows: Array<string> = []
  for (const w of weights) {
    let ndcg = 0
    let recall = 0
    let n = 0
    const latencies: Array<number> = []
    for (const [qid, rel] of qrels) {
      const question = queries.get(qid)
      if (question === undefined) continue
      const started = performance.now()
      const result = yield* retrieval.retrieve(me, {
        question,
        kb_ids: [kb.id],
        vector_similarity_weight: w,
        similarity_threshold: 0,
        page_size: 100,
        top_k: 1024,
        term_similarity: term
      })
      latencies.push(performance.now() - started)
      const ranked: Array<string> = []
      for (const c of result.chunks) {
        const id = c.chunk.docnm_kwd.replace(/\.txt$/, "")
        if (!ranked.includes(id)) ranked.push(id)
      }
      ndcg += ndcgAt(ranked, rel, 10)
      recall += recallAt(ranked, rel, 100)
      n++
    }
    latencies.sort((a, b) => a - b)
    const label = w === 0 ? "keyword only" : w === 1 ? "vector only" : `hybrid (w = ${w})`
    rows.push(
      `| ${label} | ${(ndcg / n).toFixed(4)} | ${(recall / n).toFixed(4)} | ${n} | ${latencies[Math.floor(n / 2)]!.toFixed(1)} |`
    )
  }
  const cpu = cpus()[0]?.model ?? "unknown"
  console.log(`\n## SciFact retrieval quality (${split} split)\n`)
  console.log(
    `Machine: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. ` +
      `Corpus: ${corpus.length} abstracts -> ${after.chunk_count} chunks (${after.token_num} tokens), ingested in ${ingestS.toFixed(1)} s. ` +
      `Embedding model: ${model}; index: ${indexKind}; term similarity: ${term}.\n`
  )
  console.log("| mode | nDCG@10 | Recall@100 | queries | median latency (ms) |")
  console.log("|---|---|---|---|---|")
  for (const r of rows) console.log(r)
})

try {
  await Effect.runPromise(Effect.scoped(Effect.flatMap(Layer.build(Engine), (ctx) => Effect.provide(program, ctx))))
} finally {
  rmSync(dataDir, { recursive: true, force: true })
}
