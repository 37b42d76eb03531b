import { Parser } from "@ragkit/core"
import { sentences, threePagePdf } from "@ragkit/fixtures/pdfs"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import * as PdfParser from "../../src/formats/PdfParser.js"

// Taken before pdf.js loads: it loads on the first PDF, and each test file runs in its own process.
const natives = {
  "Array.prototype.push": Array.prototype.push,
  "JSON.stringify": JSON.stringify,
  "JSON.parse": JSON.parse,
  "Function.prototype.toString": Function.prototype.toString
}
const current = () => ({
  "Array.prototype.push": Array.prototype.push,
  "JSON.stringify": JSON.stringify,
  "JSON.parse": JSON.parse,
  "Function.prototype.toString": Function.prototype.toString
})

describe("pdf.js and the thread's built-ins", () => {
  it("reading a PDF leaves the built-ins the legacy build's core-js replaces as they were, and keeps what it adds", async () => {
    const parsers = PdfParser.layerWithoutOcr().pipe(Layer.provide(Parser.layer([Parser.TextParser])))
    const doc = await Effect.runPromise(
      Effect.flatMap(Parser.ParserRegistry, (registry) =>
        Effect.flatMap(Effect.promise(threePagePdf), (bytes) => registry.parse({ bytes, fileName: "report.pdf" }))
      ).pipe(Effect.provide(parsers))
    )
    expect(doc.sections.map((s) => s.text).join(" ")).toContain(sentences.heading)
    expect(current()).toEqual(natives)
    // pdf.js on Node 20 needs these additions; they stay.
    expect(typeof (Promise as { withResolvers?: unknown }).withResolvers).toBe("function")
    // The built-ins still behave.
    const list: Array<number> = []
    expect(list.push(1, 2)).toBe(2)
    expect(JSON.parse(JSON.stringify({ a: [1, "b"] }))).toEqual({ a: [1, "b"] })
  })
})
