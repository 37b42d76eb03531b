/**
 * Images: one `image` section whose text is what OCR reads in it, line by line in reading order,
 * with the image bytes for the ingestion to store and the line boxes (in pixels) as positions on
 * page 1.
 *
 *   const Parsers = ImageParser.layer.pipe(Layer.provide(Ocr.layer()), Layer.provide(Parser.layer([Parser.TextParser])))
 */
import { ParseError, Parser as ParserPort } from "@ragkit/core"
import { Effect, Layer } from "effect"
import { sniffImage } from "../internal/ocrImage.js"
import { Ocr } from "../Ocr.js"
import type { OcrService } from "../Ocr.js"

type Parser = ParserPort.Parser

export const extensions: ReadonlyArray<string> = ["png", "jpg", "jpeg", "gif", "webp", "tif", "tiff"]
export const mimeTypes: ReadonlyArray<string> = ["image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff"]

/** The image parser over an OCR engine. */
export const make = (ocr: OcrService): Parser => ({
  name: "image",
  extensions,
  mimeTypes,
  parse: (input) =>
    Effect.gen(function*() {
      if (input.bytes.length === 0) {
        return yield* new ParseError({ reason: "Empty", message: `file ${input.fileName} is empty` })
      }
      const info = sniffImage(input.bytes)
      if (info === undefined) {
        return yield* new ParseError({
          reason: "Corrupt",
          message: `file ${input.fileName} is not a readable image (PNG, JPEG, GIF, WebP or TIFF)`
        })
      }
      const lines = yield* ocr.recognize(input.bytes)
      return {
        sections: [{
          text: lines.map((line) => line.text).join("\n"),
          kind: "image" as const,
          page: 1,
          positions: lines.map((line) => [1, line.box[0], line.box[2], line.box[1], line.box[3]] as const),
          image: { bytes: input.bytes, mime: info.mime }
        }],
        metadata: {
          mime: info.mime,
          ...(info.width === undefined ? {} : { width: info.width, height: info.height }),
          ocr_lines: lines.length
        }
      }
    }).pipe(Effect.withSpan("ImageParser.parse", { attributes: { fileName: input.fileName, size: input.bytes.length } }))
})

/** The image parser, over the `Ocr` below it. */
export const parser: Effect.Effect<Parser, never, Ocr> = Effect.map(Ocr, make)

/** Adds the image parser to the `ParserRegistry` below it. */
export const layer: Layer.Layer<ParserPort.ParserRegistry, never, ParserPort.ParserRegistry | Ocr> = Layer.unwrapEffect(
  Effect.map(parser, (p) => ParserPort.contribute([p]))
)
