/**
 * What a LanceDB chunk index commit costs, by documents per commit: `--docs` one-chunk documents
 * (~230 words each, like a SciFact abstract; 8-d vectors) upserted into a fresh folder in upserts of
 * `--per` documents, `--concurrency` upserts in flight (the index's group commit merges those that
 * wait for a commit in flight), with the index's default maintenance. Each setting runs in a fresh
 * process; the CPU time is the process's (all threads: LanceDB's native threads included), so it is
 * not disturbed by load the way wall time is.
 *
 *   npx tsx --conditions=development bench/lanceCommits.ts [--docs 2000] [--per 1,4,16,64,256] [--concurrency 4] [--runs 1]
 *
 * Prints, per setting, the median over `--runs` of the CPU milliseconds per document and the wall
 * time. This is why the worker writes many small documents' chunks in one upsert (`endLingerMs`).
 */
import { ChunkIndex } from "@ragkit/core"
import { LanceChunkIndex } from "@ragkit/store-lancedb"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { syntheticChunks } from "./internal/syntheticChunks.js"

const args = new Map<string, string>()
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "")
const docs = Number(args.get("docs") ?? 2000)
const concurrency = Number(args.get("concurrency") ?? 4)
const runs = Number(args.get("runs") ?? 1)
const perList = (args.get("per") ?? "1,4,16,64,256").split(",").map(Number)

const child = async (per: number) => {
  const synthetic = syntheticChunks()
  const dir = mkdtempSync(join(tmpdir(), "ragkit-lance-commits-"))
  const upserts = Array.from({ length: Math.ceil(docs / per) }, (_, u) => u)
  const cpu = process.cpuUsage()
  const started = performance.now()
  const load = Effect.gen(function*() {
    const index = yield* ChunkIndex.ChunkIndex
    yield* Effect.forEach(upserts, (u) =>
      index.upsert(Array.from({ length: Math.min(per, docs - u * per) }, (_, i) =>
        synthetic.chunk({
          doc: synthetic.newDoc(), name: `doc${u}-${i}.txt`, title: `doc ${u}`, index: 0, words: 200 + Math.floor(synthetic.rand() * 60),
          dimensions: 8, tokens: 300, pages: []
        })
      )), { concurrency, discard: true })
  })
  // Closing the layer waits for the maintenance the load left due.
  await Effect.runPromise(load.pipe(Effect.provide(LanceChunkIndex.layer({ uri: dir }))))
  const used = process.cpuUsage(cpu)
  const seconds = (performance.now() - started) / 1000
  rmSync(dir, { recursive: true, force: true })
  process.stdout.write(JSON.stringify({ cpuMs: (used.user + used.system) / 1000, seconds }))
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!

const main = () => {
  console.log(`${cpus()[0]?.model.trim()}, ${cpus().length} cores, Node ${process.version}; load average at the start ${loadavg().map((l) => l.toFixed(2)).join(", ")}`)
  console.log(`${docs} one-chunk documents, ${concurrency} upserts in flight, ${runs} run(s) per setting (medians)\n`)
  console.log("| documents per upsert | upserts | CPU ms per document | wall s |")
  console.log("|---:|---:|---:|---:|")
  for (const per of perList) {
    const results: Array<{ cpuMs: number; seconds: number }> = []
    for (let run = 0; run < runs; run++) {
      const out = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--child", String(per), "--docs", String(docs), "--concurrency", String(concurrency)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
      if (out.status !== 0) throw new Error(`${per} per upsert: exit ${out.status}`)
      results.push(JSON.parse(out.stdout))
    }
    console.log(`| ${per} | ${Math.ceil(docs / per)} | ${(median(results.map((r) => r.cpuMs)) / docs).toFixed(2)} | ${median(results.map((r) => r.seconds)).toFixed(1)} |`)
  }
}

if (args.has("child")) await child(Number(args.get("child")))
else main()
