/**
 * The default setup of a parser thread: every parser of this package (with OCR when `ocr` is set)
 * under the deployment's `limits`, and every chunk method, over its own tokenizer.
 *
 * A setup module exports `layer`: a Layer of `ParserRegistry | ChunkMethodRegistry | Tokenizer`
 * with no requirements, or a function from the pool's `setupOptions` to one.
 */
import { Tokenizer } from "@ragkit/core"
import { Layer } from "effect"
import * as Parsers from "../index.js"
import type * as ParserLimits from "../ParserLimits.js"

export interface SetupOptions {
  /** Read scanned PDF pages and images with the bundled OCR models. */
  readonly ocr?: boolean
  /** The deployment's parser limits, the same as the host's parsers have (defaults when absent). */
  readonly limits?: Partial<ParserLimits.ParserLimits>
}

export const layer = (options: SetupOptions = {}) =>
  (options.ocr === true ? Parsers.layer : Parsers.layerWithoutOcr)({ limits: options.limits }).pipe(
    Layer.provideMerge(Tokenizer.layer)
  )
