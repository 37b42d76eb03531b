import { describe, expect, layer } from "@effect/vitest"
import { Parser, ParseError } from "@ragkit/core"
import { Effect, Exit, Layer } from "effect"
import * as ImageParser from "../../src/formats/ImageParser.js"
import * as Ocr from "../../src/Ocr.js"
import { textImage, words } from "@ragkit/fixtures/images"

const Parsers = ImageParser.layer.pipe(
  Layer.provide(Parser.layer([Parser.TextParser])),
  Layer.provideMerge(Ocr.layer())
)

const failure = (exit: Exit.Exit<unknown, ParseError>): ParseError => {
  if (Exit.isSuccess(exit)) return expect.fail("expected a ParseError, but it succeeded")
  const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (error === undefined) return expect.fail(`expected a ParseError, got ${String(exit.cause)}`)
  return error
}

describe("Ocr", () => {
  layer(Parsers, { timeout: 120_000 })((it) => {
    it.effect("reads the words of an image, line by line, with boxes in the image's pixels", () =>
      Effect.gen(function*() {
        const ocr = yield* Ocr.Ocr
        const png = textImage(["Quarterly revenue grew strongly", "Invoice total amount"], { width: 1000, fontSize: 48 })
        const lines = yield* ocr.recognize(png)
        expect(lines.length).toBe(2)
        expect(words(lines[0]!.text)).toEqual(expect.arrayContaining(["quarterly", "revenue", "strongly"]))
        expect(words(lines[1]!.text)).toEqual(expect.arrayContaining(["invoice", "total", "amount"]))
        // The first line's baseline is at 86 px (1.8 x 48), the text starts at 40 px.
        const [x0, y0, x1, y1] = lines[0]!.box
        expect(x0).toBeGreaterThan(25)
        expect(x0).toBeLessThan(55)
        expect(y0).toBeGreaterThan(40)
        expect(y1).toBeLessThan(110)
        expect(x1).toBeGreaterThan(x0 + 500)
        expect(lines[1]!.box[1]).toBeGreaterThan(y1)
        for (const line of lines) expect(line.score).toBeGreaterThan(0.5)
      }))

    it.effect("bytes that are no image fail with Corrupt", () =>
      Effect.gen(function*() {
        const ocr = yield* Ocr.Ocr
        expect(failure(yield* Effect.exit(ocr.recognize(new TextEncoder().encode("not an image")))).reason).toBe("Corrupt")
        const png = textImage(["Truncated"])
        const truncated = failure(yield* Effect.exit(ocr.recognize(png.slice(0, 200))))
        expect(truncated.reason).toBe("Corrupt")
      }))

    it.effect("ImageParser: one image section with the OCR text, the bytes and the line boxes on page 1", () =>
      Effect.gen(function*() {
        const registry = yield* Parser.ParserRegistry
        const png = textImage(["Meeting notes for Tuesday", "Budget approved"])
        const doc = yield* registry.parse({ bytes: png, fileName: "Notes.PNG" })
        expect(doc.sections.length).toBe(1)
        const section = doc.sections[0]!
        expect(section.kind).toBe("image")
        expect(section.page).toBe(1)
        expect(section.image?.mime).toBe("image/png")
        expect(section.image?.bytes).toBe(png)
        expect(words(section.text)).toEqual(expect.arrayContaining(["meeting", "notes", "tuesday", "budget", "approved"]))
        expect(section.text.split("\n").length).toBe(2)
        expect(section.positions?.length).toBe(2)
        for (const [page, x0, x1, top, bottom] of section.positions!) {
          expect(page).toBe(1)
          expect(x1).toBeGreaterThan(x0)
          expect(bottom).toBeGreaterThan(top)
        }
        expect(doc.metadata).toMatchObject({ mime: "image/png", width: 1000, ocr_lines: 2 })
      }))

    it.effect("ImageParser: unreadable image bytes fail with Corrupt", () =>
      Effect.gen(function*() {
        const registry = yield* Parser.ParserRegistry
        const garbage = yield* Effect.exit(registry.parse({ bytes: new TextEncoder().encode("GIF? no"), fileName: "x.jpg" }))
        expect(failure(garbage).reason).toBe("Corrupt")
        const truncated = yield* Effect.exit(registry.parse({ bytes: textImage(["Cut short"]).slice(0, 100), fileName: "x.png" }))
        expect(failure(truncated).reason).toBe("Corrupt")
      }))
  })

  describe("layer", () => {
    layer(Layer.empty)((it) => {
      it.effect("a missing model fails the layer with a clear ParseError", () =>
        Effect.gen(function*() {
          const missing = { detectionPath: "/nonexistent/det.onnx", recognitionPath: "/nonexistent/rec.onnx", dictionaryPath: "/nonexistent/keys.txt" }
          const exit = yield* Effect.exit(Layer.build(Ocr.layer({ models: missing })).pipe(Effect.scoped))
          const error = failure(exit)
          expect(error.message).toMatch(/OCR engine cannot load.*det\.onnx/)
        }))
    })
  })
})
