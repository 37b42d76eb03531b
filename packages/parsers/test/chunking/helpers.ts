import { type ChunkMethod, type Parser, Tokenizer } from "@ragkit/core"
import { Layer } from "effect"

/**
 * Stand-in tokenizer: whitespace-separated words. Switch to the real `Tokenizer` layer (tiktoken
 * cl100k) once it lands; the tests only rely on counts being additive over pieces.
 */
export const wordCount = (text: string) => text.split(/\s+/).filter(Boolean).length

export const words: Tokenizer.TokenizerService = {
  countTokens: wordCount,
  tokenize: (t) => t.toLowerCase().split(/\W+/).filter(Boolean).join(" "),
  fineTokenize: (t) => t
}

export const WordsTokenizer = Layer.succeed(Tokenizer.Tokenizer, words)

export const text = (t: string, extra: Partial<Parser.Section> = {}): Parser.Section => ({ kind: "text", text: t, ...extra })
export const title = (t: string, level?: number, extra: Partial<Parser.Section> = {}): Parser.Section =>
  level === undefined ? { kind: "title", text: t, ...extra } : { kind: "title", text: t, level, ...extra }
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>, extra: Partial<Parser.Section> = {}): Parser.Section => ({
  kind: "table",
  text: rows.map((r) => r.join("\t")).join("\n"),
  table: { rows },
  ...extra
})
export const doc = (...sections: ReadonlyArray<Parser.Section>): Parser.ParsedDocument => ({ sections })

export const meta: ChunkMethod.ChunkMethodMeta = { docName: "doc.txt" }

/** `n` words: w0 w1 ... */
export const wordsLine = (n: number, tag = "w") => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(" ")
