/**
 * Retrieval latency of the chunk indexes (LanceDB, pgvector on PGlite) at growing sizes, next to the
 * brute-force floor (bytes of vectors scanned / memory bandwidth measured here).
 *
 *   npx tsx --conditions=development bench/search.ts [--sizes 10000,100000,1000000] [--stores lancedb,pgvector] [--queries 200]
 *                           [--runs 3] [--warmup 20] [--batch 5000] [--max-load-minutes 20] [--seed 42]
 *                           [--pg-url postgres://postgres@127.0.0.1:55441/postgres] [--ef-search 100]
 *                           [--index-build-memory 512MB] [--data DIR] [--ann-threshold 50000]
 *                           [--nprobes N] [--refine-factor N] [--ann-retrain-growth 2] [--load-only]
 *
 * pgvector runs on PGlite in a temp dir, or with `--pg-url` on that Postgres server (which needs the
 * pgvector extension), in a fresh database that is dropped afterwards. `--ef-search` and
 * `--index-build-memory` set the pgvector chunk index's `efSearch` and `indexBuildMemory`.
 * `--ann-threshold` sets LanceDB's `annThreshold` (default 50,000); `--nprobes`, `--refine-factor` and
 * `--ann-retrain-growth` its `nprobes`, `refineFactor` (default: sized by the table) and `annRetrainGrowth`.
 * `--data DIR` keeps the stores in DIR (not a temp dir) and, on a later run, starts from the chunks
 * they hold (a marker file per store records how many), to measure queries again without a reload;
 * with `--pg-url` too, pgvector's database `ragkit_bench_kept` on that server is kept instead.
 * `--load-only` (with `--data`) loads each store up to the largest size and waits for its indexes,
 * then stops without querying: a long load can run outside the bench lock, and the queries later
 * under it, on the kept stores.
 * Data (synthetic, deterministic from `--seed`): one knowledge base, documents of 10 chunks; each
 * document picks one of 1,000 Gaussian centroids and its chunks' 384-d vectors are the centroid plus
 * Gaussian noise of the same norm, normalised; ~150 content tokens per chunk drawn from a Zipf
 * vocabulary (50,000 tokens, s = 1), 4 title tokens per document. Sizes are nested (the first n
 * chunks of the same stream), so each store is loaded once, up to each size in turn, in batches of
 * `--batch` upserts; the load time of a size is cumulative. A size is skipped, with the reason, when
 * the projected cumulative load time (median rate of the last batches) exceeds `--max-load-minutes`.
 *
 * Queries: `--queries` vector queries (a centroid plus noise, as the chunks; top 10, the store's
 * default path: exact below its threshold, ANN above) and as many text queries (3-5 tokens of Zipf
 * ranks 500-5000, limit 10), after `--warmup` of each; p50 and p95 per run, median over `--runs`.
 * Recall@10 of the vector queries against an exact Float32Array scan done here.
 *
 * LanceDB maintains its indexes on a background fiber (optimize after 2,000 written rows, the IVF_PQ
 * build past 50,000 vectors): before measuring a size, the script waits until every index of the
 * table covers every row (read-only polling of `indexStats`; the wait is reported as "catch-up s"),
 * so that latencies are those of an indexed table. Old versions are cleaned up after 60 s
 * (`keepVersionsFor`), to bound the disk used by compactions during a 1M load.
 */
import { Chunk, ChunkIndex, type ChunkId, type DocumentId, type KnowledgeBaseId, type TenantId } from "@ragkit/core"
import { LanceChunkIndex } from "@ragkit/store-lancedb"
import * as StorePg from "@ragkit/store-pg"
import * as StorePglite from "@ragkit/store-pg/pglite"
import { admin, freshDatabase } from "@ragkit/store-pg/testing"
import { Context, Effect, Layer } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { cpus, loadavg, tmpdir, totalmem } from "node:os"
import { join } from "node:path"

