import { HtmlTables, type Parser, Tokenizer } from "@ragkit/core"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { NaiveChunker } from "../../src/chunking/index.js"
import { doc, meta, table, text } from "./helpers.js"

const prose = (n: number, seed: number) => {
  const words = ["Retrieval", "augmented", "generation", "combines", "search", "with", "language", "models;", "检索增强生成", "结合了", "搜索", "(2024)", "v1.2.3", "naïve", "chunks", "tokens,", "and", "context."]
  return Array.from({ length: n }, (_, i) => words[(i * 7 + seed) % words.length]).join(" ")
}

layer(Tokenizer.layer)("naive with tiktoken cl100k", (it) => {
  it.effect("no chunk is over chunk_token_num by the real count unless it is a single piece", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      const naive = NaiveChunker.make(tokenizer)
      const sections: Array<Parser.Section> = Array.from({ length: 40 }, (_, s) =>
        text(Array.from({ length: 6 }, (_, l) => prose(5 + ((s * 13 + l * 7) % 40), s + l)).join("\n"), { page: 1 + (s >> 3) })
      )
      for (const budget of [64, 128, 512]) {
        for (const overlapped_percent of [0, 20]) {
          const chunks = yield* naive.chunk(doc(...sections), { chunk_token_num: budget, overlapped_percent }, meta)
          expect(chunks.length).toBeGreaterThan(1)
          // A line is one piece (delimiter "\n"): only a chunk of a single line may be bigger.
          const over = chunks.filter((c) => tokenizer.countTokens(c.content) > budget)
          for (const c of over) expect(c.content).not.toContain("\n")
          if (budget === 64) expect(over.length).toBeGreaterThan(0)
        }
      }
    }))

  it.effect("table pieces stay under the budget by the real count", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      const naive = NaiveChunker.make(tokenizer)
      const rows = [["名称", "description"], ...Array.from({ length: 60 }, (_, i) => [`item ${i}`, prose(6, i)])]
      const chunks = yield* naive.chunk(doc(table(rows)), { chunk_token_num: 100 }, meta)
      expect(chunks.length).toBeGreaterThan(1)
      for (const c of chunks) {
        expect(tokenizer.countTokens(c.content)).toBeLessThanOrEqual(100)
        expect(c.content.startsWith(HtmlTables.tableToHtml([rows[0]!]).replace("</table>", ""))).toBe(true)
      }
    }))
})
