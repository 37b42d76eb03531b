/**
 * pdf.js (the `pdfjs-dist` legacy build, for Node) behind Effect: loading the module, opening a
 * document and a page as scoped resources, mapping its exceptions to `ParseError`, and rendering a
 * page to PNG for OCR.
 *
 * No worker thread: in Node pdf.js runs its worker code in the main thread ("fake worker").
 */
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

/** Loads the pdf.js module (once per process; Node caches it). */
export const load: Effect.Effect<{ readonly pdfjs: Pdfjs; readonly assets: ReturnType<typeof assetPaths> }, ParseError> =
  Effect.tryPromise({
    try: async () => ({ pdfjs: await import("pdfjs-dist/legacy/build/pdf.mjs"), assets: assetPaths() }),
    catch: (cause) =>
      new ParseError({ reason: "Unknown", message: `pdf.js cannot load: ${errorMessage(cause)}`, cause })
  })

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
  bytes: Uint8Array
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
