/**
 * The default setup of a parser thread: every parser of this package (with OCR when `ocr` is set)
 * and every chunk method, over its own tokenizer.
 *
 * A setup module exports `layer`: a Layer of `ParserRegistry | ChunkMethodRegistry | Tokenizer`
 * with no requirements, or a function from the pool's `setupOptions` to one.
 */
import { Tokenizer } from "@ragkit/core"
import { Layer } from "effect"
import * as Parsers from "../index.js"

export interface SetupOptions {
  /** Read scanned PDF pages and images with the bundled OCR models. */
  readonly ocr?: boolean
}

export const layer = (options: SetupOptions = {}) =>
  (options.ocr === true ? Parsers.layer : Parsers.layerWithoutOcr).pipe(Layer.provideMerge(Tokenizer.layer))