const args = new Map<string, string>()
for (let i = 2; i < process.argv.length; i++) {
  // `--name value`, or `--name` alone (a flag: followed by another option or nothing).
  const value = process.argv[i + 1]
  args.set(process.argv[i]!.replace(/^--/, ""), value === undefined || value.startsWith("--") ? "" : (i++, value))
}
const sizes = (args.get("sizes") ?? "10000,100000,1000000").split(",").map(Number).sort((a, b) => a - b)
const storeNames = (args.get("stores") ?? "lancedb,pgvector").split(",")
const queryCount = Number(args.get("queries") ?? 200)
const runs = Number(args.get("runs") ?? 3)
const warmup = Number(args.get("warmup") ?? 20)
const batchSize = Number(args.get("batch") ?? 5000)
const maxLoadMs = Number(args.get("max-load-minutes") ?? 20) * 60_000
const seed = Number(args.get("seed") ?? 42)
const pgUrl = args.get("pg-url")
/** LanceDB's `annThreshold` (vectors above which it builds IVF_PQ). */
const annThreshold = Number(args.get("ann-threshold") ?? LanceChunkIndex.defaults.annThreshold)
const optionalNumber = (name: string) => (args.has(name) ? Number(args.get(name)) : undefined)
const lanceOptions = {
  annThreshold,
  nprobes: optionalNumber("nprobes"),
  refineFactor: optionalNumber("refine-factor"),
  annRetrainGrowth: optionalNumber("ann-retrain-growth") ?? LanceChunkIndex.defaults.annRetrainGrowth
}
/** A folder kept between runs: chunks a store already holds there are not loaded again. */
const keptData = args.get("data")
/** Load (and wait for the indexes), measure nothing: for `--data`, to query the kept stores later. */
const loadOnly = args.has("load-only")
if (loadOnly && keptData === undefined) throw new Error("--load-only needs --data DIR (the stores it loads are kept there)")
const pgOptions: StorePg.PgChunkIndex.Options = {
  efSearch: args.has("ef-search") ? Number(args.get("ef-search")) : undefined,
  indexBuildMemory: args.get("index-build-memory")
}

const D = 384
const CENTROIDS = 1000
const CHUNKS_PER_DOC = 10
const TOKENS_PER_CHUNK = 150
const VOCABULARY = 50_000
const ZIPF_S = 1
const MID_RANKS = [500, 5000] as const
const K = 10

const log = (line: string) => process.stderr.write(`${line}\n`)
const print = (line = "") => console.log(line)

// ---------------------------------------------------------------------------------------------
// Deterministic data

