import { describe, expect, layer } from "@effect/vitest"
import { BlobStore } from "@ragkit/core"
import { BlobStoreSuite } from "@ragkit/core/testing"
import { type S3Server, startS3Server } from "@ragkit/fixtures/s3"
import { Context, Data, Effect, Layer, Stream } from "effect"
import { createHash } from "node:crypto"
import { mkdir, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { S3BlobStore } from "../src/index.js"

class Server extends Context.Tag("test/S3Server")<Server, S3Server>() {}

/** One s3rver for the tests of a layer, stopped and removed with it. */
const ServerLive = Layer.scoped(Server, Effect.acquireRelease(Effect.promise(() => startS3Server()), (s) => Effect.promise(s.close)))

const optionsFor = (s: S3Server, extra: Partial<S3BlobStore.Options> = {}): S3BlobStore.Options => ({
  bucket: s.bucket,
  endpoint: s.endpoint,
  region: s.region,
  forcePathStyle: true,
  credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
  ...extra
})

// The conformance suite, under a key prefix given without its trailing slash.
BlobStoreSuite(
  "s3 (s3rver)",
  Layer.unwrapEffect(Effect.map(Server, (s) => S3BlobStore.layer(optionsFor(s, { prefix: "tenant-a" })))).pipe(
    Layer.provide(ServerLive)
  )
)

/** Objects written straight into s3rver's folder, as its file store lays them out (`<key>._S3rver_object`). */
const seed = async (s: S3Server, keys: ReadonlyArray<string>) => {
  for (const key of keys) {
    const file = join(s.dir, s.bucket, `${key}._S3rver_object`)
    await mkdir(dirname(file), { recursive: true })
    await writeFile(file, Uint8Array.of(1))
    await writeFile(`${file}.md5`, createHash("md5").update(Uint8Array.of(1)).digest("hex"))
  }
}

class Broken extends Data.TaggedError("Broken")<{}> {}

/** `size` bytes that are not all alike, in 64 KiB chunks, failing before the end when `failAt` is set. */
const patterned = (size: number) => {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >>> 11)) & 255
  return bytes
}
const chunked = (bytes: Uint8Array, failAt?: number) => {
  const chunks: Array<Uint8Array> = []
  for (let at = 0; at < (failAt ?? bytes.length); at += 65_536) chunks.push(bytes.subarray(at, Math.min(at + 65_536, bytes.length)))
  const stream = Stream.fromIterable(chunks)
  return failAt === undefined ? stream : Stream.concat(stream, Stream.fail(new Broken()))
}

describe("S3BlobStore", () => {
  layer(ServerLive)((it) => {
    it.scoped("lists and deletes more than 1,000 keys (continuation tokens, DeleteObjects batches), inside its prefix only", () =>
      Effect.gen(function*() {
        const s = yield* Server
        const store = yield* S3BlobStore.make(optionsFor(s, { prefix: "/p/" }))
        const bare = yield* S3BlobStore.make(optionsFor(s))
        const keys = Array.from({ length: 1_005 }, (_, i) => `kb/${String(i).padStart(4, "0")}`)
        // 1,000 PutObjects take s3rver ~10 s: most objects are written into its folder as it stores them.
        yield* Effect.promise(() => seed(s, keys.slice(5).map((key) => `p/${key}`)))
        yield* Effect.forEach(keys.slice(0, 5), (key) => store.put(key, Uint8Array.of(1)), { discard: true })
        yield* store.put("kb2/x", Uint8Array.of(2))
        yield* bare.put("outside", Uint8Array.of(3))
        expect(yield* store.list("kb/")).toEqual(keys)
        expect((yield* bare.list("p/kb/")).length).toBe(1_005)
        expect(yield* store.list("")).not.toContain("outside")
        expect(yield* store.deletePrefix("kb/")).toBe(1_005)
        expect(yield* store.list("")).toEqual(["kb2/x"])
        expect(yield* bare.list("")).toEqual(["outside", "p/kb2/x"])
      }))

    it.scoped("uploads a 12 MB stream in 5 MB parts and reads it back byte for byte; a failing one leaves nothing", () =>
      Effect.gen(function*() {
        const s = yield* Server
        const store = yield* S3BlobStore.make(optionsFor(s, { partSizeMb: 5 }))
        const bytes = patterned(12 * 1024 * 1024)
        expect(yield* store.putStream("big/one", chunked(bytes), { contentType: "application/pdf" })).toBe(bytes.length)
        const back = yield* store.get("big/one")
        expect(back.length).toBe(bytes.length)
        expect(Buffer.compare(back, bytes)).toBe(0)
        // Broken after two parts went up: the multipart upload is abandoned (s3rver keeps its parts:
        // it has no AbortMultipartUpload), the key never appears.
        const error = yield* Effect.flip(store.putStream("big/two", chunked(bytes, 11 * 1024 * 1024)))
        expect(error._tag).toBe("Broken")
        expect(yield* store.exists("big/two")).toBe(false)
        expect(yield* store.list("big/")).toEqual(["big/one"])
      }))

    it.scoped("a missing bucket and unknown credentials fail clearly, naming the bucket and never the secret", () =>
      Effect.gen(function*() {
        const s = yield* Server
        const secret = "wJalrXUtnFEMI-not-the-real-secret"
        const wrong = { accessKeyId: "AKIAWRONGKEY", secretAccessKey: secret }
        const denied = yield* Effect.flip(S3BlobStore.make(optionsFor(s, { credentials: wrong })))
        expect(denied.message).toContain(`bucket ${s.bucket}`)
        expect(denied.message).toContain("access denied")
        const missing = yield* Effect.flip(S3BlobStore.make(optionsFor(s, { bucket: "no-such-bucket" })))
        expect(missing.message).toContain("no-such-bucket")
        expect(missing.message).toContain("does not exist")
        // Without the start-up check, operations fail the same way (a missing bucket is not a missing key).
        const unchecked = yield* S3BlobStore.make(optionsFor(s, { credentials: wrong, checkBucket: false }))
        const failed = yield* Effect.flip(unchecked.get("kb/doc"))
        expect(failed.message).toContain(`s3://${s.bucket}/kb/doc`)
        expect(failed.message).toContain("InvalidAccessKeyId")
        const noBucket = yield* S3BlobStore.make(optionsFor(s, { bucket: "no-such-bucket", checkBucket: false }))
        expect((yield* Effect.flip(noBucket.getOption("kb/doc"))).message).toContain("NoSuchBucket")
        for (const error of [denied, missing, failed]) {
          expect(JSON.stringify(error)).not.toContain(secret)
          expect(String(error.cause ?? "")).not.toContain(secret)
          expect(error.message).not.toContain(secret)
        }
      }))
  })
})

// The store is a BlobStore service like any other.
void BlobStore.BlobStore
