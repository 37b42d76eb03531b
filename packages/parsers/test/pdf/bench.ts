/**
 * Measures PDF text extraction on a generated 200-page PDF and OCR time per image.
 *
 *   npx tsx packages/parsers/test/pdf/bench.ts
 */
import { Effect } from "effect"
import * as Pdfjs from "../../src/internal/pdfjs.js"
import * as Ocr from "../../src/Ocr.js"
import * as PdfParser from "../../src/formats/PdfParser.js"
import { textImage } from "@ragkit/fixtures/images"
import { longPdf, scannedPdf } from "@ragkit/fixtures/pdfs"

const out = (line: string) => process.stdout.write(`${line}\n`)

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const value = yield* effect
    return [value, performance.now() - start] as const
  })

const program = Effect.gen(function*() {
  const pages = 200
  const bytes = yield* Effect.promise(() => longPdf(pages))
  const parser = yield* PdfParser.makeWithoutOcr()
  yield* parser.parse({ bytes: yield* Effect.promise(() => longPdf(2)), fileName: "warm-up.pdf" })
  for (let run = 1; run <= 3; run++) {
    const [doc, ms] = yield* timed(parser.parse({ bytes, fileName: "long.pdf" }))
    const textBytes = doc.sections.reduce((n, s) => n + Buffer.byteLength(s.text), 0)
    out(
      `pdf text, run ${run}: ${pages} pages (${(bytes.length / 1e6).toFixed(2)} MB file, ${doc.sections.length} sections, ` +
        `${(textBytes / 1e6).toFixed(2)} MB text) in ${ms.toFixed(0)} ms: ${(pages / (ms / 1000)).toFixed(0)} pages/s, ` +
        `${(textBytes / 1e6 / (ms / 1000)).toFixed(2)} MB text/s`
    )
  }

  const [ocr, loadMs] = yield* timed(Ocr.make())
  out(`ocr engine load: ${loadMs.toFixed(0)} ms`)
  const images = {
    "1000x259 px, 2 lines of 48 px text": textImage(["Quarterly revenue grew strongly", "Invoice total amount"]),
    "1000x518 px, 5 lines of 48 px text": textImage(["Invoice number 2024-0117", "Customer Acme Corporation", "Item widgets x 40", "Subtotal 1,240.00 EUR", "Payment due in 30 days"])
  }
  for (const [name, png] of Object.entries(images)) {
    yield* ocr.recognize(png)
    const times: Array<number> = []
    for (let i = 0; i < 5; i++) times.push((yield* timed(ocr.recognize(png)))[1])
    out(`ocr ${name}: median ${times.sort((a, b) => a - b)[2]!.toFixed(0)} ms over 5 runs`)
  }
  // A scanned Letter page, as the PDF parser renders it for OCR (scale 2: 1224x1584 px).
  const { pdfjs, assets } = yield* Pdfjs.load
  const scan = yield* Effect.promise(() => scannedPdf(images["1000x518 px, 5 lines of 48 px text"]))
  const withOcr = yield* PdfParser.make(ocr)
  const times: Array<number> = []
  for (let i = 0; i < 3; i++) times.push((yield* timed(withOcr.parse({ bytes: scan, fileName: "scan.pdf" })))[1])
  out(`scanned Letter page (render at 144 dpi + OCR): median ${times.sort((a, b) => a - b)[1]!.toFixed(0)} ms over 3 runs`)
  yield* Effect.scoped(Effect.gen(function*() {
    const doc = yield* Pdfjs.openDocument(pdfjs, assets, scan, 50_000_000)
    const page = yield* Pdfjs.openPage(doc, 1)
    const [, renderMs] = yield* timed(Pdfjs.renderPage(doc, page, 2))
    out(`  of which rendering: ${renderMs.toFixed(0)} ms`)
  }))
})

Effect.runPromise(Effect.scoped(program)).catch((error) => out(`bench failed: ${String(error)}`))
