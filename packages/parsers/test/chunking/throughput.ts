/**
 * Throughput of the naive chunker: `npx tsx packages/parsers/test/chunking/throughput.ts [MB]`.
 * Prints MB/s with the whitespace stand-in tokenizer and with the real tiktoken tokenizer layer. Not a test: timings are measured here, never asserted.
 */
import { ChunkMethod, type Parser, Tokenizer } from "@ragkit/core"
import { Console, Effect, Layer } from "effect"
import * as Chunking from "../../src/chunking/index.js"
import { WordsTokenizer } from "./helpers.js"

const megabytes = Number(process.argv[2] ?? "10")

const vocabulary = "the of and a to in is you that it he was for on are as with his they I at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part".split(" ")

const makeDoc = (bytes: number): Parser.ParsedDocument => {
  const sections: Array<Parser.Section> = []
  let size = 0
  let seed = 7
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648)
  while (size < bytes) {
    const lines: Array<string> = []
    const lineCount = 3 + (next() % 8)
    for (let l = 0; l < lineCount; l++) {
      const n = 5 + (next() % 25)
      const ws: Array<string> = []
      // One word in five is random, so that caches see realistic vocabulary growth.
      for (let w = 0; w < n; w++) ws.push(next() % 5 === 0 ? next().toString(36) : vocabulary[next() % vocabulary.length]!)
      lines.push(`${ws.join(" ")}.`)
    }
    const t = lines.join("\n")
    size += t.length
    sections.push({ kind: "text", text: t, page: 1 + Math.floor(sections.length / 20) })
  }
  return { sections }
}

const measure = (label: string, tokenizer: Layer.Layer<Tokenizer.Tokenizer>, d: Parser.ParsedDocument, bytes: number) =>
  Effect.gen(function*() {
    const registry = yield* ChunkMethod.ChunkMethodRegistry
    const naive = yield* registry.require("naive")
    yield* naive.chunk({ sections: d.sections.slice(0, 200) }, {}, { docName: "warmup" })
    const start = performance.now()
    const chunks = yield* naive.chunk(d, { chunk_token_num: 512 }, { docName: "bench.txt" })
    const seconds = (performance.now() - start) / 1000
    yield* Console.log(
      `${label.padEnd(24)} ${(bytes / 1e6).toFixed(1)} MB  ${chunks.length} chunks  ${seconds.toFixed(2)} s  ${(bytes / 1e6 / seconds).toFixed(1)} MB/s`
    )
  }).pipe(Effect.provide(Chunking.layer.pipe(Layer.provide(tokenizer))))

const program = Effect.gen(function*() {
  const d = makeDoc(megabytes * 1e6)
  const bytes = d.sections.reduce((sum, s) => sum + s.text.length, 0)
  yield* measure("stand-in (words)", WordsTokenizer, d, bytes)
  yield* measure("tiktoken cl100k", Tokenizer.layer, d, bytes)
})

Effect.runPromise(program)
