/**
 * The HTTP server under load: seed API requests from concurrent clients (autocannon, loopback)
 * while uploads and their parsing run in the background.
 *
 *   npx tsx --conditions=development bench/http.ts [--docs 2000] [--clients 50] [--completions 200] [--lists 2000] [--runs 3]
 *                         [--upload-batch 5] [--log FILE] [--cpu-prof DIR]
 *
 * The server: `ragkit serve` as `pnpm start` runs it (`tsx packages/server/src/bin.ts serve`), a
 * child process on 127.0.0.1 with embedded defaults in a fresh data directory (PGlite, LanceDB,
 * file blobs, the ingestion worker in process on one parser thread, the built-in models:
 * `glove-100d@Builtin` embeddings and the `extractive@Builtin` answerer). Its GloVe model is built
 * once into `$TMPDIR/ragkit-bench-models` and linked into each data directory. `--log` keeps the
 * server's output; `--cpu-prof DIR` runs it as `node --cpu-prof --import tsx ...` (a `.cpuprofile`
 * in DIR when it stops). `--upload-batch 0`: no background uploads.
 *
 * Seeding, through the HTTP API: one user (register, `system/new_token`), one knowledge base, the
 * first `--docs` SciFact abstracts (`../shared/datasets/scifact/corpus.jsonl`, each `<_id>.txt` =
 * `title\n\ntext`) uploaded 100 files per request, run, and waited for (all `run` "3"); one dialog
 * over the knowledge base and one conversation per client.
 *
 * Each run, with a background loop uploading the next abstracts (`--upload-batch` files per
 * request, then `documents/run` on them, one request at a time, without pause), drives each
 * request kind in turn from `--clients` connections (autocannon, no pipelining), a fixed number of
 * requests each (`--completions`, `--lists`; every request sent is answered or counted as an error,
 * none is cut off by the end of a time window):
 * - `completion`: `POST conversations/completion` with `stream: false`, the SciFact claims in
 *   turn as questions (each client on its own conversation; retrieval over the knowledge base,
 *   hybrid, default dialog settings, then the extractive answer with citations);
 * - `documents/list`: `POST documents/list?kb_id=..&page=1&page_size=30`, body `{}`;
 * - `kbs/list`: `POST kbs/list?page=1&page_size=30`, body `{}`.
 * Before the runs, one request per connection of each kind (not measured). Latency is each
 * response's time as autocannon measures it (request written to response read); p50/p95 over a
 * run's responses; requests/s = responses / the kind's wall time. An error is a connection error,
 * a timeout (120 s), a status other than 200 or a body whose `code` is not 0; uploads count theirs
 * the same way. The table shows medians over `--runs`; errors are summed. Exits 1 on any error.
 */
import autocannon from "autocannon"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type Call, client, freePort, spawnServer } from "./internal/seedHttp.js"

const args = new Map<string, string>()
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "")
const docCount = Number(args.get("docs") ?? 2_000)
const clients = Number(args.get("clients") ?? 50)
const completions = Number(args.get("completions") ?? 4 * clients)
const lists = Number(args.get("lists") ?? 40 * clients)
const runs = Number(args.get("runs") ?? 3)
const uploadBatch = Number(args.get("upload-batch") ?? 5)
const serverLogFile = args.get("log")
const cpuProfDir = args.get("cpu-prof")

const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`)
const print = (line = "") => console.log(line)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const repo = fileURLToPath(new URL("../", import.meta.url))
const dataset = join(repo, "../shared/datasets/scifact/")
const readJsonl = <A>(file: string): Array<A> =>
  readFileSync(join(dataset, file), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as A)
const abstracts = readJsonl<{ _id: string; title: string; text: string }>("corpus.jsonl").map((d) => ({
  name: `${d._id}.txt`,
  text: `${d.title}\n\n${d.text}`
}))
const questions = readJsonl<{ text: string }>("queries.jsonl").map((q) => q.text)
if (docCount > abstracts.length) throw new Error(`--docs at most ${abstracts.length}`)

// ---------------------------------------------------------------------------------------------
// The server

const startServer = async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "ragkit-bench-http-"))
  const models = join(tmpdir(), "ragkit-bench-models")
  mkdirSync(models, { recursive: true })
  symlinkSync(models, join(dataDir, "models"))
  const port = await freePort()
  const command = cpuProfDir === undefined
    ? [join(repo, "node_modules/.bin/tsx"), "--conditions=development"]
    : [process.execPath, "--conditions=development", "--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`, "--import", "tsx"]
  const { child, output, url, listeningS } = await spawnServer({
    command: [...command, "packages/server/src/bin.ts", "serve"],
    cwd: repo,
    dataDir,
    port,
    pollMs: 200
  })
  log(`server up on ${url} in ${listeningS.toFixed(1)} s (data in ${dataDir})`)
  const stop = async () => {
    const exited = new Promise((r) => child.once("exit", r))
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, "SIGTERM")
    await exited
    if (serverLogFile !== undefined) writeFileSync(serverLogFile, output.join(""))
    rmSync(dataDir, { recursive: true, force: true })
  }
  return { url, stop }
}

