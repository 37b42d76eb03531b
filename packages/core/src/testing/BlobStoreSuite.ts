/**
 * The conformance suite every `BlobStore` implementation runs:
 *
 *   BlobStoreSuite("memory", BlobStore.layerMemory)
 *
 * Each test writes under its own random prefix, so the layer can be shared by the whole file.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Data, Effect, Option, Stream } from "effect"
import type { Layer } from "effect"
import { randomHex32 } from "../domain/Ids.js"
import { BlobStore } from "../ports/BlobStore.js"

const bytesOf = (...values: ReadonlyArray<number>) => Uint8Array.from(values)

/** The failure of a stream that breaks off (a client that goes away mid-upload). */
class Broken extends Data.TaggedError("Broken")<{}> {}

/** Every byte value, zeros included, twice. */
const allBytes = () => Uint8Array.from({ length: 512 }, (_, i) => i % 256)

export const BlobStoreSuite = (name: string, storeLayer: Layer.Layer<BlobStore, unknown>): void => {
  describe(`BlobStore conformance: ${name}`, () => {
    layer(storeLayer)((it) => {
      it.effect("put then get returns the same bytes, zeros included", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore
          const key = `${randomHex32()}/${randomHex32()}`
          const bytes = allBytes()
          yield* store.put(key, bytes, { contentType: "application/octet-stream" })
          const got = yield* store.get(key)
          expect(Array.from(got)).toEqual(Array.from(bytes))
          // A plain Uint8Array (not Node's Buffer): libraries such as pdf.js refuse subclasses.
          expect(Object.getPrototypeOf(got)).toBe(Uint8Array.prototype)
          expect(yield* store.exists(key)).toBe(true)
          expect(Option.map(yield* store.getOption(key), (b) => b.length)).toEqual(Option.some(512))
          yield* store.put(`${key}-empty`, new Uint8Array(0))
          expect((yield* store.get(`${key}-empty`)).length).toBe(0)
        }))

      it.effect("stored bytes do not change when the caller's array does", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore
          const key = `${randomHex32()}/blob`
          const bytes = bytesOf(1, 2, 3)
          yield* store.put(key, bytes)
          bytes[0] = 99
          const got = yield* store.get(key)
          got[1] = 99
          expect(Array.from(yield* store.get(key))).toEqual([1, 2, 3])
        }))

      it.effect("put overwrites", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore
          const key = `${randomHex32()}/doc`
          yield* store.put(key, bytesOf(1, 2, 3, 4, 5))
          yield* store.put(key, bytesOf(9))
          expect(Array.from(yield* store.get(key))).toEqual([9])
        }))

      it.effect("putStream stores a stream's bytes as they come and counts them", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore
          const key = `${randomHex32()}/streamed`
          const parts = [allBytes(), bytesOf(), bytesOf(7, 8, 9)]
          expect(yield* store.putStream(key, Stream.fromIterable(parts), { contentType: "application/pdf" })).toBe(515)
          const got = yield* store.get(key)
          expect(Array.from(got)).toEqual([...allBytes(), 7, 8, 9])
          expect(Object.getPrototypeOf(got)).toBe(Uint8Array.prototype)
          // An empty stream is an empty blob.
          expect(yield* store.putStream(`${key}-empty`, Stream.empty)).toBe(0)
          expect((yield* store.get(`${key}-empty`)).length).toBe(0)
        }))

      it.effect("putStream stores nothing when the stream fails, and keeps what the key held", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore
          const prefix = randomHex32()
          const broken = Stream.concat(Stream.make(bytesOf(1, 2)), Stream.fail(new Broken()))
          const error = yield* Effect.flip(store.putStream(`${prefix}/new`, broken))
          expect(error._tag).toBe("Broken")
          expect(yield* store.exists(`${prefix}/new`)).toBe(false)
          yield* store.put(`${prefix}/old`, bytesOf(5))
          expect((yield* Effect.flip(store.putStream(`${prefix}/old`, broken)))._tag).toBe("Broken")
          expect(Array.from(yield* store.get(`${prefix}/old`))).toEqual([5])
          expect(yield* store.list(`${prefix}/`)).toEqual([`${prefix}/old`])
          expect((yield* Effect.flip(store.putStream("../x", Stream.make(bytesOf(1)))))._tag).toBe("BlobStoreError")
        }))

      it.effect("a missing key fails with NotFound and getOption gives None", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore
          const key = `${randomHex32()}/missing`
          const error = yield* Effect.flip(store.get(key))
          expect(error._tag).toBe("BlobStoreError")
          expect(error.reason).toBe("NotFound")
          expect(Option.isNone(yield* store.getOption(key))).toBe(true)
          expect(yield* store.exists(key)).toBe(false)
        }))

      it.effect("delete removes the blob and is idempotent", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore
          const prefix = randomHex32()
          const key = `${prefix}/doc`
          yield* store.put(key, bytesOf(1))
          yield* store.put(`${prefix}/other`, bytesOf(2))
          yield* store.delete(key)
          expect(yield* store.exists(key)).toBe(false)
          expect((yield* Effect.flip(store.get(key))).reason).toBe("NotFound")
          yield* store.delete(key)
          yield* store.delete(`${randomHex32()}/never-was`)
          expect(Array.from(yield* store.get(`${prefix}/other`))).toEqual([2])
        }))

      it.effect("list returns the keys under a prefix, sorted", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore
          const kb = randomHex32()
          const keys = [`${kb}/b`, `${kb}/a`, `${kb}/img/2`, `${kb}/img/1`]
          for (const key of keys) yield* store.put(key, bytesOf(0))
          yield* store.put(`${kb}x/other`, bytesOf(0))
          expect(yield* store.list(`${kb}/`)).toEqual([`${kb}/a`, `${kb}/b`, `${kb}/img/1`, `${kb}/img/2`])
          expect(yield* store.list(`${kb}/img/`)).toEqual([`${kb}/img/1`, `${kb}/img/2`])
          expect(yield* store.list(`${kb}/im`)).toEqual([`${kb}/img/1`, `${kb}/img/2`])
          expect(yield* store.list(kb)).toEqual([`${kb}/a`, `${kb}/b`, `${kb}/img/1`, `${kb}/img/2`, `${kb}x/other`])
          expect(yield* store.list(`${randomHex32()}/`)).toEqual([])
          const all = yield* store.list("")
          expect(all).toEqual(expect.arrayContaining([`${kb}/a`, `${kb}x/other`]))
        }))

      it.effect("deletePrefix removes the keys under the prefix and counts them", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore
          const kb = randomHex32()
          const other = randomHex32()
          yield* store.put(`${kb}/doc1`, bytesOf(1))
          yield* store.put(`${kb}/doc2`, bytesOf(2))
          yield* store.put(`${kb}/img/1`, bytesOf(3))
          yield* store.put(`${other}/doc1`, bytesOf(4))
          expect(yield* store.deletePrefix(`${kb}/`)).toBe(3)
          expect(yield* store.list(`${kb}/`)).toEqual([])
          expect(yield* store.exists(`${kb}/img/1`)).toBe(false)
          expect(Array.from(yield* store.get(`${other}/doc1`))).toEqual([4])
          expect(yield* store.deletePrefix(`${kb}/`)).toBe(0)
          yield* store.put(`${kb}/doc1`, bytesOf(5))
          expect(Array.from(yield* store.get(`${kb}/doc1`))).toEqual([5])
        }))

      it.effect("rejects keys that escape or are not plain relative paths", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore
          for (const key of ["../x", "a/../../x", "/etc/passwd", "", "a//b", "a/", "./a", "a\\b"]) {
            const error = yield* Effect.flip(store.put(key, bytesOf(1)))
            expect(error._tag).toBe("BlobStoreError")
            expect(error.reason).toBe("InvalidKey")
            expect((yield* Effect.flip(store.get(key)))._tag).toBe("BlobStoreError")
          }
          expect((yield* Effect.flip(store.delete("../x")))._tag).toBe("BlobStoreError")
          expect((yield* Effect.flip(store.list("../")))._tag).toBe("BlobStoreError")
          expect((yield* Effect.flip(store.deletePrefix("/")))._tag).toBe("BlobStoreError")
        }))
    })
  })
}
