/**
 * The server on a real Postgres (`RAGKIT_DATABASE_URL`) without an ingestion worker of its own
 * (`RAGKIT_WORKERS=0`), and a separate `ragkit worker` process on the same database and data
 * directory: a PDF uploaded and run through the HTTP API waits until the worker comes, then the
 * worker parses it, and `system/status` shows that worker, the only one, as the one that did.
 * Needs a real Postgres (`RAGKIT_TEST_PG_URL`); a fresh database is made and dropped.
 */
import { freshDatabase } from "@ragkit/store-pg/testing"
import { Effect, Exit, Scope } from "effect"
import { readFile, rm } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort, freshDataDir, type RagkitProcess, seedCall, repoRoot, startRagkit, waitUntilServing } from "./support/ragkitProcess.js"

const adminUrl = process.env["RAGKIT_TEST_PG_URL"]

describe.skipIf(adminUrl === undefined)("ragkit serve and a separate ragkit worker on one Postgres", () => {
  const scope = Effect.runSync(Scope.make())
  const processes: Array<RagkitProcess> = []
  let env: Record<string, string>
  let dataDir: string
  let api: string

  /** A seed API call with JSON (or a form); the envelope's `data`, after checking `code` 0. */
  const call = (path: string, options?: Parameters<typeof seedCall>[2]) => seedCall(api, path, options)

  beforeAll(async () => {
    const db = await Effect.runPromise(Scope.extend(freshDatabase(adminUrl!), scope))
    dataDir = await freshDataDir("ragkit-pg-worker-")
    const port = await freePort()
    api = `http://127.0.0.1:${port}/api/v1`
    env = { RAGKIT_DATABASE_URL: db.url, RAGKIT_DATA_DIR: dataDir, RAGKIT_OCR: "false" }
    const server = startRagkit(["serve"], { ...env, RAGKIT_PORT: String(port), RAGKIT_WORKERS: "0" })
    processes.push(server)
    await waitUntilServing(server, `${api}/system/ping`, 170_000)
  }, 180_000)

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()))
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await rm(dataDir, { recursive: true, force: true })
  }, 60_000)

  it("a document uploaded to the server is parsed by the worker process, not the server", async () => {
    const user = await call("/user/register", { json: { email: "pg@example.com", nickname: "pg", password: "password1" } })
    const { token } = await call("/system/new_token", { token: user.access_token })
    const { kb_id } = await call("/kbs/create", { token, json: { name: "Manuals" } })
    const form = new FormData()
    form.append("kb_id", kb_id)
    const pdf = await readFile(join(repoRoot, "docs/walkthrough/aurora-manual.pdf"))
    form.append("file", new Blob([pdf], { type: "application/pdf" }), "aurora-manual.pdf")
    const [uploaded] = await call("/documents/upload", { token, form })
    expect(await call("/documents/run", { token, json: { doc_ids: [uploaded.id], run: "1" } })).toBe(true)

    const document = async () => (await call(`/documents/list?kb_id=${kb_id}`, { token, json: {} })).docs[0]
    const status = () => call("/system/status", { token, get: true })

    // The server has no worker: the task waits in the queue.
    await new Promise((r) => setTimeout(r, 1_500))
    expect((await document()).run).toBe("1")
    const waiting = await status()
    expect(waiting.task_executor_heartbeats).toEqual({})
    expect(waiting.database.database).toBe("postgres")
    expect(waiting.task_queue.queued).toBe(1)

    const worker = startRagkit(["worker"], { ...env, RAGKIT_WORKERS: "1" })
    processes.push(worker)
    const deadline = Date.now() + 150_000
    let doc = await document()
    while (doc.run === "1") {
      if (Date.now() > deadline) throw new Error(`not parsed in time: ${JSON.stringify(doc)}\nworker:\n${worker.log()}`)
      if (worker.child.exitCode !== null) throw new Error(`the worker exited:\n${worker.log()}`)
      await new Promise((r) => setTimeout(r, 250))
      doc = await document()
    }
    expect([doc.run, doc.progress_msg], worker.log()).toEqual(["3", expect.any(String)])
    expect(doc.chunk_num).toBeGreaterThan(0)

    // The only worker in the registry is the one that took the task; its count shows at its next
    // status report (every 5 s).
    const reported = async () => {
      for (const end = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 500))) {
        const heartbeats = (await status()).task_executor_heartbeats
        if (Object.values(heartbeats).some((h: any) => h[0].processed > 0) || Date.now() > end) return heartbeats
      }
    }
    const heartbeats = await reported()
    const workers = Object.keys(heartbeats)
    expect(workers).toHaveLength(1)
    const [id] = workers
    expect(doc.progress_msg).toContain(`received by ${id}`)
    expect(heartbeats[id!][0]).toMatchObject({ processed: 1, alive: true })
  }, 200_000)
})
