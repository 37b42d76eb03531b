/**
 * The blob store keeps the original uploaded bytes and the images extracted from them.
 *
 * Keys are relative, `/`-separated paths such as `kbId/docId`. A key must not be empty, must not
 * start with `/`, must not contain `\`, a NUL, an empty segment (`a//b`, `a/`), `.` or `..`.
 * Prefixes (for `list` and `deletePrefix`) are plain string prefixes, as in S3: `list("kb1/")` lists
 * the blobs under `kb1`, `list("kb1")` would also list `kb10/...`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import type { PlatformError } from "@effect/platform/Error"
import { Chunk, Context, Effect, Layer, Option, Sink, Stream } from "effect"
import { BlobStoreError } from "../domain/Errors.js"

export interface PutOptions {
  /** A hint for stores that keep metadata (object storage); memory and file system ignore it. */
  readonly contentType?: string
}

/** The service; `BlobStore` is its tag. */
export interface BlobStoreService {
  /** Stores the bytes under the key, replacing what was there. */
  readonly put: (key: string, bytes: Uint8Array, options?: PutOptions) => Effect.Effect<void, BlobStoreError>
  /**
   * Stores the bytes of a stream under the key as they come (an upload), replacing what was there
   * only once the stream has ended: a stream that fails stores nothing. Returns the byte count.
   */
  readonly putStream: <E>(
    key: string,
    content: Stream.Stream<Uint8Array, E>,
    options?: PutOptions
  ) => Effect.Effect<number, BlobStoreError | E>
  /** The bytes under the key (a plain `Uint8Array`, never a subclass); `NotFound` when there are none. */
  readonly get: (key: string) => Effect.Effect<Uint8Array, BlobStoreError>
  /** The bytes under the key, or `None`. */
  readonly getOption: (key: string) => Effect.Effect<Option.Option<Uint8Array>, BlobStoreError>
  readonly exists: (key: string) => Effect.Effect<boolean, BlobStoreError>
  /** Removes the blob; removing a missing blob succeeds. */
  readonly delete: (key: string) => Effect.Effect<void, BlobStoreError>
  /** Removes every blob whose key starts with the prefix; returns how many were removed. */
  readonly deletePrefix: (prefix: string) => Effect.Effect<number, BlobStoreError>
  /** Keys starting with the prefix, sorted. */
  readonly list: (prefix: string) => Effect.Effect<ReadonlyArray<string>, BlobStoreError>
}

export class BlobStore extends Context.Tag("@ragkit/core/BlobStore")<BlobStore, BlobStoreService>() {}

/** Why a key is not acceptable, or `undefined` when it is. */
export const keyProblem = (key: string): string | undefined => {
  if (key.length === 0) return "key must not be empty"
  if (key.includes("\\")) return "key must not contain a backslash"
  if (key.includes("\u0000")) return "key must not contain a NUL character"
  if (key.startsWith("/") || /^[A-Za-z]:/.test(key)) return "key must be a relative path"
  for (const segment of key.split("/")) {
    if (segment.length === 0) return "key must not contain empty segments"
    if (segment === "." || segment === "..") return "key must not contain '.' or '..' segments"
  }
  return undefined
}

/** A prefix may be empty or end with `/`; otherwise it obeys the key rules. */
const prefixProblem = (prefix: string): string | undefined => {
  if (prefix.length === 0) return undefined
  return keyProblem(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix)
}

const invalidKey = (key: string, problem: string) =>
  new BlobStoreError({ reason: "InvalidKey", message: `invalid blob key ${JSON.stringify(key)}: ${problem}` })

const checkKey = (key: string): Effect.Effect<string, BlobStoreError> => {
  const problem = keyProblem(key)
  return problem === undefined ? Effect.succeed(key) : Effect.fail(invalidKey(key, problem))
}

const checkPrefix = (prefix: string): Effect.Effect<string, BlobStoreError> => {
  const problem = prefixProblem(prefix)
  return problem === undefined ? Effect.succeed(prefix) : Effect.fail(invalidKey(prefix, problem))
}

