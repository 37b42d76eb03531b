/**
 * pdf.js (the `pdfjs-dist` legacy build, for Node) behind Effect: loading the module, opening a
 * document and a page as scoped resources, mapping its exceptions to `ParseError`, and rendering a
 * page to PNG for OCR.
 *
 * No worker thread: in Node pdf.js runs its worker code in the main thread ("fake worker").
 *
 * Decoding is bounded: pdf.js inflates streams (FlateDecode, LZW, ...) into buffers that grow
 * without a cap, outside the V8 heap where no thread memory limit applies, so a few kilobytes of
 * PDF could ask for gigabytes. The worker code is loaded with three small patches that report to
 * a `DecodeGuard` before a decoded stream grows, when a Brotli stream is decoded, and when an image
 * is over pdf.js's `maxImageSize`: past the guard's limits the decoding stops, and the parser fails
 * the document with `TooLarge` (`guardDecoding`).
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, sep } from "node:path"
import { ParseError } from "@ragkit/core"
import { Effect } from "effect"
import type { Scope } from "effect"
import type { PDFDocumentProxy, PDFPageProxy } from "pdfjs-dist/legacy/build/pdf.mjs"

export type Pdfjs = typeof import("pdfjs-dist/legacy/build/pdf.mjs")
export type { PDFDocumentProxy, PDFPageProxy }

const errorMessage = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))
const errorName = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "name" in cause && typeof cause.name === "string" ? cause.name : ""

/** The folders pdf.js reads fonts and character maps from, resolved in the installed package. */
export const assetPaths = (): { readonly standardFontDataUrl: string; readonly cMapUrl: string } => {
  const root = dirname(createRequire(import.meta.url).resolve("pdfjs-dist/package.json"))
  return { standardFontDataUrl: join(root, "standard_fonts") + sep, cMapUrl: join(root, "cmaps") + sep }
}

/** The limits a document's decoding is held to (the deployment's `ParserLimits`). */
export interface DecodeLimits {
  /** Bytes one stream may decode to. */
  readonly maxStreamBytes: number
  /** Bytes all the document's streams may decode to together. */
  readonly maxDecodedBytes: number
  /** Pixels of one image. */
  readonly maxImagePixels: number
}

/** What the patched worker code calls; one document at a time (see `guardDecoding`). */
interface DecodeGuard {
  /** A decoded stream's buffer grows from `current` to at least `requested` bytes. */
  readonly grow: (requested: number, current: number) => void
  /** pdf.js skips an image of `width` x `height` pixels, over `maxImageSize`. */
  readonly image: (width: number, height: number) => void
}

const GUARD = "__ragkitPdfDecodeGuard"

const mib = (n: number) => `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`

/** The document's guard state: the limits, the bytes decoded so far, and the first limit passed. */
let current: { limits: DecodeLimits; decoded: number; exceeded: string | undefined } | undefined

const guard: DecodeGuard = {
  grow: (requested, before) => {
    if (current === undefined) return
    if (current.exceeded === undefined) {
      if (requested > current.limits.maxStreamBytes) {
        current.exceeded = `a stream of the PDF decodes to more than its limit of ${mib(current.limits.maxStreamBytes)}`
      } else {
        current.decoded += Math.max(0, requested - before)
        if (current.decoded > current.limits.maxDecodedBytes) {
          current.exceeded = `the streams of the PDF decode to more than their limit of ${mib(current.limits.maxDecodedBytes)} in all`
        }
      }
    }
    if (current.exceeded !== undefined) throw new Error(current.exceeded)
  },
  image: (width, height) => {
    if (current === undefined || current.exceeded !== undefined) return
    current.exceeded = `an image of the PDF has ${width}x${height} pixels, over the limit of ${current.limits.maxImagePixels} pixels`
  }
}

/** The patches: the anchor in pdf.js's worker code, and what goes right after it. */
const PATCHES: ReadonlyArray<readonly [string, string]> = [
  [
    // DecodeStream.ensureBuffer, behind every decoding filter.
    "  ensureBuffer(requested) {\n    const buffer = this.buffer;\n    if (requested <= buffer.byteLength) {\n      return buffer;\n    }\n",
    `    globalThis.${GUARD}?.grow(requested, buffer.byteLength);\n`
  ],
  [
    // The DecompressionStream path of FlateDecode and BrotliDecode.
    "        chunks.push(chunk);\n        totalLength += chunk.byteLength;\n",
    `        globalThis.${GUARD}?.grow(totalLength, totalLength - chunk.byteLength);\n`
  ],
  [
    // The JavaScript Brotli decoder.
    "      totalOutput += s.outputUsed;\n",
    `      globalThis.${GUARD}?.grow(totalOutput, totalOutput - s.outputUsed);\n`
  ],
  [
    "    if (maxImageSize !== -1 && w * h > maxImageSize) {\n",
    `      globalThis.${GUARD}?.image(w, h);\n`
  ]
]

