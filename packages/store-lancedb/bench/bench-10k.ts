/**
 * Timings of the LanceDB chunk index on 10k chunks (384-d vectors, ~150 tokens each):
 *
 *   npx tsx packages/store-lancedb/bench/bench-10k.ts
 */
import { Chunk, ChunkId, ChunkIndex, DocumentId, KnowledgeBaseId, randomHex32, TenantId } from "@ragkit/core"
import { Effect } from "effect"
import { mkdtempSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { LanceChunkIndex } from "../src/index.js"

const print = (line: string) => writeSync(1, `${line}\n`)
let seed = 99
const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647
// Zipf-like vocabulary of 5000 words.
const vocabulary = Array.from({ length: 5000 }, (_, i) => `w${i}`)
const word = () => vocabulary[Math.min(4999, Math.floor(Math.exp(rand() * Math.log(5000))) - 1)]!
const N = 10_000
const D = 384
const tenant = TenantId.make(randomHex32())
const kb = KnowledgeBaseId.make(randomHex32())
const docs = Array.from({ length: 50 }, () => DocumentId.make(randomHex32()))
const chunks = Array.from({ length: N }, (_, i) => {
  const content = Array.from({ length: 100 + Math.floor(rand() * 100) }, word).join(" ")
  return new Chunk({
    id: ChunkId.make(randomHex32()),
    tenant_id: tenant,
    kb_id: kb,
    doc_id: docs[i % 50]!,
    docnm_kwd: "document.txt",
    content,
    content_ltks: content,
    content_sm_ltks: "",
    title_tks: `${word()} ${word()}`,
    important_keywords: rand() < 0.2 ? [word()] : [],
    questions: [],
    available: true,
    token_num: 150,
    page_num: [],
    positions: [],
    index: i,
    metadata: { source: "bench" },
    vector: Array.from({ length: D }, () => rand() - 0.5),
    create_time: 1_700_000_000_000
  })
})
// Zipf draws: the first tokens are as common as stop words (some are in almost every chunk).
const commonQueries = Array.from({ length: 20 }, () => [word(), word(), vocabulary[200 + Math.floor(rand() * 2000)]!].join(" "))
const rareQueries = Array.from({ length: 20 }, () => [0, 1, 2].map(() => vocabulary[300 + Math.floor(rand() * 4700)]!).join(" "))
const vectors = Array.from({ length: 20 }, () => Array.from({ length: D }, () => rand() - 0.5))

const time = async <A>(f: () => Promise<A>): Promise<[A, number]> => {
  const start = performance.now()
  const a = await f()
  return [a, performance.now() - start]
}
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const run = (name: string, index: ChunkIndex.ChunkIndexService, batch: number) =>
  Effect.promise(async () => {
    const [, upsert] = await time(async () => {
      for (let i = 0; i < N; i += batch) await Effect.runPromise(index.upsert(chunks.slice(i, i + batch)))
    })
    const textTimes = async (queries: ReadonlyArray<string>, limit: number) => {
      const times: Array<number> = []
      let hits = 0
      for (const q of queries) {
        const [r, ms] = await time(() => Effect.runPromise(index.searchText({ kbIds: [kb], tokens: q, limit })))
        hits += r.length
        times.push(ms)
      }
      return `${median(times).toFixed(1)} ms (${(hits / queries.length).toFixed(0)})`
    }
    const common = await textTimes(commonQueries, 1024)
    const common10 = await textTimes(commonQueries, 10)
    const rare = await textTimes(rareQueries, 1024)
    const vector10: Array<number> = []
    const vector1024: Array<number> = []
    for (const v of vectors) {
      vector10.push((await time(() => Effect.runPromise(index.searchVector({ kbIds: [kb], vector: v, limit: 10 }))))[1])
      vector1024.push((await time(() => Effect.runPromise(index.searchVector({ kbIds: [kb], vector: v, limit: 1024 }))))[1])
    }
    print(
      `| ${name} | batch ${batch} | ${(upsert / 1000).toFixed(2)} s | ${common} | ${common10} | ${rare} | ${median(vector10).toFixed(1)} ms | ${median(vector1024).toFixed(1)} ms |`
    )
  })

print("| index | upsert | 10k upsert | text common, limit 1024 | text common, limit 10 | text rare, limit 1024 | vector, limit 10 | vector, limit 1024 |")
print("|---|---|---|---|---|---|---|---|")
await Effect.runPromise(Effect.flatMap(ChunkIndex.makeMemory, (index) => run("memory", index, 10_000)))
for (const batch of [10_000, 500]) {
  await Effect.runPromise(
    Effect.scoped(Effect.flatMap(LanceChunkIndex.make({ uri: mkdtempSync(join(tmpdir(), "ragkit-bench-")) }), (index) =>
      run("lancedb", index, batch)))
  )
}