const mulberry32 = (s: number) => () => {
  s = (s + 0x6d2b79f5) | 0
  let t = Math.imul(s ^ (s >>> 15), 1 | s)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const gaussian = (rand: () => number) => {
  let spare: number | undefined
  return () => {
    if (spare !== undefined) {
      const s = spare
      spare = undefined
      return s
    }
    const u = 1 - rand()
    const v = rand()
    const r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
}

const normalise = (v: Float32Array) => {
  let n = 0
  for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!
  const f = 1 / Math.sqrt(n)
  for (let i = 0; i < v.length; i++) v[i] = v[i]! * f
}

const centroids = (() => {
  const g = gaussian(mulberry32(seed))
  const c = new Float32Array(CENTROIDS * D)
  for (let i = 0; i < CENTROIDS; i++) {
    const v = c.subarray(i * D, (i + 1) * D)
    for (let j = 0; j < D; j++) v[j] = g()
    normalise(v)
  }
  return c
})()

/** A centroid plus noise of norm ~1 (per component N(0, 1/D)), normalised. */
const around = (cluster: number, g: () => number, into: Float32Array) => {
  const sd = 1 / Math.sqrt(D)
  for (let j = 0; j < D; j++) into[j] = centroids[cluster * D + j]! + sd * g()
  normalise(into)
}

const zipfCdf = (() => {
  const cdf = new Float64Array(VOCABULARY)
  let sum = 0
  for (let r = 0; r < VOCABULARY; r++) cdf[r] = sum += 1 / (r + 1) ** ZIPF_S
  for (let r = 0; r < VOCABULARY; r++) cdf[r] = cdf[r]! / sum
  return cdf
})()
const zipfRank = (u: number) => {
  let lo = 0
  let hi = VOCABULARY - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (zipfCdf[mid]! < u) lo = mid + 1
    else hi = mid
  }
  return lo
}
const word = (rank: number) => `w${rank}`
/** Share of chunks holding the token of this rank (expected). */
const documentFrequency = (rank: number) => {
  const p = zipfCdf[rank]! - (rank === 0 ? 0 : zipfCdf[rank - 1]!)
  return 1 - (1 - p) ** TOKENS_PER_CHUNK
}

const hex = (prefix: string, i: number) => `${prefix}${i.toString(16).padStart(32 - prefix.length, "0")}`
const tenantId = hex("7e", 1) as TenantId
const kbId = hex("6b", 1) as KnowledgeBaseId
const chunkIdOf = (i: number) => hex("c", i) as ChunkId
const indexOfChunkId = (id: string) => parseInt(id.slice(1), 16)

/** All vectors generated so far, in chunk order (the exact scan reads them). */
let vectors = new Float32Array(0)
let generated = 0
const vectorRand = gaussian(mulberry32(seed + 1))
const clusterRand = mulberry32(seed + 2)
let docCluster = 0
const ensureVectors = (upTo: number) => {
  if (upTo <= generated) return
  if (vectors.length < upTo * D) {
    const grown = new Float32Array(Math.max(upTo, sizes[sizes.length - 1]!) * D)
    grown.set(vectors.subarray(0, generated * D))
    vectors = grown
  }
  for (let i = generated; i < upTo; i++) {
    if (i % CHUNKS_PER_DOC === 0) docCluster = Math.floor(clusterRand() * CENTROIDS)
    around(docCluster, vectorRand, vectors.subarray(i * D, (i + 1) * D))
  }
  generated = upTo
}

/** The chunks [from, to): tokens seeded by the batch, so every store gets the same ones. */
const chunksOf = (from: number, to: number): Array<Chunk> => {
  ensureVectors(to)
  const rand = mulberry32(seed * 1_000_003 + from)
  const chunks: Array<Chunk> = []
  let title = ""
  for (let i = from; i < to; i++) {
    const doc = Math.floor(i / CHUNKS_PER_DOC)
    if (i % CHUNKS_PER_DOC === 0 || title === "") {
      const titleRand = mulberry32(seed * 7 + doc)
      title = Array.from({ length: 4 }, () => word(zipfRank(titleRand()))).join(" ")
    }
    const tokens = new Array<string>(TOKENS_PER_CHUNK)
    for (let t = 0; t < TOKENS_PER_CHUNK; t++) tokens[t] = word(zipfRank(rand()))
    const text = tokens.join(" ")
    chunks.push(
      new Chunk({
        id: chunkIdOf(i),
        tenant_id: tenantId,
        kb_id: kbId,
        doc_id: hex("d", doc) as DocumentId,
        docnm_kwd: `doc-${doc}.txt`,
        content: text,
        content_ltks: text,
        content_sm_ltks: "",
        title_tks: title,
        important_keywords: [],
        questions: [],
        available: true,
        token_num: TOKENS_PER_CHUNK,
        page_num: [],
        positions: [],
        index: i % CHUNKS_PER_DOC,
        metadata: {},
        vector: Array.from(vectors.subarray(i * D, (i + 1) * D)),
        create_time: 1_700_000_000_000
      }, { disableValidation: true })
    )
  }
  return chunks
}

const queryRand = mulberry32(seed + 3)
const queryGauss = gaussian(mulberry32(seed + 4))
const makeVectorQuery = () => {
  const v = new Float32Array(D)
  around(Math.floor(queryRand() * CENTROIDS), queryGauss, v)
  return v
}
const makeTextQuery = () => {
  const n = 3 + Math.floor(queryRand() * 3)
  const [lo, hi] = MID_RANKS
  return Array.from({ length: n }, () => word(lo + Math.floor(queryRand() * (hi - lo)))).join(" ")
}
const vectorQueries = Array.from({ length: queryCount }, makeVectorQuery)
const textQueries = Array.from({ length: queryCount }, makeTextQuery)
const warmVectorQueries = Array.from({ length: warmup }, makeVectorQuery)
const warmTextQueries = Array.from({ length: warmup }, makeTextQuery)

// ---------------------------------------------------------------------------------------------
// Exact search and the floor

/** Exact top-K (by dot product: vectors are unit length) of each query over the first n vectors. */
const exactTopK = (n: number, queries: ReadonlyArray<Float32Array>) => {
  const vs = vectors
  const started = performance.now()
  const results = queries.map((q) => {
    const best = new Float64Array(K).fill(-Infinity)
    const ids = new Int32Array(K).fill(-1)
    for (let i = 0; i < n; i++) {
      const base = i * D
      let s0 = 0
      let s1 = 0
      let s2 = 0
      let s3 = 0
      for (let j = 0; j < D; j += 4) {
        s0 += q[j]! * vs[base + j]!
        s1 += q[j + 1]! * vs[base + j + 1]!
        s2 += q[j + 2]! * vs[base + j + 2]!
        s3 += q[j + 3]! * vs[base + j + 3]!
      }
      const s = s0 + s1 + s2 + s3
      if (s <= best[K - 1]!) continue
      let k = K - 1
      while (k > 0 && best[k - 1]! < s) {
        best[k] = best[k - 1]!
        ids[k] = ids[k - 1]!
        k--
      }
      best[k] = s
      ids[k] = i
    }
    return new Set(ids)
  })
  return { results, msPerQuery: (performance.now() - started) / queries.length }
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.max(0, Math.ceil(p * s.length) - 1)]!
}

