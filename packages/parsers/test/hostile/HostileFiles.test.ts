/**
 * Hostile files end as a `ParseError` that names the problem, never as a crash: ZIP headers that
 * point past their bounds, XML character references beyond Unicode, e-mail parts without a type
 * (issue 11, defect 6); and decoding is bounded: PDF streams that inflate past the deployment's
 * limits, images too large to decode (defect 7).
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Parser, ParseError } from "@ragkit/core"
import * as Corpus from "@ragkit/fixtures/corpus"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import JSZip from "jszip"
import * as ImageParser from "../../src/formats/ImageParser.js"
import * as PdfParser from "../../src/formats/PdfParser.js"
import * as Parsers from "../../src/index.js"
import { decodeXmlEntities, InvalidCharacterReference } from "../../src/internal/zip.js"
import * as Ocr from "../../src/Ocr.js"
import * as ParserLimits from "../../src/ParserLimits.js"
import { zip64OverrunDocx } from "./mutations.js"
import { flateBombPdf, hugeImagePdf, manyStreamsPdf, tiff } from "./pdfs.js"

/** The ParseError a parse failed with; a defect (a crash) fails the test with its message. */
const failure = <A>(exit: Exit.Exit<A, ParseError>): ParseError => {
  if (Exit.isSuccess(exit)) return expect.fail("expected a ParseError, but the parse succeeded")
  const error = Cause.failureOption(exit.cause)
  if (Option.isNone(error)) return expect.fail(`expected a ParseError, got a crash: ${Cause.pretty(exit.cause)}`)
  return error.value
}

const parse = (fileName: string, bytes: Uint8Array) =>
  Effect.exit(Effect.flatMap(Parser.ParserRegistry, (registry) => registry.parse({ bytes, fileName })))

const zipOf = async (parts: Record<string, string>) => {
  const zip = new JSZip()
  for (const [name, content] of Object.entries(parts)) zip.file(name, content)
  return zip.generateAsync({ type: "uint8array", compression: "DEFLATE" })
}

