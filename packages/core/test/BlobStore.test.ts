import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as BlobStore from "../src/ports/BlobStore.js"
import { BlobStoreSuite } from "../src/testing/BlobStoreSuite.js"

BlobStoreSuite("memory", BlobStore.layerMemory)

const FileSystemStore = Layer.unwrapScoped(
  Effect.map(
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "ragkit-blobs-" })),
    BlobStore.layerFileSystem
  )
).pipe(Layer.provide(NodeContext.layer))

BlobStoreSuite("file system", FileSystemStore)

describe("BlobStore file system", () => {
  it.scoped("stores a key as a file under the directory, leaving no temporary file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "ragkit-blobs-" })
      const store = yield* BlobStore.makeFileSystem(dir)
      yield* store.put("kb1/doc1", Uint8Array.from([0, 1, 2]))
      yield* store.put("kb1/doc1", Uint8Array.from([7, 0]))
      expect(Array.from(yield* fs.readFile(path.join(dir, "kb1", "doc1")))).toEqual([7, 0])
      expect(yield* fs.readDirectory(path.join(dir, ".ragkit-tmp"))).toEqual([])
      expect(yield* store.list("")).toEqual(["kb1/doc1"])
      const reserved = yield* Effect.flip(store.put(".ragkit-tmp/x", Uint8Array.from([1])))
      expect(reserved._tag).toBe("BlobStoreError")
      yield* store.delete("kb1/doc1")
      expect(yield* fs.exists(path.join(dir, "kb1", "doc1"))).toBe(false)
      expect(yield* store.list("")).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a new store on the same directory sees earlier blobs and removes only stale temporary files", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "ragkit-blobs-" })
      const first = yield* BlobStore.makeFileSystem(dir)
      yield* first.put("kb/doc", Uint8Array.from([4, 5, 6]))
      const stale = path.join(dir, ".ragkit-tmp", "half-written")
      yield* fs.writeFile(stale, Uint8Array.from([1]))
      const dayAgo = new Date(Date.now() - 24 * 3600 * 1000)
      yield* fs.utimes(stale, dayAgo, dayAgo)
      yield* fs.writeFile(path.join(dir, ".ragkit-tmp", "in-flight"), Uint8Array.from([2]))
      const second = yield* BlobStore.makeFileSystem(dir)
      expect(Array.from(yield* second.get("kb/doc"))).toEqual([4, 5, 6])
      expect(yield* fs.readDirectory(path.join(dir, ".ragkit-tmp"))).toEqual(["in-flight"])
      expect(yield* second.list("")).toEqual(["kb/doc"])
    }).pipe(Effect.provide(NodeContext.layer)))
})
