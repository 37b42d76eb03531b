import { describe, expect, it, layer } from "@effect/vitest"
import { Parser, ParseError } from "@ragkit/core"
import { Effect, Exit, Layer } from "effect"
import * as Ocr from "../../src/Ocr.js"
import * as PdfParser from "../../src/formats/PdfParser.js"
import * as ParserLimits from "../../src/ParserLimits.js"
import { textImage, words } from "@ragkit/fixtures/images"
import { encryptedPdf, PAGE, scannedPdf, sentences, threePagePdf } from "@ragkit/fixtures/pdfs"

const Parsers = PdfParser.layer().pipe(
  Layer.provide(Parser.layer([Parser.TextParser])),
  Layer.provideMerge(Ocr.layer())
)

const parse = (bytes: Uint8Array, options?: Record<string, unknown>) =>
  Effect.flatMap(Parser.ParserRegistry, (registry) =>
    registry.parse({ bytes, fileName: "report.pdf", ...(options === undefined ? {} : { options }) }))

const failure = (exit: Exit.Exit<unknown, ParseError>): ParseError => {
  if (Exit.isSuccess(exit)) return expect.fail("expected a ParseError, but the parse succeeded")
  const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (error === undefined) return expect.fail(`expected a ParseError, got ${String(exit.cause)}`)
  return error
}

const normalise = (text: string) => text.replace(/\s+/gu, " ").trim()

describe("PdfParser", () => {
  layer(Parsers, { timeout: 120_000 })((it) => {
    it.effect("reads the text layer: sentences on their pages, at their places, the heading as a title", () =>
      Effect.gen(function*() {
        const doc = yield* parse(yield* Effect.promise(threePagePdf))
        const find = (sentence: string) => {
          const section = doc.sections.find((s) => normalise(s.text).includes(sentence))
          expect(section, `${JSON.stringify(sentence)} in ${JSON.stringify(doc.sections.map((s) => s.text))}`).toBeDefined()
          return section!
        }

        const heading = find(sentences.heading)
        expect(heading.kind).toBe("title")
        expect(heading.level).toBe(1)
        expect(heading.page).toBe(1)
        const [page, x0, x1, top, bottom] = heading.positions![0]!
        expect(page).toBe(1)
        expect(x0).toBeCloseTo(72, 0)
        expect(x1).toBeGreaterThan(400)
        expect(x1).toBeLessThan(PAGE.width)
        // Baseline 720 pt from the bottom: 72 pt from the top; the box spans the 24 pt glyphs.
        expect(top).toBeGreaterThan(40)
        expect(top).toBeLessThan(72)
        expect(bottom).toBeGreaterThan(72)
        expect(bottom).toBeLessThan(85)

        // The two lines of the first paragraph are one block, the next paragraph another.
        const intro = find(sentences.intro1)
        expect(intro.kind).toBe("text")
        expect(normalise(intro.text)).toBe(`${sentences.intro1} ${sentences.intro2}`)
        const second = find(sentences.second)
        expect(second).not.toBe(intro)
        expect(second.positions![0]![3]).toBeGreaterThan(intro.positions![0]![4])

        // Two columns: two blocks side by side, each with its whole text.
        const left = find(`${sentences.left1} ${sentences.left2}`)
        const right = find(`${sentences.right1} ${sentences.right2}`)
        expect(left).not.toBe(right)
        expect([left.page, right.page]).toEqual([2, 2])
        expect(left.positions![0]![2]).toBeLessThan(right.positions![0]![1])
        expect(Math.abs(left.positions![0]![3] - right.positions![0]![3])).toBeLessThan(2)

        const last = find(sentences.last)
        expect(last.page).toBe(3)
        expect(last.positions![0]![1]).toBeCloseTo(100, 0)
        expect(last.positions![0]![3]).toBeGreaterThan(PAGE.height - 400 - 12)
        expect(last.positions![0]![4]).toBeLessThan(PAGE.height - 400 + 5)

        expect(doc.metadata).toMatchObject({ title: "River Report", author: "Ada Lovelace", page_count: 3, ocr_pages: [] })
      }))

    it.effect("honours the document's pages ranges and the deployment's pdfMaxPages, never a limit in the options", () =>
      Effect.gen(function*() {
        const bytes = yield* Effect.promise(threePagePdf)
        const ranged = yield* parse(bytes, { pages: [[2, 3]] })
        expect([...new Set(ranged.sections.map((s) => s.page))]).toEqual([2, 3])
        const capper = yield* PdfParser.makeWithoutOcr(ParserLimits.make({ pdfMaxPages: 1 }))
        const capped = yield* capper.parse({ bytes, fileName: "report.pdf", options: { max_pages: 3, pdfMaxPages: 3 } })
        expect([...new Set(capped.sections.map((s) => s.page))]).toEqual([1])
        expect(capped.metadata).toMatchObject({ page_count: 3, pages_read: 1 })
        const bad = failure(yield* Effect.exit(parse(bytes, { pages: "1-2" })))
        expect(bad.message).toMatch(/pages/)
      }))

    it.effect("a truncated PDF fails with Corrupt", () =>
      Effect.gen(function*() {
        const bytes = yield* Effect.promise(threePagePdf)
        const error = failure(yield* Effect.exit(parse(bytes.slice(0, Math.floor(bytes.length / 2)))))
        expect(error.reason).toBe("Corrupt")
      }))

    it.effect("garbage fails with Corrupt", () =>
      Effect.gen(function*() {
        const error = failure(yield* Effect.exit(parse(new TextEncoder().encode("%PDF-1.7\nnot really a pdf"))))
        expect(error.reason).toBe("Corrupt")
      }))

    it.effect("an encrypted PDF fails with Encrypted", () =>
      Effect.gen(function*() {
        const error = failure(yield* Effect.exit(parse(encryptedPdf())))
        expect(error.reason).toBe("Encrypted")
        expect(error.message).toBe("report.pdf: the PDF is password-protected")
      }))

    it.effect("a scanned page (an image, no text layer) is read with OCR", () =>
      Effect.gen(function*() {
        const png = textImage(["Quarterly revenue grew strongly", "Invoice total amount"])
        const doc = yield* parse(yield* Effect.promise(() => scannedPdf(png, { textPageFirst: true })))
        expect(doc.metadata).toMatchObject({ page_count: 2, ocr_pages: [2] })
        const scanned = doc.sections.filter((s) => s.page === 2)
        const found = words(scanned.map((s) => s.text).join(" "))
        for (const word of ["quarterly", "revenue", "invoice", "total", "amount"]) expect(found).toContain(word)
        // The image sits 72 pt below the top of the page, 36 pt from the left edge.
        for (const section of scanned) {
          const [page, x0, x1, top, bottom] = section.positions![0]!
          expect(page).toBe(2)
          expect(x0).toBeGreaterThan(36)
          expect(x1).toBeLessThan(PAGE.width - 36)
          expect(top).toBeGreaterThan(72)
          expect(bottom).toBeLessThan(400)
        }
        expect(doc.sections.find((s) => s.page === 1)?.text).toBe(sentences.intro1)
      }))
  })
})

describe("PdfParser without OCR", () => {
  it.effect("a PDF of scans only has no text: Empty", () =>
    Effect.gen(function*() {
      const parser = yield* PdfParser.makeWithoutOcr()
      const bytes = yield* Effect.promise(() => scannedPdf(textImage(["Nothing to read here"])))
      const error = failure(yield* Effect.exit(parser.parse({ bytes, fileName: "scan.pdf" })))
      expect(error.reason).toBe("Empty")
    }))
})