/** What an implementation must supply; keys and prefixes it receives are already validated. */
export interface BlobStorePrimitives {
  readonly put: (key: string, bytes: Uint8Array, options: PutOptions) => Effect.Effect<void, BlobStoreError>
  /**
   * Stores a stream's bytes, leaving the key as it was when the stream fails; returns the byte
   * count. Defaults to collecting the stream and calling `put` (the whole blob in memory).
   */
  readonly putStream?: <E>(key: string, content: Stream.Stream<Uint8Array, E>, options: PutOptions) => Effect.Effect<number, BlobStoreError | E>
  readonly getOption: (key: string) => Effect.Effect<Option.Option<Uint8Array>, BlobStoreError>
  readonly delete: (key: string) => Effect.Effect<void, BlobStoreError>
  readonly list: (prefix: string) => Effect.Effect<ReadonlyArray<string>, BlobStoreError>
  /** Defaults to `getOption`. */
  readonly exists?: (key: string) => Effect.Effect<boolean, BlobStoreError>
  /** Defaults to `list` then `delete` of each key. */
  readonly deletePrefix?: (prefix: string) => Effect.Effect<number, BlobStoreError>
}

/** Builds a `BlobStore` from primitives: key validation, `get`, defaults and spans. */
export const make = (primitives: BlobStorePrimitives): BlobStoreService => {
  const getOption = (key: string) =>
    checkKey(key).pipe(Effect.flatMap(primitives.getOption), Effect.withSpan("BlobStore.getOption", { attributes: { key } }))
  const existsPrimitive = primitives.exists ?? ((key: string) => Effect.map(primitives.getOption(key), Option.isSome))
  const putStreamPrimitive = primitives.putStream ??
    (<E>(key: string, content: Stream.Stream<Uint8Array, E>, options: PutOptions) =>
      Effect.flatMap(Stream.runCollect(content), (chunks) => {
        const bytes = concat(chunks)
        return Effect.as(primitives.put(key, bytes, options), bytes.length)
      }))
  const deletePrefixPrimitive = primitives.deletePrefix ??
    ((prefix: string) =>
      Effect.flatMap(primitives.list(prefix), (keys) =>
        Effect.as(Effect.forEach(keys, primitives.delete, { discard: true }), keys.length)))
  return BlobStore.of({
    put: (key, bytes, options) =>
      checkKey(key).pipe(
        Effect.flatMap((key) => primitives.put(key, bytes, options ?? {})),
        Effect.withSpan("BlobStore.put", { attributes: { key, size: bytes.length } })
      ),
    putStream: (key, content, options) =>
      checkKey(key).pipe(
        Effect.flatMap((key) => putStreamPrimitive(key, content, options ?? {})),
        Effect.tap((size) => Effect.annotateCurrentSpan("size", size)),
        Effect.withSpan("BlobStore.putStream", { attributes: { key } })
      ),
    get: (key) =>
      getOption(key).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.fail(new BlobStoreError({ reason: "NotFound", message: `blob ${key} not found` })),
            onSome: Effect.succeed
          })
        ),
        Effect.withSpan("BlobStore.get", { attributes: { key } })
      ),
    getOption,
    exists: (key) =>
      checkKey(key).pipe(Effect.flatMap(existsPrimitive), Effect.withSpan("BlobStore.exists", { attributes: { key } })),
    delete: (key) =>
      checkKey(key).pipe(
        Effect.flatMap(primitives.delete),
        Effect.withSpan("BlobStore.delete", { attributes: { key } })
      ),
    deletePrefix: (prefix) =>
      checkPrefix(prefix).pipe(
        Effect.flatMap(deletePrefixPrimitive),
        Effect.withSpan("BlobStore.deletePrefix", { attributes: { prefix } })
      ),
    list: (prefix) =>
      checkPrefix(prefix).pipe(
        Effect.flatMap(primitives.list),
        Effect.withSpan("BlobStore.list", { attributes: { prefix } })
      )
  })
}