// ---------------------------------------------------------------------------------------------
// A client of the seed API

const formOf = (kbId: string, files: ReadonlyArray<{ name: string; text: string }>) => {
  const form = new FormData()
  form.append("kb_id", kbId)
  for (const f of files) form.append("file", new Blob([f.text], { type: "text/plain" }), f.name)
  return form
}

/** Uploads and runs `files`, 100 per request; the document ids. */
const ingest = async (call: Call, kbId: string, files: ReadonlyArray<{ name: string; text: string }>, perRequest: number) => {
  const ids: Array<string> = []
  for (let i = 0; i < files.length; i += perRequest) {
    const docs: Array<{ id: string }> = await call("documents/upload", undefined, formOf(kbId, files.slice(i, i + perRequest)))
    ids.push(...docs.map((d) => d.id))
    await call("documents/run", { doc_ids: docs.map((d) => d.id), run: "1" })
  }
  return ids
}

const countByRun = async (call: Call, kbId: string, codes: ReadonlyArray<string>): Promise<number> =>
  (await call(`documents/list?kb_id=${kbId}&page=1&page_size=1`, { run_status: codes })).total

// ---------------------------------------------------------------------------------------------
// Measuring

interface Measured {
  readonly kind: string
  readonly p50: number
  readonly p95: number
  readonly rps: number
  readonly responses: number
  readonly errors: number
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

interface Kind {
  readonly name: string
  readonly path: string
  readonly body: (i: number, connectionBody: number) => unknown
  readonly requests: number
}

/** `amount` requests of a kind from `clients` connections: every response's time, errors. */
const drive = async (base: string, token: string, kind: Kind, amount: number): Promise<Measured> => {
  const times: Array<number> = []
  let bodyErrors = 0
  let counter = 0
  let non200 = 0
  const options: autocannon.Options = {
    url: base,
    connections: clients,
    amount,
    timeout: 120,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    requests: [
      {
        method: "POST",
        path: `/api/v1/${kind.path}`,
        setupRequest: (request) => {
          const i = counter++
          return { ...request, body: JSON.stringify(kind.body(i, i % clients)) }
        },
        onResponse: (status, body) => {
          if (status !== 200) return
          try {
            if (JSON.parse(body).code !== 0) bodyErrors++
          } catch {
            bodyErrors++
          }
        }
      }
    ]
  }
  const started = performance.now()
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)))
    instance.on("response", (_client, status, _bytes, responseTime) => {
      times.push(responseTime)
      if (status !== 200) non200++
    })
  })
  const seconds = (performance.now() - started) / 1000
  times.sort((a, b) => a - b)
  return {
    kind: kind.name,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    rps: times.length / seconds,
    responses: times.length,
    errors: result.errors + non200 + bodyErrors + Math.max(0, amount - times.length - result.errors)
  }
}