/** pdf.js's worker code with the patches, as a module; fails if an anchor is missing (another pdf.js). */
const loadPatchedWorker = async (): Promise<unknown> => {
  const path = createRequire(import.meta.url).resolve("pdfjs-dist/legacy/build/pdf.worker.mjs")
  let source = readFileSync(path, "utf8")
  for (const [anchor, addition] of PATCHES) {
    const at = source.indexOf(anchor)
    if (at < 0 || source.indexOf(anchor, at + 1) >= 0) {
      throw new Error(`the pdf.js worker at ${path} is not the version whose decoding ragkit bounds`)
    }
    source = source.slice(0, at + anchor.length) + addition + source.slice(at + anchor.length)
  }
  return import(`data:text/javascript;base64,${Buffer.from(source).toString("base64")}`)
}

/** The objects whose built-in functions the legacy build's core-js may replace. */
const intrinsics = (): ReadonlyArray<object> => {
  const typedArray = Object.getPrototypeOf(Uint8Array) as object
  return [
    Array, Array.prototype, ArrayBuffer, ArrayBuffer.prototype, Date.prototype, Function.prototype, JSON, Map,
    Map.prototype, Math, Number, Number.prototype, Object, Object.prototype, Promise, Promise.prototype, Reflect,
    RegExp.prototype, Set, Set.prototype, String, String.prototype, Symbol, typedArray,
    (typedArray as { prototype: object }).prototype, Uint8Array, Uint8Array.prototype, WeakMap.prototype
  ]
}

/**
 * Runs `load` and then puts back every built-in function it replaced; what it added stays.
 *
 * The legacy build of pdf.js bundles core-js, which on Node 20 (V8 11) replaces built-ins that
 * miss recent edge cases with JavaScript versions, for the whole thread: `Array.prototype.push`
 * (the error on a non-writable length), `JSON.stringify` and `JSON.parse` (`JSON.rawJSON`, source
 * text access), `Function.prototype.toString`. After pdf.js loaded, every `push` in the thread
 * took twice as long and every `JSON.stringify` twelve times as long (measured on Node 20.20), in
 * the tokenizer, the chunkers and the server alike. pdf.js needs none of those edge cases; it does
 * need what core-js adds (`Promise.withResolvers`, iterator helpers, ...), which Node 20 lacks.
 */
const keepingBuiltins = async <A>(load: () => Promise<A>): Promise<A> => {
  const saved: Array<readonly [object, PropertyKey, PropertyDescriptor]> = []
  for (const owner of intrinsics()) {
    for (const key of Reflect.ownKeys(owner)) {
      const descriptor = Object.getOwnPropertyDescriptor(owner, key)
      if (descriptor !== undefined && typeof descriptor.value === "function") saved.push([owner, key, descriptor])
    }
  }
  try {
    return await load()
  } finally {
    for (const [owner, key, descriptor] of saved) {
      const now = Object.getOwnPropertyDescriptor(owner, key)
      if (now?.value !== descriptor.value && now?.configurable !== false) Object.defineProperty(owner, key, descriptor)
    }
  }
}

/**
 * Loads the pdf.js module and its patched worker code (once per process or thread: the fake
 * worker takes `globalThis.pdfjsWorker`, which must be set before the first document opens), with
 * the built-ins it replaced put back (`keepingBuiltins`).
 */
let loaded: Promise<{ readonly worker: unknown; readonly pdfjs: Pdfjs }> | undefined

const loadModules = () =>
  keepingBuiltins(async () => {
    const worker = await loadPatchedWorker()
    return { worker, pdfjs: await import("pdfjs-dist/legacy/build/pdf.mjs") }
  })

export const load: Effect.Effect<{ readonly pdfjs: Pdfjs; readonly assets: ReturnType<typeof assetPaths> }, ParseError> =
  Effect.tryPromise({
    try: async () => {
      // A failed load is not kept: the next PDF tries again.
      const modules = await (loaded ??= loadModules().catch((cause: unknown) => {
        loaded = undefined
        throw cause
      }))
      const global = globalThis as Record<string, unknown>
      global["pdfjsWorker"] = modules.worker
      global[GUARD] = guard
      return { pdfjs: modules.pdfjs, assets: assetPaths() }
    },
    catch: (cause) =>
      new ParseError({ reason: "Unknown", message: `pdf.js cannot load: ${errorMessage(cause)}`, cause })
  })

const oneDocument = Effect.unsafeMakeSemaphore(1)