/** The chunks of a stream as one array. */
const concat = (chunks: Chunk.Chunk<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(Chunk.reduce(chunks, 0, (n, chunk) => n + chunk.length))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/** A blob store in memory; bytes are copied in and out so callers cannot change stored blobs. */
export const makeMemory: Effect.Effect<BlobStoreService> = Effect.sync(() => {
  const blobs = new Map<string, Uint8Array>()
  const keysWith = (prefix: string) => [...blobs.keys()].filter((key) => key.startsWith(prefix)).sort()
  return make({
    put: (key, bytes) => Effect.sync(() => void blobs.set(key, bytes.slice())),
    getOption: (key) => Effect.sync(() => Option.map(Option.fromNullable(blobs.get(key)), (bytes) => bytes.slice())),
    exists: (key) => Effect.sync(() => blobs.has(key)),
    delete: (key) => Effect.sync(() => void blobs.delete(key)),
    list: (prefix) => Effect.sync(() => keysWith(prefix)),
    deletePrefix: (prefix) =>
      Effect.sync(() => {
        const keys = keysWith(prefix)
        for (const key of keys) blobs.delete(key)
        return keys.length
      })
  })
})

export const layerMemory: Layer.Layer<BlobStore> = Layer.effect(BlobStore, makeMemory)

/** Where the file system store writes before renaming into place; not a valid first key segment. */
const TEMP_DIRECTORY = ".ragkit-tmp"

/** Temporary files older than this are left-overs of a crash and removed at start-up. */
const STALE_TEMP_MILLIS = 60 * 60 * 1000

const fromPlatformError = (operation: string, target: string) => (error: PlatformError): BlobStoreError =>
  new BlobStoreError({
    reason: error._tag === "SystemError" && ["Busy", "TimedOut", "WouldBlock"].includes(error.reason)
      ? "Unavailable"
      : "Unknown",
    message: `blob store ${operation} ${target}: ${error.message}`,
    cause: error
  })

/**
 * No blob at this key: the file is missing, or the path runs through a file (`ENOTDIR`) or names a
 * directory that only holds other keys (`EISDIR`); Node reports the last two as `BadResource`.
 */
const isMissing = (error: PlatformError) =>
  error._tag === "SystemError" && (error.reason === "NotFound" || error.reason === "BadResource")

/**
 * A blob store in a directory: the key `a/b` is the file `<directory>/a/b`. Writes go to a temporary
 * file in `<directory>/.ragkit-tmp` and are renamed into place, so a reader never sees half a blob.
 * The directory is created, and temporary files older than an hour removed, when the layer is built.
 * As on any file system, a key cannot be both a blob and a "folder" of other keys (`a` and `a/b`):
 * the second put fails. Deleting leaves empty directories behind (removing them could race with a
 * concurrent put into the same directory); `list` ignores them.
 */
export const makeFileSystem = (
  directory: string
): Effect.Effect<BlobStoreService, BlobStoreError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = path.resolve(directory)
    const tempDir = path.join(root, TEMP_DIRECTORY)
    yield* fs.makeDirectory(tempDir, { recursive: true }).pipe(Effect.mapError(fromPlatformError("open", root)))
    // Temporary files of crashed writers; recent ones may belong to another live process.
    // File times are the operating system's wall clock, so compare with that, not the Effect Clock.
    const now = Date.now()
    for (const name of yield* fs.readDirectory(tempDir).pipe(Effect.orElseSucceed(() => []))) {
      const file = path.join(tempDir, name)
      yield* fs.stat(file).pipe(
        Effect.flatMap((info) =>
          Option.match(info.mtime, {
            onNone: () => Effect.void,
            onSome: (mtime) => now - mtime.getTime() > STALE_TEMP_MILLIS ? fs.remove(file, { recursive: true }) : Effect.void
          })
        ),
        Effect.ignore
      )
    }
    const filePath = (key: string) => path.join(root, ...key.split("/"))
    const tempName = () => path.join(tempDir, globalThis.crypto.randomUUID())

    const checkNotTemp = (key: string) =>
      key.split("/")[0] === TEMP_DIRECTORY
        ? Effect.fail(invalidKey(key, `the first segment ${TEMP_DIRECTORY} is reserved`))
        : Effect.void

    /** Every file key under `dir` (a key prefix ending with `/`, or empty for the root), sorted. */
    const walk = (dirKey: string): Effect.Effect<Array<string>, PlatformError> =>
      Effect.gen(function*() {
        const dirPath = dirKey === "" ? root : filePath(dirKey.slice(0, -1))
        const entries = yield* fs.readDirectory(dirPath).pipe(
          Effect.catchIf(isMissing, () => Effect.succeed([] as Array<string>))
        )
        const keys: Array<string> = []
        for (const name of entries.sort()) {
          if (dirKey === "" && name === TEMP_DIRECTORY) continue
          const key = dirKey + name
          const info = yield* fs.stat(filePath(key)).pipe(Effect.option)
          if (Option.isNone(info)) continue
          if (info.value.type === "Directory") keys.push(...(yield* walk(key + "/")))
          else if (info.value.type === "File") keys.push(key)
        }
        return keys
      })

    const list = (prefix: string) => {
      // Walk only the deepest directory the prefix names entirely, then filter by the rest.
      const slash = prefix.lastIndexOf("/")
      const dirKey = slash < 0 ? "" : prefix.slice(0, slash + 1)
      return walk(dirKey).pipe(
        Effect.map((keys) => keys.filter((key) => key.startsWith(prefix)).sort()),
        Effect.mapError(fromPlatformError("list", prefix))
      )
    }

    const remove = (key: string) =>
      fs.remove(filePath(key)).pipe(
        Effect.catchIf(isMissing, () => Effect.void),
        Effect.mapError(fromPlatformError("delete", key))
      )

    return make({
      put: (key, bytes) =>
        Effect.gen(function*() {
          yield* checkNotTemp(key)
          const target = filePath(key)
          const temp = tempName()
          yield* Effect.gen(function*() {
            yield* fs.makeDirectory(path.dirname(target), { recursive: true })
            yield* fs.writeFile(temp, bytes)
            yield* fs.rename(temp, target)
          }).pipe(
            Effect.tapError(() => fs.remove(temp, { force: true }).pipe(Effect.ignore)),
            Effect.mapError(fromPlatformError("put", key))
          )
        }),
      putStream: (key, content) =>
        Effect.gen(function*() {
          yield* checkNotTemp(key)
          const target = filePath(key)
          const temp = tempName()
          // Written to the temporary file as it comes, renamed into place once the stream ends.
          let size = 0
          const counted = content.pipe(
            // An empty write counts as a failed one.
            Stream.filter((chunk) => chunk.length > 0),
            Stream.map((chunk) => {
              size += chunk.length
              return chunk
            })
          )
          yield* fs.makeDirectory(path.dirname(target), { recursive: true }).pipe(Effect.mapError(fromPlatformError("put", key)))
          yield* Stream.run(counted, Sink.mapError(fs.sink(temp), fromPlatformError("put", key))).pipe(
            Effect.zipRight(fs.rename(temp, target).pipe(Effect.mapError(fromPlatformError("put", key)))),
            Effect.onError(() => fs.remove(temp, { force: true }).pipe(Effect.ignore))
          )
          return size
        }),
      getOption: (key) =>
        checkNotTemp(key).pipe(
          Effect.zipRight(
            fs.readFile(filePath(key)).pipe(
              // A plain Uint8Array, not Node's Buffer subclass: some libraries (pdf.js) refuse a Buffer.
              Effect.map((buffer) => Option.some(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength))),
              Effect.catchIf(isMissing, () => Effect.succeedNone),
              Effect.mapError(fromPlatformError("get", key))
            )
          )
        ),
      exists: (key) =>
        checkNotTemp(key).pipe(
          Effect.zipRight(fs.stat(filePath(key)).pipe(
            Effect.map((info) => info.type === "File"),
            Effect.catchIf(isMissing, () => Effect.succeed(false)),
            Effect.mapError(fromPlatformError("exists", key))
          ))
        ),
      delete: (key) => checkNotTemp(key).pipe(Effect.zipRight(remove(key))),
      list,
      deletePrefix: (prefix) =>
        list(prefix).pipe(
          Effect.tap((keys) => Effect.forEach(keys, remove, { discard: true })),
          Effect.map((keys) => keys.length)
        )
    })
  })

/** The file system blob store; needs `FileSystem` and `Path` (e.g. `NodeContext.layer`). */
export const layerFileSystem = (
  directory: string
): Layer.Layer<BlobStore, BlobStoreError, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(BlobStore, makeFileSystem(directory))
