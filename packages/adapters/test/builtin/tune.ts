/**
 * Tuning script for the `glove-100d@Builtin` weighting (not a test). Run from packages/adapters:
 *
 *   npx tsx test/builtin/tune.ts [train|test] [cacheDir] [datasetDir] [name filter (regex)]
 *
 * Embeds title + " " + text of every SciFact abstract and the queries that have qrels in the
 * split, ranks by brute-force cosine and prints nDCG@10 and Recall@100 per weighting option.
 * Tune on `train` only; `test` runs the default weighting once.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import { GloveEmbedder, GloveModel } from "../../src/builtin/index.js"
import type { GloveWeighting } from "../../src/builtin/GloveEmbedder.js"

const [split = "train", cacheDir = "/tmp/ragkit-glove-tune", datasetDir = "/work/shared/datasets/scifact", only = ""] =
  process.argv.slice(2)
const out = (line: string) => process.stdout.write(`${line}\n`)

const jsonl = (text: string) =>
  text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, string>)

const dot = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!
  return s
}

const evaluate = (
  docIds: ReadonlyArray<string>,
  docVectors: ReadonlyArray<ReadonlyArray<number>>,
  queries: ReadonlyArray<{ id: string; vector: ReadonlyArray<number> }>,
  qrels: ReadonlyMap<string, ReadonlyMap<string, number>>
) => {
  let ndcg = 0
  let recall = 0
  for (const query of queries) {
    const relevant = qrels.get(query.id)!
    const ranked = docVectors
      .map((v, i) => ({ id: docIds[i]!, score: dot(v, query.vector) }))
      .sort((x, y) => y.score - x.score)
    let dcg = 0
    ranked.slice(0, 10).forEach((r, i) => {
      dcg += (relevant.get(r.id) ?? 0) / Math.log2(i + 2)
    })
    const ideal = [...relevant.values()].sort((x, y) => y - x).slice(0, 10)
      .reduce((s, g, i) => s + g / Math.log2(i + 2), 0)
    ndcg += ideal > 0 ? dcg / ideal : 0
    const top = new Set(ranked.slice(0, 100).map((r) => r.id))
    const positives = [...relevant].filter(([, g]) => g > 0).map(([id]) => id)
    recall += positives.filter((id) => top.has(id)).length / positives.length
  }
  return { ndcg: ndcg / queries.length, recall: recall / queries.length }
}

const grid: ReadonlyArray<{ name: string; weighting: GloveWeighting }> = split === "test"
  ? [{ name: "default", weighting: GloveEmbedder.defaultWeighting }]
  : [
    ...[1, 0].flatMap((stop) =>
      (["count", "log"] as const).flatMap((tf) => [
        { name: `uniform stop=${stop} tf=${tf}`, weighting: { scheme: "uniform" as const, stopWordWeight: stop, termFrequency: tf } },
        ...[3e-7, 1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2].map((a) => ({
          name: `sif a=${a} stop=${stop} tf=${tf}`,
          weighting: { scheme: "sif" as const, a, stopWordWeight: stop, termFrequency: tf }
        }))
      ])
    )
  ].filter(({ name }) => new RegExp(only).test(name))

const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const corpus = jsonl(yield* fs.readFileString(`${datasetDir}/corpus.jsonl`))
  const allQueries = new Map(jsonl(yield* fs.readFileString(`${datasetDir}/queries.jsonl`)).map((q) => [q["_id"]!, q["text"]!]))
  const qrels = new Map<string, Map<string, number>>()
  for (const line of (yield* fs.readFileString(`${datasetDir}/qrels/${split}.tsv`)).split("\n").slice(1)) {
    const [q, d, g] = line.trim().split("\t")
    if (q === undefined || d === undefined || g === undefined) continue
    if (!qrels.has(q)) qrels.set(q, new Map())
    qrels.get(q)!.set(d, Number(g))
  }
  const docIds = corpus.map((d) => d["_id"]!)
  const docTexts = corpus.map((d) => `${d["title"] ?? ""} ${d["text"] ?? ""}`)
  const queryIds = [...qrels.keys()].filter((id) => allQueries.has(id))
  out(`SciFact ${split}: ${docIds.length} docs, ${queryIds.length} queries`)
  const vectors = yield* GloveModel.ensure({ cacheDir })
  out("| weighting | nDCG@10 | Recall@100 | docs/s |")
  out("|---|---|---|---|")
  for (const { name, weighting } of grid) {
    const result = yield* Effect.gen(function*() {
      const embedder = GloveEmbedder.make({ vectors, weighting })
      const t0 = performance.now()
      const docVectors = yield* embedder.embedDocuments(docTexts)
      const seconds = (performance.now() - t0) / 1000
      const queries = yield* Effect.forEach(queryIds, (id) =>
        Effect.map(embedder.embedQuery(allQueries.get(id)!), (vector) => ({ id, vector })))
      return { ...evaluate(docIds, docVectors, queries, qrels), rate: docTexts.length / seconds }
    })
    out(`| ${name} | ${result.ndcg.toFixed(4)} | ${result.recall.toFixed(4)} | ${result.rate.toFixed(0)} |`)
  }
})

Effect.runPromise(program.pipe(Effect.provide(NodeContext.layer))).catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`)
  process.exitCode = 1
})