/** Uploads the abstracts after the seeded ones (from the `from`-th of them, round and round) until stopped. */
const uploadLoop = (call: Call, kbId: string, from: number) => {
  const state = { running: true, files: 0, errors: 0, next: from }
  const rest = abstracts.slice(docCount)
  const done = (async () => {
    while (state.running && uploadBatch > 0) {
      const batch = Array.from({ length: uploadBatch }, (_, k) => rest[(state.next + k) % rest.length]!)
      state.next += uploadBatch
      try {
        await ingest(call, kbId, batch, uploadBatch)
        state.files += batch.length
      } catch (error) {
        state.errors++
        log(`upload failed: ${String(error).slice(0, 300)}`)
      }
    }
  })()
  return {
    state,
    stop: async () => {
      state.running = false
      await done
    }
  }
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

// ---------------------------------------------------------------------------------------------
// The run

const machine = `${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${cpus().length} cores (os.cpus), ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory, Node ${process.version}, ${process.platform} ${process.arch}`
const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(", ")

const server = await startServer()
let failed = false
try {
  const anonymous = client(server.url)
  const user = await anonymous("user/register", { email: "bench@example.com", nickname: "bench", password: "bench-password" })
  const { token } = await client(server.url, user.access_token)("system/new_token")
  const call = client(server.url, token)
  const { kb_id: kbId } = await call("kbs/create", { name: "SciFact" })

  const seedStart = performance.now()
  await ingest(call, kbId, abstracts.slice(0, docCount), 100)
  while ((await countByRun(call, kbId, ["0", "1"])) > 0) await sleep(1_000)
  const failedDocs = await countByRun(call, kbId, ["4", "2"])
  if (failedDocs > 0) throw new Error(`${failedDocs} seeded documents failed or were canceled`)
  const kb = await (async () => {
    const response = await fetch(`${server.url}/api/v1/kbs/detail?kb_id=${kbId}`, { headers: { authorization: `Bearer ${token}` } })
    return ((await response.json()) as { data: { doc_num?: number; chunk_num?: number; document_count?: number; chunk_count?: number } }).data
  })()
  const seeded = { docs: kb.doc_num ?? kb.document_count, chunks: kb.chunk_num ?? kb.chunk_count }
  const textMb = abstracts.slice(0, docCount).reduce((n, d) => n + Buffer.byteLength(d.text), 0) / 1e6
  log(`seeded ${seeded.docs} documents, ${seeded.chunks} chunks (${textMb.toFixed(1)} MB of text) in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`)

  const dialog = await call("dialogs/set", { name: "SciFact", kb_ids: [kbId] })
  const conversations: Array<string> = []
  for (let i = 0; i < clients; i++) conversations.push((await call("conversations/set", { dialog_id: dialog.id, is_new: true, name: `client ${i}` })).id)

  const kinds: ReadonlyArray<Kind> = [
    {
      name: "conversations/completion (stream false)",
      path: "conversations/completion",
      body: (i, c) => ({ conversation_id: conversations[c], stream: false, messages: [{ role: "user", content: questions[i % questions.length] }] }),
      requests: completions
    },
    { name: "documents/list (page_size 30)", path: `documents/list?kb_id=${kbId}&page=1&page_size=30`, body: () => ({}), requests: lists },
    { name: "kbs/list (page_size 30)", path: "kbs/list?page=1&page_size=30", body: () => ({}), requests: lists }
  ]

  for (const kind of kinds) await drive(server.url, token, kind, clients)

  const results: Array<Array<Measured>> = []
  const uploads: Array<{ files: number; seconds: number; errors: number }> = []
  let next = 0
  for (let run = 1; run <= runs; run++) {
    const loop = uploadLoop(call, kbId, next)
    const started = performance.now()
    const measured: Array<Measured> = []
    for (const kind of kinds) {
      measured.push(await drive(server.url, token, kind, kind.requests))
      log(`run ${run} ${kind.name}: p50 ${measured.at(-1)!.p50.toFixed(1)} ms, p95 ${measured.at(-1)!.p95.toFixed(1)} ms, ${measured.at(-1)!.rps.toFixed(1)} req/s, ${measured.at(-1)!.errors} errors`)
    }
    await loop.stop()
    next = loop.state.next
    uploads.push({ files: loop.state.files, seconds: (performance.now() - started) / 1000, errors: loop.state.errors })
    results.push(measured)
  }
  const [docsAfter] = [(await call(`documents/list?kb_id=${kbId}&page=1&page_size=1`)).total]

  print(`Machine: ${machine}. Load average at start: ${loadAtStart}.`)
  print()
  print(`Server: \`ragkit serve\` (child process, 127.0.0.1, embedded defaults, glove-100d@Builtin, extractive@Builtin). ` +
    `Data at start: ${seeded.docs} SciFact abstracts, ${seeded.chunks} chunks, ${textMb.toFixed(1)} MB of text; ${docsAfter} documents at the end. ` +
    `${clients} connections; per run ${completions} completions, ${lists} of each list; ${runs} runs (medians); one request per connection and kind first, not measured.`)
  print()
  print("| request | p50 ms | p95 ms | requests/s | responses (median) | errors (all runs) |")
  print("|---|---:|---:|---:|---:|---:|")
  kinds.forEach((kind, k) => {
    const per = results.map((r) => r[k]!)
    print(
      `| ${kind.name} | ${median(per.map((m) => m.p50)).toFixed(1)} | ${median(per.map((m) => m.p95)).toFixed(1)} | ${
        median(per.map((m) => m.rps)).toFixed(1)
      } | ${median(per.map((m) => m.responses))} | ${per.reduce((n, m) => n + m.errors, 0)} |`
    )
  })
  const uploadRate = median(uploads.map((u) => u.files / u.seconds))
  const uploadErrors = uploads.reduce((n, u) => n + u.errors, 0)
  print(`| background: upload ${uploadBatch} files + documents/run, one request at a time | | | ${uploadRate.toFixed(1)} files/s | ${median(uploads.map((u) => u.files))} files | ${uploadErrors} |`)
  const errors = results.flat().reduce((n, m) => n + m.errors, 0) + uploadErrors
  if (errors > 0) {
    failed = true
    log(`${errors} errors`)
  }
} catch (error) {
  failed = true
  log(String(error instanceof Error ? error.stack : error))
} finally {
  await server.stop()
}
process.exit(failed ? 1 : 0)