/**
 * Memory read bandwidth, bytes per ms: `Buffer.compare` (native, vectorised memcmp) of two equal
 * 256 MiB buffers reads 512 MiB; median of 7 passes after one warm-up.
 */
const measureBandwidth = () => {
  const size = 256 * 2 ** 20
  const a = Buffer.alloc(size, 1)
  const b = Buffer.alloc(size, 1)
  const times: Array<number> = []
  for (let pass = 0; pass < 8; pass++) {
    const started = performance.now()
    if (Buffer.compare(a, b) !== 0) throw new Error("buffers differ")
    if (pass > 0) times.push(performance.now() - started)
  }
  return (2 * size) / median(times)
}

/** JS sum over a 1 GiB Float32Array (4 accumulators), bytes per ms: what plain JS code can stream. */
const measureJsSum = () => {
  const xs = new Float32Array(2 ** 28).fill(1)
  const times: Array<number> = []
  for (let pass = 0; pass < 4; pass++) {
    const started = performance.now()
    let s0 = 0
    let s1 = 0
    let s2 = 0
    let s3 = 0
    for (let i = 0; i < xs.length; i += 4) {
      s0 += xs[i]!
      s1 += xs[i + 1]!
      s2 += xs[i + 2]!
      s3 += xs[i + 3]!
    }
    if (s0 + s1 + s2 + s3 !== xs.length) throw new Error("bad sum")
    if (pass > 0) times.push(performance.now() - started)
  }
  return (4 * xs.length) / median(times)
}

// ---------------------------------------------------------------------------------------------
// Stores

interface Measurement {
  readonly store: string
  readonly size: number
  readonly loadS: number
  /** Wait after the load until the store's background maintenance had indexed every row. */
  readonly catchUpS: number
  readonly rate: number
  readonly vectorP50: number
  readonly vectorP95: number
  readonly recall: number
  readonly textP50: number
  readonly textP95: number
  readonly textHits: number
}
interface Skip {
  readonly store: string
  readonly size: number
  readonly reason: string
}
const measurements: Array<Measurement> = []
const skips: Array<Skip> = []
const exact = new Map<number, { results: ReadonlyArray<Set<number>>; msPerQuery: number }>()