/**
 * Runs `parse` (one document) with its decoding held to `limits`; past them it fails `TooLarge`
 * with a message naming the limit, whatever pdf.js made of the stopped decoding. Documents take
 * turns (the guard's state is the one document's): pdf.js runs on this thread anyway.
 */
export const guardDecoding = <A, R>(
  fileName: string,
  limits: DecodeLimits,
  parse: Effect.Effect<A, ParseError, R>
): Effect.Effect<A, ParseError, R> =>
  oneDocument.withPermits(1)(
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const state = { limits, decoded: 0, exceeded: undefined as string | undefined }
        current = state
        return state
      }),
      (state) =>
        Effect.exit(parse).pipe(
          Effect.flatMap((exit) =>
            state.exceeded === undefined
              ? exit
              : Effect.fail(new ParseError({ reason: "TooLarge", message: `${fileName}: ${state.exceeded}` }))
          )
        ),
      () => Effect.sync(() => void (current = undefined))
    )
  )

/** pdf.js exceptions when opening a document, as `ParseError`s. */
export const openError = (cause: unknown): ParseError => {
  const name = errorName(cause)
  if (name === "PasswordException") {
    return new ParseError({ reason: "Encrypted", message: "the PDF is password-protected", cause })
  }
  if (name === "InvalidPDFException") {
    return new ParseError({
      reason: "Corrupt",
      message: `not a valid PDF (truncated or damaged): ${errorMessage(cause)}`,
      cause
    })
  }
  return new ParseError({ reason: "Corrupt", message: `the PDF cannot be read: ${errorMessage(cause)}`, cause })
}

/** Opens a document; it is destroyed when the scope closes, whether opening succeeded or not. */
export const openDocument = (
  pdfjs: Pdfjs,
  assets: ReturnType<typeof assetPaths>,
  bytes: Uint8Array,
  maxImagePixels: number
): Effect.Effect<PDFDocumentProxy, ParseError, Scope.Scope> =>
  Effect.gen(function*() {
    const task = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          pdfjs.getDocument({
            // pdf.js may take ownership of the buffer: hand it a copy.
            // A copy, as a plain Uint8Array: pdf.js takes the buffer over and refuses Node's Buffer.
            data: new Uint8Array(bytes),
            standardFontDataUrl: assets.standardFontDataUrl,
            cMapUrl: assets.cMapUrl,
            cMapPacked: true,
            isEvalSupported: false,
            // Images past this are not decoded (the decode guard then fails the document).
            maxImageSize: maxImagePixels,
            useSystemFonts: false,
            disableFontFace: true,
            stopAtErrors: false,
            verbosity: pdfjs.VerbosityLevel.ERRORS
          }),
        catch: openError
      }),
      (task) => Effect.promise(() => task.destroy().catch(() => undefined))
    )
    return yield* Effect.tryPromise({ try: () => task.promise, catch: openError })
  })

/** A page of an open document; its resources are released (`page.cleanup()`) when the scope closes. */
export const openPage = (doc: PDFDocumentProxy, pageNumber: number): Effect.Effect<PDFPageProxy, ParseError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => doc.getPage(pageNumber),
      catch: (cause) =>
        new ParseError({ reason: "Corrupt", message: `page ${pageNumber} of the PDF cannot be read: ${errorMessage(cause)}`, cause })
    }),
    (page) => Effect.sync(() => page.cleanup())
  )

interface NodeCanvas {
  readonly width: number
  readonly height: number
  readonly toBuffer: (mime: "image/png") => Uint8Array
}
interface CanvasFactory {
  readonly create: (width: number, height: number) => { canvas: NodeCanvas; context: unknown }
  readonly destroy: (pair: { canvas: NodeCanvas; context: unknown }) => void
}

/**
 * Renders a page to PNG at `scale` (1 = 72 dpi) on a white background, with pdf.js's own canvas
 * factory (in Node: `@napi-rs/canvas`, an optional dependency of pdfjs-dist).
 */
export const renderPage = (doc: PDFDocumentProxy, page: PDFPageProxy, scale: number): Effect.Effect<Uint8Array, ParseError> =>
  Effect.tryPromise({
    try: async () => {
      const viewport = page.getViewport({ scale })
      const factory = doc.canvasFactory as CanvasFactory
      const pair = factory.create(Math.max(1, Math.ceil(viewport.width)), Math.max(1, Math.ceil(viewport.height)))
      try {
        await page.render({ canvas: pair.canvas, canvasContext: pair.context, viewport, background: "#ffffff" }).promise
        return new Uint8Array(pair.canvas.toBuffer("image/png"))
      } finally {
        factory.destroy(pair)
      }
    },
    catch: (cause) =>
      new ParseError({
        reason: "Unknown",
        message: `page ${page.pageNumber} of the PDF cannot be rendered for OCR: ${errorMessage(cause)}`,
        cause
      })
  })