describe("hostile ZIP, XML and e-mail files", () => {
  layer(Parsers.layerParsersWithoutOcr())((it) => {
    it.effect("a 136-byte DOCX whose ZIP64 extra field runs past its header fails Corrupt, naming it", () =>
      Effect.gen(function*() {
        const bytes = zip64OverrunDocx()
        expect(bytes.length).toBe(136)
        const error = failure(yield* parse("tiny.docx", bytes))
        expect([error.reason, error.message]).toEqual([
          "Corrupt",
          "tiny.docx: not a valid DOCX (the extra field of entry word/document.xml overruns its header)"
        ])
      }))

    it.effect("a character reference above U+10FFFF fails Corrupt, naming the part and the reference", () =>
      Effect.gen(function*() {
        const slides = Corpus.pptxParts()
        slides["ppt/slides/slide3.xml"] = slides["ppt/slides/slide3.xml"]!.replace("Next Steps", "Next &#x110000; Steps")
        const pptx = failure(yield* parse("deck.pptx", yield* Effect.promise(() => zipOf(slides))))
        expect([pptx.reason, pptx.message]).toEqual([
          "Corrupt",
          "deck.pptx: PPTX part ppt/slides/slide3.xml has an invalid character reference &#x110000;"
        ])
        const words = Corpus.docxParts()
        words["docProps/core.xml"] = words["docProps/core.xml"]!.replace("Annual Report 2024", "Annual &#99999999999999999999; Report")
        const docx = failure(yield* parse("report.docx", yield* Effect.promise(() => zipOf(words))))
        expect(docx.reason).toBe("Corrupt")
        expect(docx.message).toMatch(/^report\.docx: DOCX part docProps\/core\.xml has an invalid character reference &#9999/)
      }))

    it.effect("an e-mail cut off in an attached mail's part headers is read, not a crash", () =>
      Effect.gen(function*() {
        // Cut right after an inner part's `Content-Type:`, which then has no value.
        const text = new TextDecoder().decode(Corpus.eml.bytes)
        const at = text.indexOf("Content-Type: ", text.indexOf("--inner")) + "Content-Type: ".length
        const cut = new TextEncoder().encode(text.slice(0, at))
        const exit = yield* parse("cut.eml", cut)
        if (Exit.isFailure(exit)) expect.fail(`expected the mail to be read, got ${Cause.pretty(exit.cause)}`)
      }))
  })

  it("decodes character references up to U+10FFFF and refuses the ones beyond", () => {
    expect(decodeXmlEntities("&#x10FFFF;&#65;&amp;&#x41;")).toBe("\u{10FFFF}A&A")
    expect(() => decodeXmlEntities("a &#1114112; b")).toThrow(InvalidCharacterReference)
    expect(() => decodeXmlEntities("&#x110000;")).toThrow("an invalid character reference &#x110000;")
  })
})

describe("bounded PDF decoding", () => {
  const small = ParserLimits.make({ pdfMaxStreamBytes: 4 * 1024 * 1024, pdfMaxDecodedBytes: 8 * 1024 * 1024 })
  layer(PdfParser.layerWithoutOcr(small).pipe(Layer.provide(Parser.layer([Parser.TextParser]))))((it) => {
    it.effect("a stream that inflates past the deployment's limit fails TooLarge, naming the limit", () =>
      Effect.gen(function*() {
        const bomb = flateBombPdf(64 * 1024 * 1024)
        expect(bomb.length).toBeLessThan(100_000)
        const error = failure(yield* parse("bomb.pdf", bomb))
        expect([error.reason, error.message]).toEqual(["TooLarge", "bomb.pdf: a stream of the PDF decodes to more than its limit of 4 MiB"])
        // Within the limit the same shape of file parses.
        const fine = yield* parse("fine.pdf", flateBombPdf(1024 * 1024, "Otters hold hands"))
        expect(Exit.isSuccess(fine) && fine.value.sections.map((s) => s.text)).toEqual(["Otters hold hands"])
      }))

    it.effect("streams that inflate past the limit for the whole file together fail TooLarge", () =>
      Effect.gen(function*() {
        const error = failure(yield* parse("many.pdf", manyStreamsPdf(6, 3 * 1024 * 1024)))
        expect([error.reason, error.message]).toEqual([
          "TooLarge",
          "many.pdf: the streams of the PDF decode to more than their limit of 8 MiB in all"
        ])
      }))
  })

  it("has limits by default", () => {
    expect(ParserLimits.defaults).toMatchObject({
      pdfMaxStreamBytes: 128 * 1024 * 1024,
      pdfMaxDecodedBytes: 1024 * 1024 * 1024,
      pdfMaxImagePixels: 50_000_000
    })
  })
})

describe("bounded image decoding for OCR", () => {
  const WithOcr = ImageParser.layer.pipe(
    Layer.provide(PdfParser.layer()),
    Layer.provide(Parser.layer([Parser.TextParser])),
    Layer.provideMerge(Ocr.layer())
  )
  layer(WithOcr, { timeout: 120_000 })((it) => {
    it.effect("an image in a PDF larger than the pixel limit fails TooLarge instead of being decoded", () =>
      Effect.gen(function*() {
        const error = failure(yield* parse("poster.pdf", hugeImagePdf(20_000, 20_000)))
        expect([error.reason, error.message]).toEqual([
          "TooLarge",
          "poster.pdf: an image of the PDF has 20000x20000 pixels, over the limit of 50000000 pixels"
        ])
      }))

    it.effect("a TIFF is checked against the OCR pixel limit; one whose size cannot be read is refused", () =>
      Effect.gen(function*() {
        const huge = failure(yield* parse("huge.tiff", tiff({ width: 50_000, height: 50_000 })))
        expect([huge.reason, huge.message]).toEqual(["TooLarge", "image of 50000x50000 pixels is over the OCR limit of 40000000 pixels"])
        const unsized = failure(yield* parse("unsized.tiff", tiff()))
        expect([unsized.reason, unsized.message]).toEqual(["Corrupt", "the image/tiff image's header gives no size"])
      }))
  })
})
