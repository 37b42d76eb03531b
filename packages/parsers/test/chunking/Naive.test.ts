import { ChunkMethod, HtmlTables } from "@ragkit/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { NaiveChunker } from "../../src/chunking/index.js"
import { doc, meta, table, text, title, wordCount, words, wordsLine } from "./helpers.js"

const naive = NaiveChunker.make(words)
const run = (d: Parameters<typeof naive.chunk>[0], config: Record<string, unknown> = {}) => naive.chunk(d, config, meta)

describe("naive", () => {
  it.effect("packs lines up to chunk_token_num; only a single oversized piece goes over", () =>
    Effect.gen(function*() {
      const lines = Array.from({ length: 20 }, (_, i) => wordsLine(10, `l${i}-`))
      lines.splice(7, 0, wordsLine(50, "big"))
      const chunks = yield* run(doc(text(lines.slice(0, 10).join("\n")), text(lines.slice(10).join("\n"))), { chunk_token_num: 35 })
      for (const c of chunks) {
        if (wordCount(c.content) > 35) expect(c.content).toBe(wordsLine(50, "big"))
      }
      expect(chunks.filter((c) => wordCount(c.content) > 35)).toHaveLength(1)
      // Nothing lost, nothing reordered.
      expect(chunks.map((c) => c.content).join("\n")).toBe(lines.join("\n"))
      // Greedy: three 10-word lines per chunk.
      expect(wordCount(chunks[0]!.content)).toBe(30)
    }))

  it.effect("default config: 512 tokens, newline delimiter", () =>
    Effect.gen(function*() {
      const lines = Array.from({ length: 120 }, () => wordsLine(10))
      const chunks = yield* run(doc(text(lines.join("\n"))))
      expect(chunks.map((c) => wordCount(c.content))).toEqual([510, 510, 180])
    }))

  it.effect("multi-character delimiters in backticks: one chunk per segment, delimiter dropped", () =>
    Effect.gen(function*() {
      const chunks = yield* run(doc(text("alpha beta##gamma\ndelta##epsilon")), { delimiter: "`##`", chunk_token_num: 100 })
      expect(chunks.map((c) => c.content)).toEqual(["alpha beta", "gamma\ndelta", "epsilon"])
    }))

  it.effect("single-character delimiters keep sentence punctuation", () =>
    Effect.gen(function*() {
      const chunks = yield* run(doc(text("One two! Three four? Five six。七八")), { delimiter: "\n!?。", chunk_token_num: 2 })
      expect(chunks.map((c) => c.content)).toEqual(["One two!", "Three four?", "Five six。", "七八"])
      // "\\n" typed as two characters is a newline.
      const escaped = yield* run(doc(text("a b\nc d")), { delimiter: "\\n", chunk_token_num: 2 })
      expect(escaped.map((c) => c.content)).toEqual(["a b", "c d"])
    }))

  it.effect("overlapped_percent starts each chunk with the tail of the previous one", () =>
    Effect.gen(function*() {
      const lines = Array.from({ length: 12 }, (_, i) => wordsLine(10, `l${i}-`))
      const plain = yield* run(doc(text(lines.join("\n"))), { chunk_token_num: 40 })
      const overlapped = yield* run(doc(text(lines.join("\n"))), { chunk_token_num: 40, overlapped_percent: 25 })
      expect(overlapped.length).toBeGreaterThan(plain.length)
      for (const c of overlapped) expect(wordCount(c.content)).toBeLessThanOrEqual(40)
      for (let i = 1; i < overlapped.length; i++) {
        const previous = overlapped[i - 1]!.content
        const lastWord = previous.split(/\s+/).pop()!
        const [carry] = overlapped[i]!.content.split("\n")
        expect(previous.endsWith(carry!)).toBe(true)
        expect(carry!.endsWith(lastWord)).toBe(true)
      }
    }))

  it.effect("chunks carry the pages and positions of their sections", () =>
    Effect.gen(function*() {
      const chunks = yield* run(
        doc(
          text("a b c", { page: 1, positions: [[1, 10, 100, 20, 30]] }),
          text("d e f", { page: 2, positions: [[2, 10, 100, 40, 50]] }),
          text(wordsLine(8), { page: 3 })
        ),
        { chunk_token_num: 6 }
      )
      expect(chunks.map((c) => c.page_num)).toEqual([[1, 2], [3]])
      expect(chunks[0]!.positions).toEqual([[1, 10, 100, 20, 30], [2, 10, 100, 40, 50]])
      expect(chunks[1]!.positions).toEqual([])
    }))

  it.effect("a table is its own HTML chunk; a large one is split by rows with the header repeated", () =>
    Effect.gen(function*() {
      const small = [["name", "age"], ["Ann", "31"], ["Bob", "42"]]
      const chunks = yield* run(doc(text("before"), table(small, { page: 4 }), text("after")))
      expect(chunks.map((c) => c.content)).toEqual(["before", HtmlTables.tableToHtml(small), "after"])
      expect(chunks[1]!.page_num).toEqual([4])

      const rows = [["city", "country"], ...Array.from({ length: 40 }, (_, i) => [`city ${i} <x>`, `country ${i}`])]
      const big = yield* run(doc(table(rows)), { chunk_token_num: 30 })
      expect(big.length).toBeGreaterThan(1)
      const header = "<table><tr><th>city</th><th>country</th></tr>"
      for (const c of big) {
        expect(c.content.startsWith(header)).toBe(true)
        expect(c.content.endsWith("</table>")).toBe(true)
        expect(wordCount(c.content)).toBeLessThanOrEqual(30)
      }
      const cells = big.flatMap((c) => [...c.content.matchAll(/<td>(city [0-9]+ &lt;x&gt;)<\/td>/g)].map((m) => m[1]))
      expect(cells).toEqual(rows.slice(1).map((r) => HtmlTables.escapeHtml(r[0]!)))
    }))

  it.effect("an image with OCR text is its own chunk with the image; one without text gives none", () =>
    Effect.gen(function*() {
      const bytes = new Uint8Array([1, 2, 3])
      const chunks = yield* run(
        doc(
          text("intro"),
          { kind: "image", text: "Figure 1: a cat", image: { bytes, mime: "image/png" }, page: 2 },
          { kind: "image", text: "  ", image: { bytes } }
        )
      )
      expect(chunks).toHaveLength(2)
      expect(chunks[1]).toMatchObject({ content: "Figure 1: a cat", image: { bytes, mime: "image/png" }, page_num: [2] })
    }))

  it.effect("a heading stays with the text after it", () =>
    Effect.gen(function*() {
      const chunks = yield* run(doc(text(wordsLine(8)), title("Next Part", 2), text(wordsLine(8, "x"))), { chunk_token_num: 10 })
      expect(chunks.map((c) => c.content)).toEqual([wordsLine(8), `Next Part\n${wordsLine(8, "x")}`])
    }))

  it.effect("unknown config keys are ignored and bad values fall back to defaults", () =>
    Effect.gen(function*() {
      const d = doc(text(Array.from({ length: 120 }, () => wordsLine(10)).join("\n")))
      const defaults = yield* run(d)
      const odd = yield* run(d, {
        chunk_token_num: "many",
        delimiter: 42,
        overlapped_percent: "lots",
        layout_recognize: "DeepDOC",
        my_own_key: { nested: true }
      })
      expect(odd).toEqual(defaults)
      expect(yield* run(d, { chunk_token_num: -5 })).toEqual(defaults)
      expect(yield* run(d, { chunk_token_num: "512" })).toEqual(defaults)
    }))

  it.effect("the registry entry", () =>
    Effect.gen(function*() {
      const registry = ChunkMethod.makeRegistry([naive])
      expect((yield* registry.require("naive")).accepts).toContain("pdf")
    }))
})
