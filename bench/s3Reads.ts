/**
 * What reading small documents from S3 costs on this machine: the SciFact abstracts (as the ingest
 * bench uploads them, `<_id>.txt` = "title\n\ntext") stored in an s3rver bucket (the server the
 * ingest bench and the tests use, `@ragkit/fixtures/s3`, a child process on the same cores), then
 * read back through `S3BlobStore.get` (the plugin a worker reads them with, over
 * `@aws-sdk/client-s3`) with `--concurrency` reads in flight. The objects are written into the
 * server's folder directly, as its file store lays them out, not through the API.
 *
 *   npx tsx --conditions=development bench/s3Reads.ts [--runs 3] [--concurrency 16] [--limit N]
 *
 * Prints, per run and as medians, the wall time and the CPU time of this process (the client) and
 * of the S3 server, and what that leaves of the CPU time that ingesting SciFact at 2 MB/s of text
 * on this machine's cores allows: the floor of any worker that reads its documents from that server.
 */
import { BlobStore } from "@ragkit/core"
import { startS3Server } from "@ragkit/fixtures/s3"
import { S3BlobStore } from "@ragkit/store-s3"
import { Effect, Redacted } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { cpus, loadavg } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const args = new Map<string, string>()
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "")
const runs = Math.max(1, Number(args.get("runs") ?? 3))
const concurrency = Math.max(1, Number(args.get("concurrency") ?? 16))
const limit = Number(args.get("limit") ?? 0)
const here = path.dirname(fileURLToPath(import.meta.url))
const corpus = args.get("scifact") ?? path.resolve(here, "../../shared/datasets/scifact/corpus.jsonl")

const CLK_TCK = 100
/** CPU seconds (user + system) of a process, from /proc. */
const cpuOf = (pid: number) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ")
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}
/** The s3rver child process this process started. */
const serverPid = () => {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8").replace(/^.*\) /, "").split(" ")
      if (Number(stat[1]) !== process.pid) continue
      if (fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("s3-server-process")) return Number(entry)
    } catch {
      // gone meanwhile
    }
  }
  throw new Error("the s3rver child process was not found")
}
const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const lines = fs.readFileSync(corpus, "utf8").split("\n").filter((l) => l.trim() !== "")
const docs = (limit > 0 ? lines.slice(0, limit) : lines).map((line) => {
  const d = JSON.parse(line) as { _id: string; title: string; text: string }
  return { key: `bench/${d._id}.txt`, bytes: new TextEncoder().encode(`${d.title}\n\n${d.text}`) }
})
const totalBytes = docs.reduce((n, d) => n + d.bytes.length, 0)

const server = await startS3Server({ bucket: "ragkit-bench" })
try {
  for (const doc of docs) {
    const file = path.join(server.dir, server.bucket, `${doc.key}._S3rver_object`)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, doc.bytes)
    fs.writeFileSync(`${file}.md5`, createHash("md5").update(doc.bytes).digest("hex"))
  }
  const pid = serverPid()
  const results: Array<{ wall: number; client: number; server: number }> = []
  const program = Effect.gen(function*() {
    const blobs = yield* BlobStore.BlobStore
    // One read first: the client's connection and the server's code warm.
    yield* blobs.get(docs[0]!.key)
    for (let run = 1; run <= runs; run++) {
      const server0 = cpuOf(pid)
      const client0 = process.cpuUsage()
      const started = performance.now()
      let read = 0
      yield* Effect.forEach(docs, (doc) => Effect.map(blobs.get(doc.key), (bytes) => void (read += bytes.length)), {
        concurrency,
        discard: true
      })
      const wall = (performance.now() - started) / 1000
      const client = process.cpuUsage(client0)
      if (read !== totalBytes) throw new Error(`read ${read} bytes, stored ${totalBytes}`)
      results.push({ wall, client: (client.user + client.system) / 1e6, server: cpuOf(pid) - server0 })
    }
  })
  await Effect.runPromise(Effect.scoped(Effect.provide(
    program,
    S3BlobStore.layer({
      bucket: server.bucket,
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: Redacted.make(server.secretAccessKey) }
    })
  )))

  const out = (line = "") => process.stdout.write(`${line}\n`)
  const mb = totalBytes / 1e6
  out(`### S3 reads: ${docs.length} SciFact abstracts (${mb.toFixed(2)} MB) from s3rver on this machine, ${concurrency} in flight`)
  out()
  out(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(", ")} at the end.`)
  out()
  out("| run | wall s | client CPU s | server CPU s | CPU ms per object (client + server) |")
  out("|---|---:|---:|---:|---:|")
  results.forEach((r, i) =>
    out(`| ${i + 1} | ${r.wall.toFixed(2)} | ${r.client.toFixed(2)} | ${r.server.toFixed(2)} | ${((1000 * (r.client + r.server)) / docs.length).toFixed(3)} |`)
  )
  const client = median(results.map((r) => r.client))
  const serverCpu = median(results.map((r) => r.server))
  out(`| median | ${median(results.map((r) => r.wall)).toFixed(2)} | ${client.toFixed(2)} | ${serverCpu.toFixed(2)} | ${((1000 * (client + serverCpu)) / docs.length).toFixed(3)} |`)
  out()
  const budget = (cpus().length * mb) / 2
  out(
    `At 2 MB/s of text these ${mb.toFixed(2)} MB take ${(mb / 2).toFixed(2)} s: ${budget.toFixed(2)} CPU s on ${cpus().length} cores for everything. ` +
      `Reading the documents alone takes ${(client + serverCpu).toFixed(2)} CPU s of it (median), ${((100 * (client + serverCpu)) / budget).toFixed(0)}%.`
  )
} finally {
  await server.close()
}