const exactAt = (n: number) => {
  let e = exact.get(n)
  if (e === undefined) {
    log(`  exact scan of ${n} vectors for ${queryCount} queries...`)
    ensureVectors(n)
    e = exactTopK(n, vectorQueries)
    exact.set(n, e)
  }
  return e
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2))

/**
 * Waits until every index of the knowledge base's LanceDB table covers all rows (read-only: the
 * store's own maintenance does the work); returns the seconds waited. Gives up after 20 minutes.
 */
const lanceCatchUp = (uri: string, wrote: boolean) =>
  Effect.promise(async () => {
    // @lancedb/lancedb is a dependency of the store package, not of the bench: resolved from there.
    interface LanceTable {
      listIndices(): Promise<Array<{ name: string; columns: Array<string> }>>
      indexStats(name: string): Promise<{ numUnindexedRows: number } | undefined>
      countRows(filter?: string): Promise<number>
      schema(): Promise<{ fields: Array<{ name: string; metadata: Map<string, string> }> }>
      close(): void
    }
    const lancedb: {
      connect(
        uri: string,
        options: { readConsistencyInterval: number }
      ): Promise<{ openTable(name: string): Promise<LanceTable>; close(): void }>
    } = createRequire(import.meta.resolve("@ragkit/store-lancedb"))("@lancedb/lancedb")
    const started = performance.now()
    const db = await lancedb.connect(uri, { readConsistencyInterval: 0 })
    const table = await db.openTable(LanceChunkIndex.tableName(kbId))
    try {
      while (performance.now() - started < 20 * 60_000) {
        let unindexed = 0
        for (const index of await table.listIndices()) {
          unindexed += (await table.indexStats(index.name))?.numUnindexedRows ?? 0
        }
        const vectors = await table.countRows("has_vector")
        const ann = (await table.listIndices()).some((i) => i.columns.includes("vector"))
        // The vector count the index was trained on (the store records it): a retrain may be due.
        const vectorField = (await table.schema()).fields.find((f) => f.name === "vector")
        const trained = Number(vectorField?.metadata.get("ragkit.ann_trained_vectors") ?? annThreshold)
        // Only a process that wrote runs maintenance: a table opened and only read is measured as it is.
        const retrainDue = wrote && ann && vectors >= trained * lanceOptions.annRetrainGrowth
        if (unindexed === 0 && !retrainDue && (ann || vectors < Math.max(256, annThreshold))) break
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
    } finally {
      table.close()
      db.close()
    }
    return (performance.now() - started) / 1000
  })

const benchStore = (store: string, layer: Layer.Layer<ChunkIndex.ChunkIndex, unknown>, uri?: string) =>
  Effect.scoped(Effect.gen(function*() {
    const opened = performance.now()
    const index = Context.get(yield* Layer.build(layer), ChunkIndex.ChunkIndex)
    log(`${store}: opened in ${((performance.now() - opened) / 1000).toFixed(1)} s`)
    // With --data, the chunks loaded by an earlier run are there already (recorded in a marker file).
    const marker = keptData === undefined
      ? undefined
      : join(dataDir, store === "pgvector" && pgUrl !== undefined ? "pgvector-server.loaded" : `${store}.loaded`)
    let loaded = marker !== undefined && existsSync(marker) ? Number(readFileSync(marker, "utf8")) : 0
    const keptAtStart = loaded
    if (loaded > 0) log(`${store}: ${loaded} chunks kept from an earlier run (load times below exclude them)`)
    let loadMs = 0
    const batchRates: Array<number> = [] // rows per ms, per batch
    const recentRate = () => median(batchRates.slice(-5))
    const projection = (target: number) => loadMs + (target - loaded) / recentRate()
    const why = (target: number) =>
      `projected load ${(projection(target) / 60_000).toFixed(1)} min > ${maxLoadMs / 60_000} min ` +
      `(${(recentRate() * 1000).toFixed(0)} chunks/s, median of the last ${Math.min(5, batchRates.length)} batches ` +
      `of ${batchSize}; ${loaded} chunks loaded in ${(loadMs / 1000).toFixed(0)} s)`

    for (const [s, size] of sizes.entries()) {
      if (batchRates.length > 0 && projection(size) > maxLoadMs) {
        for (const later of sizes.slice(s)) skips.push({ store, size: later, reason: why(later) })
        log(`${store}: skip ${size}: ${why(size)}`)
        return
      }
      const stepStart = loaded
      const stepStartMs = loadMs
      while (loaded < size) {
        const to = Math.min(size, loaded + batchSize)
        const chunks = chunksOf(loaded, to)
        const started = performance.now()
        yield* index.upsert(chunks)
        const ms = performance.now() - started
        loadMs += ms
        batchRates.push((to - loaded) / ms)
        loaded = to
        if (marker !== undefined) writeFileSync(marker, String(loaded))
        if (loaded % (batchSize * 10) === 0 || loaded === size) {
          log(`  ${store}: ${loaded} chunks, ${(loadMs / 1000).toFixed(1)} s, last batch ${(ms / 1000).toFixed(2)} s`)
        }
        if (loaded < size && loaded - stepStart >= 3 * batchSize && projection(size) > maxLoadMs) {
          for (const later of sizes.slice(s)) skips.push({ store, size: later, reason: `stopped at ${loaded}: ${why(later)}` })
          log(`${store}: stop at ${loaded}: ${why(size)}`)
          return
        }
      }
      const catchUpS = uri === undefined ? 0 : yield* lanceCatchUp(uri, loaded > keptAtStart)
      if (uri !== undefined) log(`  ${store} @ ${size}: indexes caught up after ${catchUpS.toFixed(1)} s`)
      const stepRate = (loaded - stepStart) / (loadMs - stepStartMs)
      if (loadOnly) {
        log(`  ${store} @ ${size}: loaded in ${(loadMs / 1000).toFixed(1)} s (cumulative), --load-only: no queries`)
        continue
      }

      const vectorSearch = (q: Float32Array) => index.searchVector({ kbIds: [kbId], vector: Array.from(q), limit: K })
      const textSearch = (q: string) => index.searchText({ kbIds: [kbId], tokens: q, limit: K })
      log(`  ${store} @ ${size}: warm-up`)
      for (const q of warmVectorQueries) yield* vectorSearch(q)
      for (const q of warmTextQueries) yield* textSearch(q)
      const vp50: Array<number> = []
      const vp95: Array<number> = []
      const tp50: Array<number> = []
      const tp95: Array<number> = []
      let found: Array<ReadonlyArray<string>> = []
      let hits = 0
      for (let run = 0; run < runs; run++) {
        const vt: Array<number> = []
        const results: Array<ReadonlyArray<string>> = []
        for (const q of vectorQueries) {
          const started = performance.now()
          const r = yield* vectorSearch(q)
          vt.push(performance.now() - started)
          results.push(r.map((x) => x.chunk.id))
        }
        if (run === 0) found = results
        const tt: Array<number> = []
        hits = 0
        for (const q of textQueries) {
          const started = performance.now()
          const r = yield* textSearch(q)
          tt.push(performance.now() - started)
          hits += r.length
        }
        vp50.push(percentile(vt, 0.5))
        vp95.push(percentile(vt, 0.95))
        tp50.push(percentile(tt, 0.5))
        tp95.push(percentile(tt, 0.95))
        log(
          `  ${store} @ ${size} run ${run + 1}: vector p50 ${fmt(vp50.at(-1)!)} p95 ${fmt(vp95.at(-1)!)} ms, ` +
            `text p50 ${fmt(tp50.at(-1)!)} p95 ${fmt(tp95.at(-1)!)} ms`
        )
      }
      const truth = exactAt(size).results
      let correct = 0
      for (const [q, ids] of found.entries()) {
        for (const id of ids.slice(0, K)) if (truth[q]!.has(indexOfChunkId(id))) correct++
      }
      measurements.push({
        store,
        size,
        loadS: loadMs / 1000,
        catchUpS,
        rate: stepRate * 1000,
        vectorP50: median(vp50),
        vectorP95: median(vp95),
        recall: correct / (K * found.length),
        textP50: median(tp50),
        textP95: median(tp95),
        textHits: hits / textQueries.length
      })
    }
  }))

// ---------------------------------------------------------------------------------------------

/**
 * With `--pg-url` and `--data`: the database `ragkit_bench_kept` on that server, created when missing
 * and never dropped (its chunk count is in `pgvector-server.loaded` in the data folder).
 */
const keptDatabase = (url: string) =>
  Effect.gen(function*() {
    const exists = existsSync(join(dataDir, "pgvector-server.loaded"))
    if (!exists) {
      yield* admin(url, `DROP DATABASE IF EXISTS ragkit_bench_kept WITH (FORCE)`)
      yield* admin(url, `CREATE DATABASE ragkit_bench_kept`)
    }
    const dbUrl = new URL(url)
    dbUrl.pathname = "/ragkit_bench_kept"
    return dbUrl.toString()
  })

const dataDir = keptData ?? mkdtempSync(join(tmpdir(), "ragkit-search-"))
mkdirSync(dataDir, { recursive: true })
const load = loadavg()
const started = performance.now()
try {
  log("measuring memory bandwidth...")
  const bandwidth = measureBandwidth()
  const jsSum = measureJsSum()
  for (const store of storeNames) {
    const layer: Layer.Layer<ChunkIndex.ChunkIndex, unknown> = store === "lancedb"
      ? LanceChunkIndex.layer({ uri: join(dataDir, "lancedb"), keepVersionsFor: 60, ...lanceOptions })
      : store === "pgvector" && pgUrl !== undefined && keptData !== undefined
      ? Layer.unwrapEffect(Effect.map(keptDatabase(pgUrl), (url) =>
        StorePg.PgChunkIndex.layer(pgOptions).pipe(Layer.provide(StorePg.layer({ url, maxConnections: 2 })))))
      : store === "pgvector" && pgUrl !== undefined
      ? Layer.unwrapScoped(Effect.map(freshDatabase(pgUrl), (db) =>
        StorePg.PgChunkIndex.layer(pgOptions).pipe(Layer.provide(StorePg.layer({ url: db.url, maxConnections: 2 })))))
      : store === "pgvector"
      ? StorePglite.layerEmbeddedWithChunkIndex({ dataDir: join(dataDir, "pg"), chunkIndex: pgOptions })
      : Layer.die(`unknown store ${store} (lancedb, pgvector)`)
    await Effect.runPromise(benchStore(store, layer, store === "lancedb" ? join(dataDir, "lancedb") : undefined))
  }
  for (const size of sizes) if (measurements.some((m) => m.size === size)) exactAt(size)

  const cpu = cpus()[0]?.model ?? "unknown"
  const gb = (bytesPerMs: number) => (bytesPerMs / 1e6).toFixed(1)
  print(`\n## Search latency\n`)
  print(
    `Machine: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ` +
      `${process.platform} ${process.arch}. Load average at start: ${load.map((l) => l.toFixed(2)).join(", ")}; ` +
      `at end: ${loadavg().map((l) => l.toFixed(2)).join(", ")}.`
  )
  print(
    `Memory read bandwidth (one core): ${gb(bandwidth)} GB/s native (Buffer.compare of 2 x 256 MiB, median of 7), ` +
      `${gb(jsSum)} GB/s for a JS sum over a 1 GiB Float32Array. GB = 10^9 bytes.`
  )
  print(
    `Data: one knowledge base, documents of ${CHUNKS_PER_DOC} chunks; ${D}-d unit vectors around ${CENTROIDS} ` +
      `Gaussian centroids (one per document, noise of norm ~1); ${TOKENS_PER_CHUNK} content tokens per chunk ` +
      `(content = content_ltks) from a Zipf vocabulary of ${VOCABULARY} (s = ${ZIPF_S}), 4 title tokens per document; ` +
      `seed ${seed}; upserts of ${batchSize}.`
  )
  print(
    `Queries: ${queryCount} vector (top ${K}) and ${queryCount} text (3-5 tokens of Zipf ranks ${MID_RANKS[0]}-${MID_RANKS[1]}, ` +
      `each in ${(100 * documentFrequency(MID_RANKS[1])).toFixed(2)}-${(100 * documentFrequency(MID_RANKS[0])).toFixed(1)}% ` +
      `of chunks; limit ${K}) per run, after ${warmup} of each; ${runs} runs, medians of the per-run p50/p95. ` +
      `Store settings: defaults (LanceDB ANN IVF_PQ above ${annThreshold} vectors, ` +
      `retrained at ${lanceOptions.annRetrainGrowth}x the vectors it was trained on, ` +
      `nprobes ${lanceOptions.nprobes ?? "max(20, partitions / 10)"}, ` +
      `refine x${lanceOptions.refineFactor ?? "max(10, 10 * sqrt(rows / 100k))"}; ` +
      `pgvector HNSW above 1000 vectors, ef_search ${pgOptions.efSearch ?? "400 * sqrt(n / 1M) in [100, 1000]"}, on ${pgUrl === undefined ? "PGlite" : "the Postgres server of --pg-url"}).\n`
  )
  print("| chunks | vector bytes | floor ms (bytes / native bandwidth) | JS exact scan ms/query |")
  print("|---:|---:|---:|---:|")
  for (const size of sizes) {
    const bytes = size * D * 4
    const scan = exact.get(size)
    print(
      `| ${size} | ${(bytes / 2 ** 20).toFixed(0)} MiB | ${fmt(bytes / bandwidth)} | ${scan === undefined ? "" : fmt(scan.msPerQuery)} |`
    )
  }
  print()
  print(
    "| chunks | store | load s (cumulative) | chunks/s (this step) | catch-up s | vector p50 ms | vector p95 ms | recall@10 | text p50 ms | text p95 ms | text hits | floor ms |"
  )
  print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for (const size of sizes) {
    for (const store of storeNames) {
      const m = measurements.find((x) => x.size === size && x.store === store)
      const skip = skips.find((x) => x.size === size && x.store === store)
      const floor = fmt((size * D * 4) / bandwidth)
      if (m !== undefined) {
        print(
          `| ${size} | ${store} | ${m.loadS.toFixed(1)} | ${Number.isFinite(m.rate) ? m.rate.toFixed(0) : "-"} | ${m.catchUpS.toFixed(1)} | ${fmt(m.vectorP50)} | ${fmt(m.vectorP95)} | ` +
            `${m.recall.toFixed(3)} | ${fmt(m.textP50)} | ${fmt(m.textP95)} | ${m.textHits.toFixed(1)} | ${floor} |`
        )
      } else if (skip !== undefined) {
        print(`| ${size} | ${store} | skipped: ${skip.reason} |  |  |  |  |  |  |  |  | ${floor} |`)
      }
    }
  }
  print()
  const targets = [[100_000, 30], [1_000_000, 150]] as const
  for (const [size, target] of targets) {
    for (const store of storeNames) {
      const m = measurements.find((x) => x.size === size && x.store === store)
      if (m === undefined) {
        print(`- Target p95 < ${target} ms at ${size}, ${store}: not measured (skipped).`)
        continue
      }
      const verdict = (p95: number) => `${fmt(p95)} ms, ${p95 < target ? "met" : "NOT met"}`
      print(
        `- Target p95 < ${target} ms at ${size}, ${store}: vector ${verdict(m.vectorP95)}; text ${verdict(m.textP95)}.`
      )
    }
  }
  print(`\nWhole run: ${((performance.now() - started) / 60_000).toFixed(1)} min wall.`)
} finally {
  if (keptData === undefined) rmSync(dataDir, { recursive: true, force: true })
}
