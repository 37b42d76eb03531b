/**
 * Native memory of the LanceDB chunk index's writes, per maintenance setting: a load shaped like the
 * mixed corpus of `bench/ingest.ts` (210 documents of 98 chunks, ~110 words each, 100-d vectors,
 * two documents in flight, upserts of up to 256 chunks, a count by document before each, as a run
 * does), into a fresh folder, in a fresh process per setting and run:
 *
 *   npx tsx packages/store-lancedb/bench/writeMemory.ts [--runs 3] [--docs 210] [--per-doc 98]
 *
 * Prints the peak RSS (VmHWM) of each process and, at its end, the RSS of `[heap]` and of the anonymous
 * mappings of 1 MiB or more (glibc's malloc arenas, LanceDB's allocations) from /proc/self/smaps,
 * and the load's wall time; medians of `--runs`. MiB = 2^20 bytes. Linux only (/proc).
 */
import { ChunkIndex } from "@ragkit/core"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { LanceChunkIndex } from "@ragkit/store-lancedb"
import { syntheticChunks } from "./internal/syntheticChunks.js"

const args = new Map<string, string>()
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "")
const runs = Number(args.get("runs") ?? 3)
const docs = Number(args.get("docs") ?? 210)
const perDoc = Number(args.get("per-doc") ?? 98)

/** The settings compared; each row of the table. */
const settings: Record<string, Partial<LanceChunkIndex.Options>> = {
  "optimize as soon as due (2,000 rows or 20 commits; optimizeQuietMs 0, the default before)": { optimizeQuietMs: 0 },
  "optimize once writes pause 2 s (optimizeQuietMs 2,000, the default)": {},
  "no optimize during the load (optimizeEvery 10^9)": { optimizeEvery: 1e9, optimizeEveryCommits: 1e9 }
}

const MiB = 2 ** 20

const smapsRss = () => {
  let heap = 0
  let anon = 0
  let size = 0
  let name = ""
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const mapping = line.match(/^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/)
    if (mapping !== null) {
      size = parseInt(mapping[2]!, 16) - parseInt(mapping[1]!, 16)
      name = mapping[3]!
      continue
    }
    const rss = line.match(/^Rss:\s+(\d+) kB/)
    if (rss === null) continue
    if (name === "[heap]") heap += Number(rss[1]) * 1024
    else if (name === "" && size >= MiB) anon += Number(rss[1]) * 1024
  }
  return { heap, anon }
}

const child = async (setting: string) => {
  const synthetic = syntheticChunks()
  const dir = mkdtempSync(join(tmpdir(), "ragkit-lance-write-memory-"))
  const kb = synthetic.kb
  const started = performance.now()
  const load = Effect.gen(function*() {
    const index = yield* ChunkIndex.ChunkIndex
    yield* Effect.forEach(Array.from({ length: docs }, (_, d) => d), (d) =>
      Effect.gen(function*() {
        const doc = synthetic.newDoc()
        yield* index.countByDocument(kb, doc)
        const chunks = Array.from({ length: perDoc }, (_, i) =>
          synthetic.chunk({
            doc, name: `doc${d}.pdf`, title: `doc ${d}`, index: i, words: 80 + Math.floor(synthetic.rand() * 60),
            dimensions: 100, tokens: 110, pages: [1]
          }))
        for (let s = 0; s < chunks.length; s += 256) yield* index.upsert(chunks.slice(s, s + 256))
      }), { concurrency: 2, discard: true })
  })
  // Closing the layer waits for the maintenance the load left due.
  await Effect.runPromise(load.pipe(Effect.provide(LanceChunkIndex.layer({ uri: dir, ...settings[setting] }))))
  const seconds = (performance.now() - started) / 1000
  const status = readFileSync("/proc/self/status", "utf8")
  const hwm = Number(status.match(/VmHWM:\s+(\d+)/)![1]) * 1024
  rmSync(dir, { recursive: true, force: true })
  process.stdout.write(JSON.stringify({ hwm, ...smapsRss(), seconds }))
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!

const main = () => {
  console.log(`${cpus()[0]?.model.trim()}, ${cpus().length} cores, Node ${process.version}; load average at the start ${loadavg().map((l) => l.toFixed(2)).join(", ")}`)
  console.log(`${docs} documents x ${perDoc} chunks, ${runs} runs each (interleaved), medians\n`)
  const results = new Map<string, Array<{ hwm: number; heap: number; anon: number; seconds: number }>>()
  for (let run = 0; run < runs; run++) {
    for (const setting of Object.keys(settings)) {
      const out = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--child", setting, "--docs", String(docs), "--per-doc", String(perDoc)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
      if (out.status !== 0) throw new Error(`${setting}: exit ${out.status}`)
      results.set(setting, [...(results.get(setting) ?? []), JSON.parse(out.stdout)])
    }
  }
  console.log("| setting | peak RSS (VmHWM), MiB | at the end: `[heap]` + anonymous mappings >= 1 MiB, MiB | load + final maintenance, s | peak RSS per run |")
  console.log("|---|---:|---:|---:|---|")
  for (const [setting, rows] of results) {
    const mib = (x: number) => (x / MiB).toFixed(0)
    console.log(`| ${setting} | ${mib(median(rows.map((r) => r.hwm)))} | ${mib(median(rows.map((r) => r.heap)))} + ${mib(median(rows.map((r) => r.anon)))} | ${median(rows.map((r) => r.seconds)).toFixed(1)} | ${rows.map((r) => mib(r.hwm)).join(", ")} |`)
  }
}

if (args.has("child")) await child(args.get("child")!)
else main()
