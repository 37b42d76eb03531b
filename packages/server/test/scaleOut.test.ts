/**
 * Scaled out as a deployment runs it: `ragkit serve` without a worker of its own, and two `ragkit
 * worker` processes, each with a data directory of its own (nothing shared on disk), on one
 * Postgres holding the records, the task queue and the chunk index (pgvector), with the uploaded
 * files on an S3-compatible server (s3rver). One worker is killed with SIGKILL while both are in
 * the middle of a document; the other takes its document over once the lease runs out, and every
 * document ends DONE once, with the exact chunk count in its record and in the shared index.
 * Needs a real Postgres with pgvector (`RAGKIT_TEST_PG_URL`; `.ci/run` builds pgvector).
 */
import { startS3Server } from "@ragkit/fixtures/s3"
import { freshDatabase, hasPgvector } from "@ragkit/store-pg/testing"
import { Effect, Exit, Scope } from "effect"
import { readdir, rm } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort, freshDataDir, type RagkitProcess, seedCall, startRagkit, waitUntilServing } from "./support/ragkitProcess.js"

const adminUrl = process.env["RAGKIT_TEST_PG_URL"]

// CI builds pgvector and says so with `RAGKIT_TEST_PGVECTOR=1`: then this must run, not skip.
const runnable = adminUrl !== undefined && (process.env["RAGKIT_TEST_PGVECTOR"] === "1" || (await Effect.runPromise(hasPgvector(adminUrl))))

/** Every file of a directory tree, relative. */
const filesUnder = async (dir: string): Promise<Array<string>> =>
  (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1))

