/**
 * LanceDB on object storage: the chunk index in `s3://` on a real S3-compatible server (s3rver).
 *
 * LanceDB commits a table version with a conditional PUT of its manifest (`If-None-Match: *`).
 * s3rver ignores that header: two processes committing the same version both get 200 and the later
 * manifest replaces the earlier one, so one of the two writes is lost. On s3rver only one process
 * may write a table; any number may read it (AWS S3, MinIO and R2 honour the condition: a losing
 * writer gets 412 and LanceDB retries it on the new version).
 */
import { describe, expect, it } from "@effect/vitest"
import * as lancedb from "@lancedb/lancedb"
import { makeTestChunk } from "@ragkit/core/testing"
import { ChunkIndexSuite } from "@ragkit/core/testing"
import { startS3Server } from "@ragkit/fixtures/s3"
import { Effect, Layer, Redacted } from "effect"
import { LanceChunkIndex } from "../src/index.js"
import { ids, newDoc, newKb, withIndex } from "./sample.js"

const s3Options = (prefix: string) =>
  Effect.map(
    Effect.acquireRelease(Effect.promise(() => startS3Server({ bucket: "lance" })), (s3) => Effect.promise(s3.close)),
    (s3): LanceChunkIndex.Options => ({
      uri: `s3://${s3.bucket}/${prefix}`,
      storageOptions: {
        endpoint: s3.endpoint,
        region: s3.region,
        allow_http: "true",
        aws_access_key_id: s3.accessKeyId,
        aws_secret_access_key: Redacted.make(s3.secretAccessKey)
      }
    })
  )

ChunkIndexSuite("lancedb on s3rver", Layer.unwrapScoped(Effect.map(s3Options("suite"), LanceChunkIndex.layer)))

describe("LanceChunkIndex on S3", () => {
  it.scoped("one writer process and a reader process on the same bucket; the IVF_PQ index is built there too", () =>
    Effect.gen(function*() {
      const options = yield* s3Options("shared")
      const kb = newKb()
      const doc = newDoc()
      const chunks = Array.from({ length: 300 }, (_, i) =>
        makeTestChunk(kb, doc, { content: `point ${i}`, index: i, vector: [1, i / 300, Math.sin(i)] }))
      yield* withIndex(LanceChunkIndex.layer(options), (reader) =>
        Effect.gen(function*() {
          expect(yield* reader.countByDocument(kb, doc)).toBe(0)
          // The writer (its own layer and connection, as another process) passes the ANN threshold;
          // closing its layer waits for its maintenance (optimize, index build).
          yield* withIndex(LanceChunkIndex.layer({ ...options, annThreshold: 256, optimizeEvery: 100, optimizeQuietMs: 0 }), (writer) =>
            Effect.forEach([0, 100, 200], (from) => writer.upsert(chunks.slice(from, from + 100))))
          expect(yield* reader.countByDocument(kb, doc)).toBe(300)
          const found = yield* reader.searchVector({ kbIds: [kb], vector: [1, 42 / 300, Math.sin(42)], limit: 1 })
          expect(ids(found)).toEqual([chunks[42]!.id])
          expect((yield* reader.searchText({ kbIds: [kb], tokens: "point", limit: 5 })).length).toBe(5)
        }))
      const plain = Object.fromEntries(
        Object.entries(options.storageOptions!).map(([k, v]) => [k, Redacted.isRedacted(v) ? Redacted.value(v) : v])
      )
      const indexes = yield* Effect.promise(async () => {
        const db = await lancedb.connect(options.uri, { storageOptions: plain })
        const table = await db.openTable(LanceChunkIndex.tableName(kb))
        const indexes = await table.listIndices()
        table.close()
        db.close()
        return indexes
      })
      expect(indexes.find((i) => i.columns.includes("vector"))?.indexType).toBe("IvfPq")
    }))

  it.scoped("one process's optimize runs never commit alongside its writes (s3rver ignores If-None-Match)", () =>
    Effect.gen(function*() {
      const options = yield* s3Options("serial")
      const kb = newKb()
      const doc = newDoc()
      // Without serialCommits an optimize committing the same version as an upsert lost that upsert's
      // rows, or broke the table's btree index ("RowAddrTreeMap::from_sorted_iter called with
      // non-sorted input").
      yield* withIndex(LanceChunkIndex.layer({ ...options, optimizeEveryCommits: 2, optimizeQuietMs: 0 }), (index) =>
        Effect.gen(function*() {
          for (let round = 0; round < 12; round++) {
            yield* index.upsert(Array.from({ length: 5 }, (_, i) =>
              makeTestChunk(kb, doc, { content: `round${round} item${i}`, index: round * 10 + i, vector: [1, i] })))
          }
          expect(yield* index.countByDocument(kb, doc)).toBe(60)
          expect((yield* index.searchText({ kbIds: [kb], tokens: "item1", limit: 50 })).length).toBe(12)
        }))
    }))

  it.scoped("a refused key or an unknown bucket fails when the layer is built, and the error never holds the secret", () =>
    Effect.gen(function*() {
      const options = yield* s3Options("x")
      const secret = "never-in-an-error-4f2a"
      const refused = {
        ...options,
        storageOptions: { ...options.storageOptions, aws_access_key_id: "UNKNOWNKEY", aws_secret_access_key: Redacted.make(secret) }
      }
      const failures = yield* Effect.forEach([refused, { ...options, uri: "s3://no-such-bucket/x" }], (wrong) =>
        Effect.flip(Effect.scoped(LanceChunkIndex.make(wrong))))
      expect(failures.map((e) => e.reason)).toEqual(["Unavailable", "Unavailable"])
      expect(failures[0]!.message).toContain("InvalidAccessKeyId")
      expect(failures[1]!.message).toContain("NoSuchBucket")
      for (const failure of failures) expect(`${JSON.stringify(failure)} ${String(failure)}`).not.toContain(secret)
    }))
})
