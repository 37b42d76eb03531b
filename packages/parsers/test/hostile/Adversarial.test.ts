/**
 * 1 MB of adversarial HTML, Markdown and CSV (`@ragkit/fixtures/hostile`: every shape that took
 * time by the square of its size before issue 11) each parse within a generous bound: the
 * quadratic code took minutes on any one of them. The same for chunking and token counting
 * (parse -> chunk -> tokenize of 1 MB inputs). Not a speed test: `bench/adversarial.ts` prints
 * the times.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { DocumentPreparer, Tokenizer } from "@ragkit/core"
import { fileName, mixed } from "@ragkit/fixtures/hostile"
import { Effect, Layer } from "effect"
import * as Parsers from "../../src/index.js"
import { CsvParser, HtmlParser, MarkdownParser } from "../../src/index.js"

const MB = 1024 * 1024
const BOUND_MS = 20_000

describe("adversarial inputs parse in linear time", () => {
  for (const [format, parser] of [["html", HtmlParser], ["markdown", MarkdownParser], ["csv", CsvParser]] as const) {
    it.effect(`1 MB of adversarial ${format}`, () =>
      Effect.gen(function*() {
        const bytes = new TextEncoder().encode(mixed(format, MB))
        expect(bytes.length).toBeGreaterThan(0.9 * MB)
        const started = performance.now()
        const doc = yield* parser.parse({ bytes, fileName: fileName(format) })
        const elapsed = performance.now() - started
        expect(doc.sections.length).toBeGreaterThan(0)
        expect(elapsed).toBeLessThan(BOUND_MS)
      }), 60_000)
  }
})

describe("adversarial inputs chunk and count tokens in linear time", () => {
  const Preparer = DocumentPreparer.layerLocal.pipe(Layer.provideMerge(Parsers.layerWithoutOcr()), Layer.provideMerge(Tokenizer.layer))
  const inputs = [
    // One 1 MB "word": byte-pair encoding is quadratic in a piece's length.
    ["word.txt", "naive", "a".repeat(MB)],
    // A 1 MB line of dots (a table-of-contents leader that never ends in a page number).
    ["leaders.txt", "book", `Preface\nIntroduction${".".repeat(MB)}y\nThe body text.\n`],
    // A heading with a 1 MB run of spaces, joined into one line by the hierarchical methods.
    ["heading.html", "laws", `<h1>Article${" ".repeat(MB)}\n1</h1><p>Text.</p>`],
    ["hostile.md", "manual", mixed("markdown", MB)]
  ] as const
  layer(Preparer, { timeout: 120_000 })((it) => {
    for (const [fileName, parserId, text] of inputs) {
      it.effect(`${fileName} with the ${parserId} method`, () =>
        Effect.gen(function*() {
          const preparer = yield* DocumentPreparer.DocumentPreparer
          const started = performance.now()
          const prepared = yield* preparer.prepare({ bytes: new TextEncoder().encode(text), fileName, parserId, parserConfig: {} })
          expect(prepared.chunks.length).toBeGreaterThan(0)
          expect(performance.now() - started).toBeLessThan(BOUND_MS)
        }), 60_000)
    }
  })
})