describe.skipIf(!runnable)("the server and two workers on one Postgres, blobs on S3, the index in pgvector", () => {
  const scope = Effect.runSync(Scope.make())
  const processes: Array<RagkitProcess> = []
  const dataDirs: Array<string> = []
  let s3: Awaited<ReturnType<typeof startS3Server>>
  let env: Record<string, string>
  let api: string
  let server: RagkitProcess

  const call = (path: string, options?: Parameters<typeof seedCall>[2]) => seedCall(api, path, options)

  /** A REST GET (RAGFlow's convention: HTTP 200, `code` 0); its `data`. */
  const rest = async (path: string, token: string) => {
    const response = await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${token}` } })
    const body = (await response.json()) as { code: number; data: any }
    expect([response.status, body.code], `${path}: ${JSON.stringify(body)}`).toEqual([200, 0])
    return body.data
  }

  const startWorker = async () => {
    const dataDir = await freshDataDir("ragkit-scale-worker-")
    dataDirs.push(dataDir)
    const worker = startRagkit(["worker"], { ...env, RAGKIT_DATA_DIR: dataDir, RAGKIT_WORKERS: "1" })
    processes.push(worker)
    return worker
  }

  beforeAll(async () => {
    const db = await Effect.runPromise(Scope.extend(freshDatabase(adminUrl!), scope))
    s3 = await startS3Server({ bucket: "ragkit-scale-out" })
    env = {
      RAGKIT_DATABASE_URL: db.url,
      RAGKIT_CHUNK_INDEX: "pgvector",
      RAGKIT_BLOB_STORE: "s3",
      RAGKIT_S3_BUCKET: s3.bucket,
      RAGKIT_S3_ENDPOINT: s3.endpoint,
      RAGKIT_S3_REGION: s3.region,
      RAGKIT_S3_FORCE_PATH_STYLE: "true",
      RAGKIT_S3_ACCESS_KEY_ID: s3.accessKeyId,
      RAGKIT_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      RAGKIT_OCR: "false",
      RAGKIT_TEST_MODELS: "true",
      RAGKIT_LEASE_MS: "2000"
    }
    const dataDir = await freshDataDir("ragkit-scale-server-")
    dataDirs.push(dataDir)
    const port = await freePort()
    api = `http://127.0.0.1:${port}/api/v1`
    server = startRagkit(["serve"], { ...env, RAGKIT_DATA_DIR: dataDir, RAGKIT_PORT: String(port), RAGKIT_WORKERS: "0" })
    processes.push(server)
    await waitUntilServing(server, `${api}/system/ping`, 170_000)
  }, 180_000)

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop("SIGKILL")))
    await s3?.close()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })))
  }, 60_000)

  it("a worker killed mid-document: every document ends DONE once with its exact chunk count", async () => {
    const user = await call("/user/register", { json: { email: "scale@example.com", nickname: "scale", password: "password1" } })
    const { token } = await call("/system/new_token", { token: user.access_token })
    // 160 paragraphs a document, each one chunk (chunk_token_num 8); 25 ms per embedded text, so a
    // document spends about 4 s in embedding, in batches of 32.
    const { kb_id } = await call("/kbs/create", {
      token,
      json: { name: "Scale", embedding_model_id: "slowhash-16-25@Test", parser_config: { chunk_token_num: 8 } }
    })
    const names = Array.from({ length: 5 }, (_, i) => `doc-${i}.txt`)
    const form = new FormData()
    form.append("kb_id", kb_id)
    for (const [i, name] of names.entries()) {
      const text = Array.from({ length: 160 }, (_, j) => `Document ${i} paragraph ${j} is about topic ${i * 100 + j}.`).join("\n\n")
      form.append("file", new Blob([text], { type: "text/plain" }), name)
    }
    const uploaded: Array<{ id: string }> = await call("/documents/upload", { token, form })
    expect(uploaded).toHaveLength(names.length)
    expect(await call("/documents/run", { token, json: { doc_ids: uploaded.map((d) => d.id), run: "1" } })).toBe(true)

    const documents = async (): Promise<Array<any>> => (await call(`/documents/list?kb_id=${kb_id}&page_size=200`, { token, json: {} })).docs
    const until = async (what: string, ok: (docs: Array<any>) => boolean, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const docs = await documents()
        if (ok(docs)) return docs
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${what}: ${JSON.stringify(docs.map((d) => [d.name, d.run, d.progress_msg]))}\n${processes.map((p) => p.log()).join("\n---\n")}`)
        }
        await new Promise((r) => setTimeout(r, 100))
      }
    }

    const [first, second] = [await startWorker(), await startWorker()]
    // Both workers in the middle of a document (each takes one at a time): killing either kills one mid-document.
    const midway = await until("two documents to be half embedded", (docs) => docs.filter((d) => /Embedded \d+\/160/.test(d.progress_msg) && d.run === "1").length >= 2, 150_000)
    expect(midway.filter((d) => d.run === "3").length).toBeLessThan(names.length - 2)
    await first.stop("SIGKILL")

    const done = await until("every document to end", (docs) => docs.every((d) => d.run === "3" || d.run === "4"), 180_000)
    expect(done.map((d) => [d.name, d.run, d.chunk_num]).sort()).toEqual(names.map((name) => [name, "3", 160]))
    // One document was taken over: received twice, by two workers; the others once.
    const attempts = done.map((d) => (d.progress_msg.match(/Task has been received by worker-\w+ \(attempt \d\)/g) ?? []).length)
    expect(attempts.filter((n) => n === 2).length, JSON.stringify(done.map((d) => d.progress_msg))).toBeGreaterThanOrEqual(1)
    expect(attempts.every((n) => n === 1 || n === 2)).toBe(true)
    expect(second.child.exitCode).toBeNull()

    // The shared index holds each chunk once: the knowledge base's count and the index agree.
    const kb = await call(`/kbs/detail?kb_id=${kb_id}`, { token, get: true })
    expect([kb.document_count, kb.chunk_count]).toEqual([names.length, names.length * 160])
    for (const doc of done) {
      const pages = [1, 2].map((page) => rest(`/datasets/${kb_id}/documents/${doc.id}/chunks?page=${page}&page_size=100`, token))
      const [one, two] = await Promise.all(pages)
      const ids = new Set([...one.chunks, ...two.chunks].map((c: { id: string }) => c.id))
      expect([doc.name, one.total, ids.size]).toEqual([doc.name, 160, 160])
    }
    // The server (which parses nothing) finds a chunk that only the workers wrote.
    const found = await call("/retrieval", { token, json: { question: "topic 517", dataset_ids: [kb_id], top_k: 5 } })
    expect(JSON.stringify(found)).toContain("topic 517")

    // The files are on S3, not in any process's data directory.
    expect((await filesUnder(s3.dir)).length).toBeGreaterThanOrEqual(names.length)
    for (const dir of dataDirs) expect((await filesUnder(dir)).filter((f) => f.startsWith("blobs"))).toEqual([])
    await second.stop("SIGTERM")
  }, 400_000)
})
