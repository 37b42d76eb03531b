/**
 * Worker processes on one Postgres: a worker killed mid-document leaves the document to the next
 * one, which finishes it with the exact chunk count; two workers take different documents.
 * Needs a real Postgres (`RAGKIT_TEST_PG_URL`), since PGlite lives inside one process.
 */
import { ChunkIndex, createRagClient, type Document, type RagClient } from "@ragkit/core"
import { freshDatabase } from "@ragkit/store-pg/testing"
import { Effect, Exit, Option, Redacted, Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defaults, type ServerSettings } from "../src/Config.js"
import * as Engine from "../src/Engine.js"

const adminUrl = process.env["RAGKIT_TEST_PG_URL"]
const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

const startWorker = (config: ServerSettings, log: Array<string>): ChildProcess => {
  const child = spawn(process.execPath, ["--import", "tsx", bin, "worker"], {
    env: {
      ...process.env,
      RAGKIT_DATABASE_URL: Redacted.value(Option.getOrThrow(config.databaseUrl)),
      RAGKIT_DATA_DIR: config.dataDir,
      RAGKIT_WORKERS: "1",
      RAGKIT_LEASE_MS: String(config.leaseMs),
      RAGKIT_OCR: "false",
      RAGKIT_TEST_MODELS: "true"
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  child.stdout!.on("data", (b: Buffer) => log.push(b.toString()))
  child.stderr!.on("data", (b: Buffer) => log.push(b.toString()))
  return child
}

const stop = (child: ChildProcess, signal: NodeJS.Signals) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill(signal)
  })

const until = async <A>(what: string, get: () => Promise<A>, ok: (a: A) => boolean, timeoutMs = 90_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await get()
    if (ok(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(value).slice(0, 2000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

if (adminUrl === undefined) {
  describe("worker processes", () => {
    it.skip("worker processes skipped: RAGKIT_TEST_PG_URL is not set", () => {})
  })
} else {
  describe("worker processes on one Postgres", () => {
    const scope = Effect.runSync(Scope.make())
    const children: Array<ChildProcess> = []
    const logs: Array<string> = []
    let rag: RagClient
    let config: ServerSettings
    let dataDir: string

    beforeAll(async () => {
      const db = await Effect.runPromise(Scope.extend(freshDatabase(adminUrl), scope))
      dataDir = await mkdtemp(join(tmpdir(), "ragkit-workers-"))
      config = defaults({ dataDir, databaseUrl: Option.some(Redacted.make(db.url)), workers: 0, ocr: false, leaseMs: 2_000, testModels: true })
      // This process uploads and watches; only the child processes parse.
      rag = await createRagClient(Engine.layer(config))
    }, 120_000)

    afterAll(async () => {
      await Promise.all(children.map((c) => stop(c, "SIGKILL")))
      await rag?.dispose()
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await rm(dataDir, { recursive: true, force: true })
    }, 60_000)

    /** 120 paragraphs, each one chunk (chunk_token_num 8): the expected count is exact. */
    const body = Array.from({ length: 120 }, (_, i) => `Paragraph number ${i} is here.`).join("\n\n")

    it("a worker killed mid-document leaves it to the next worker, which finishes it with the exact chunk count", async () => {
      const me = await rag.localCaller({ email: "crash@ragkit.local", embeddingModel: "slowhash-16-25@Test" })
      const kb = await rag.knowledgeBases.create(me, { name: "Crash", parser_config: { chunk_token_num: 8 } })
      const [doc] = await rag.documents.upload(me, { kb_id: kb.id, files: [{ name: "long.txt", bytes: new TextEncoder().encode(body) }] })
      await rag.documents.parse(me, { doc_ids: [doc!.id] })

      const first = startWorker(config, logs)
      children.push(first)
      const midway = await until(
        "the first worker to be embedding",
        () => rag.documents.get(me, { doc_id: doc!.id }),
        (d: Document) => /Embedded (32|64)\/120/.test(d.progress_msg)
      )
      await stop(first, "SIGKILL")
      expect(midway.run).toBe("RUNNING")
      expect(midway.chunk_num).toBe(0)

      const second = startWorker(config, logs)
      children.push(second)
      const done = await until("the second worker to finish", () => rag.documents.get(me, { doc_id: doc!.id }), (d: Document) => d.run !== "RUNNING")
      expect([done.run, done.chunk_num]).toEqual(["DONE", 120])
      expect(done.progress_msg.match(/Task has been received by worker-\w+ \(attempt (\d)\)/g)).toHaveLength(2)
      expect(done.progress_msg).toMatch(/\(attempt 2\)/)

      const indexed = await rag.run(Effect.flatMap(ChunkIndex.ChunkIndex, (index) => index.countByDocument(kb.id, doc!.id)))
      expect(indexed).toBe(120)
      const after = await rag.knowledgeBases.get(me, { kb_id: kb.id })
      expect([after.chunk_count, after.document_count]).toEqual([120, 1])
      await stop(second, "SIGTERM")
    }, 180_000)

    it("two workers take different documents, each once", async () => {
      const me = await rag.localCaller({ email: "pair@ragkit.local", embeddingModel: "slowhash-16-5@Test" })
      const kb = await rag.knowledgeBases.create(me, { name: "Pair", parser_config: { chunk_token_num: 8 } })
      const files = Array.from({ length: 6 }, (_, i) => ({
        name: `doc-${i}.txt`,
        bytes: new TextEncoder().encode(Array.from({ length: 40 }, (_, j) => `Document ${i} line ${j} here.`).join("\n\n"))
      }))
      const docs = await rag.documents.upload(me, { kb_id: kb.id, files })
      await rag.documents.parse(me, { doc_ids: docs.map((d) => d.id) })
      const workers = [startWorker(config, logs), startWorker(config, logs)]
      children.push(...workers)
      const finished = await until(
        "both workers to finish every document",
        () => Promise.all(docs.map((d) => rag.documents.get(me, { doc_id: d.id }))),
        (all: ReadonlyArray<Document>) => all.every((d) => d.run === "DONE" || d.run === "FAIL")
      )
      expect(finished.map((d) => [d.run, d.chunk_num])).toEqual(docs.map(() => ["DONE", 40]))
      const receivedBy = finished.map((d) => {
        const lines = d.progress_msg.match(/received by (worker-\w+) \(attempt 1\)/g) ?? []
        expect(lines).toHaveLength(1)
        return /received by (worker-\w+)/.exec(lines[0]!)![1]
      })
      expect(new Set(receivedBy).size).toBe(2)
      await Promise.all(workers.map((w) => stop(w, "SIGTERM")))
    }, 180_000)
  })
}
