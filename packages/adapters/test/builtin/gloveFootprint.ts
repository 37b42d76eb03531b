/**
 * Footprint script for `glove-100d@Builtin` (not a test). Run from packages/adapters, one mode per
 * process (the figures are the whole process's):
 *
 *   npx tsx test/builtin/gloveFootprint.ts build|load|throughput|idle [cacheDir] [datasetDir] [texts]
 *
 * - `idle`: builds the layer only;
 * - `build`: empties `<cacheDir>/glove-100d`, then builds the layer and embeds one text (the cache is
 *   built from wink's JSON);
 * - `load`: the same over an existing cache (loaded from it);
 * - `throughput`: loads, then embeds the first `texts` (1 000) SciFact abstracts (title + text) in
 *   one `embedDocuments` call, twice, and prints texts/s of each pass.
 *
 * Prints the time to the first vector, the RSS after it and the process's peak RSS
 * (`process.resourceUsage().maxRSS`).
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Embedder } from "@ragkit/core"
import { Effect, Layer } from "effect"
import { GloveEmbedder } from "../../src/builtin/index.js"

const [mode = "load", cacheDir = "/tmp/ragkit-glove-footprint", datasetDir = "/work/shared/datasets/scifact", count = "1000"] =
  process.argv.slice(2)
const out = (line: string) => process.stdout.write(`${line}\n`)
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`
const peak = () => mib(process.resourceUsage().maxRSS * 1024)

const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  if (mode === "build") yield* fs.remove(path.join(cacheDir, "glove-100d"), { recursive: true }).pipe(Effect.ignore)
  yield* fs.makeDirectory(cacheDir, { recursive: true })
  const t0 = performance.now()
  const context = yield* Layer.build(GloveEmbedder.layer({ cacheDir }))
  const embedder = yield* Effect.provide(Embedder.Embedder, context)
  const layerMs = performance.now() - t0
  if (mode === "idle") return out(`idle: layer ${layerMs.toFixed(0)} ms, RSS ${mib(process.memoryUsage().rss)}, peak RSS ${peak()}`)
  yield* embedder.embedQuery("the immune system fights infection")
  const firstMs = performance.now() - t0
  out(`${mode}: layer ${layerMs.toFixed(0)} ms, first vector ${firstMs.toFixed(0)} ms, ` +
    `RSS ${mib(process.memoryUsage().rss)}, peak RSS ${peak()}`)
  if (mode !== "throughput") return
  const texts = (yield* fs.readFileString(path.join(datasetDir, "corpus.jsonl")))
    .split("\n").filter((l) => l.trim() !== "").slice(0, Number(count))
    .map((l) => JSON.parse(l) as Record<string, string>)
    .map((d) => `${d["title"] ?? ""} ${d["text"] ?? ""}`)
  for (const pass of [1, 2]) {
    const t1 = performance.now()
    yield* embedder.embedDocuments(texts)
    const seconds = (performance.now() - t1) / 1000
    out(`pass ${pass}: ${texts.length} texts in ${seconds.toFixed(2)} s, ${(texts.length / seconds).toFixed(0)} texts/s`)
  }
  out(`RSS ${mib(process.memoryUsage().rss)}, peak RSS ${peak()}`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(NodeContext.layer))).catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`)
  process.exitCode = 1
})
