/**
 * What the pgvector chunk index's text-search tail costs a text search: a knowledge base with
 * `--indexed` rows in its postings and N rows in its tail (written with a `tailRows` no write
 * reaches), on a fresh database of the Postgres at `--pg-url` (or RAGKIT_TEST_PG_URL). Text searches
 * of 6 frequent tokens, limit 10, are timed (after 5 untimed ones) with the tail, then again once the tail is indexed (a
 * second layer on the same database indexes it when idle). Chunks hold `--tokens` tokens each: words
 * of a 3,000-word vocabulary (skewed towards the first ones) and 15% random 4-character tokens, as
 * in the ingest bench's mixed corpus.
 *
 *   npx tsx --conditions=development bench/pgTextTail.ts [--tails 0,500,1000,5000] [--indexed 20000]
 *                                                        [--tokens 200] [--queries 30] [--pg-url postgres://...]
 *
 * Prints a table: per tail size, the median and p95 latency of the searches with the tail and with
 * the same rows indexed.
 */
import { Chunk, ChunkId, ChunkIndex, DocumentId, KnowledgeBaseId, randomHex32, TenantId } from "@ragkit/core"
import * as StorePg from "@ragkit/store-pg"
import { freshDatabase, select } from "@ragkit/store-pg/testing"
import { Context, Effect, Layer } from "effect"
import { cpus, loadavg } from "node:os"

const args = new Map<string, string>()
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "")
const url = args.get("pg-url") ?? process.env["RAGKIT_TEST_PG_URL"] ?? ""
const tails = (args.get("tails") ?? "0,500,1000,5000").split(",").map(Number)
const indexedRows = Number(args.get("indexed") ?? 20_000)
const tokensPerChunk = Number(args.get("tokens") ?? 200)
const queries = Number(args.get("queries") ?? 30)
if (url === "") throw new Error("needs a Postgres server with pgvector: --pg-url postgres://... or RAGKIT_TEST_PG_URL")

let seed = 7
const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
const words = Array.from({ length: 3000 }, (_, i) => `w${i.toString(36)}`)
const text = () =>
  Array.from({ length: tokensPerChunk }, () =>
    random() < 0.15
      ? Math.floor(random() * 1_679_616).toString(36).padStart(4, "0")
      : words[Math.floor(random() ** 2 * words.length)]).join(" ")

const tenant = TenantId.make(randomHex32())
const chunk = (kbId: KnowledgeBaseId, docId: DocumentId, i: number) => {
  const content = text()
  return new Chunk({
    id: ChunkId.make(randomHex32()),
    tenant_id: tenant,
    kb_id: kbId,
    doc_id: docId,
    docnm_kwd: "bench.txt",
    content,
    content_ltks: content,
    content_sm_ltks: "",
    title_tks: "",
    important_keywords: [],
    questions: [],
    available: true,
    token_num: tokensPerChunk,
    page_num: [],
    positions: [],
    index: i,
    metadata: {},
    create_time: 1_700_000_000_000
  })
}

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

const measure = (tail: number) =>
  Effect.gen(function*() {
    const db = yield* freshDatabase(url)
    const open = (options: StorePg.PgChunkIndex.Options) =>
      Effect.map(
        Layer.build(StorePg.PgChunkIndex.layer(options).pipe(Layer.provide(StorePg.layer({ url: db.url, maxConnections: 4 })))),
        (context) => Context.get(context, ChunkIndex.ChunkIndex)
      )
    const kb = KnowledgeBaseId.make(randomHex32())
    const doc = DocumentId.make(randomHex32())
    const indexing = yield* open({ tailRows: 0 })
    for (let i = 0; i < indexedRows; i += 1000) {
      yield* indexing.upsert(Array.from({ length: Math.min(1000, indexedRows - i) }, (_, j) => chunk(kb, doc, i + j)))
    }
    const keeping = yield* open({ tailRows: Number.MAX_SAFE_INTEGER, tailIdleMillis: 3_600_000 })
    for (let i = 0; i < tail; i += 1000) {
      yield* keeping.upsert(Array.from({ length: Math.min(1000, tail - i) }, (_, j) => chunk(kb, doc, indexedRows + i + j)))
    }
    const tailOf = Effect.map(
      select(db.url, `SELECT next_ord - indexed_ord AS tail FROM chunk_ords WHERE kb_id = '${kb}'`),
      (rows) => Number((rows[0] as { tail?: number } | undefined)?.tail ?? 0)
    )
    const time = Effect.gen(function*() {
      const ms: Array<number> = []
      // 5 untimed searches first: the first ones after a load read cold pages.
      for (let q = -5; q < queries; q++) {
        const tokens = Array.from({ length: 6 }, () => words[Math.floor(random() * 300)]).join(" ")
        const start = performance.now()
        yield* keeping.searchText({ kbIds: [kb], tokens, limit: 10 })
        if (q >= 0) ms.push(performance.now() - start)
      }
      return ms.sort((a, b) => a - b)
    })
    const withTail = yield* time
    const inTail = yield* tailOf
    // A layer that indexes tails once idle finds this one when built.
    yield* open({ tailIdleMillis: 10 })
    while ((yield* tailOf) > 0) yield* Effect.sleep(50)
    const indexed = yield* time
    return { tail: inTail, withTail, indexed }
  }).pipe(Effect.scoped)

const main = Effect.gen(function*() {
  const rows: Array<string> = []
  for (const tail of tails) {
    const r = yield* measure(tail)
    rows.push(
      `| ${r.tail} | ${percentile(r.withTail, 0.5).toFixed(1)} | ${percentile(r.withTail, 0.95).toFixed(1)} | ` +
        `${percentile(r.indexed, 0.5).toFixed(1)} | ${percentile(r.indexed, 0.95).toFixed(1)} |`
    )
  }
  console.log(
    `pgvector text search with a text-search tail: ${indexedRows} rows indexed + the tail, ${tokensPerChunk} tokens a row, ` +
      `${queries} searches of 6 tokens (limit 10) each. Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), ` +
      `Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(", ")} at the end.`
  )
  console.log()
  console.log(`| rows in the tail | with the tail: median ms | p95 ms | the same rows indexed: median ms | p95 ms |`)
  console.log(`|---:|---:|---:|---:|---:|`)
  for (const row of rows) console.log(row)
})

Effect.runPromise(main).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
