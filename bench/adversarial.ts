/**
 * Parse times of adversarial inputs: every shape in `@ragkit/fixtures/hostile` that took time by the
 * square of its size before issue 11, at 100 KB and 1 MB, and each format's patterns mixed in one
 * file. Linear parsing shows as about ten times the 100 KB time at 1 MB.
 *
 *   npx tsx --conditions=development bench/adversarial.ts [--runs 5] [--sizes 100000,1000000]
 *
 * Each input is parsed `--runs` times by its parser (`HtmlParser`, `MarkdownParser`, `CsvParser` of
 * `@ragkit/parsers`, bytes -> sections, no chunking) after one untimed warm-up; the table shows the
 * median. The whole run is one process on the calling thread.
 */
import { CsvParser, HtmlParser, MarkdownParser } from "@ragkit/parsers"
import { fileName, mixed, type Pattern, patterns } from "@ragkit/fixtures/hostile"
import { Effect } from "effect"
import * as os from "node:os"

const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`)
  return at >= 0 ? process.argv[at + 1]! : fallback
}
const runs = Number(arg("runs", "5"))
const sizes = arg("sizes", "100000,1000000").split(",").map(Number)

const parsers = { html: HtmlParser, markdown: MarkdownParser, csv: CsvParser }

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const time = async (format: Pattern["format"], text: string): Promise<{ ms: number; outcome: string }> => {
  const bytes = new TextEncoder().encode(text)
  const parse = () => Effect.runPromiseExit(parsers[format].parse({ bytes, fileName: fileName(format) }))
  const first = await parse()
  const outcome = first._tag === "Success" ? `${first.value.sections.length} sections` : "fails"
  const times: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    await parse()
    times.push(performance.now() - started)
  }
  return { ms: median(times), outcome }
}

const kb = (n: number) => (n >= 1_000_000 ? `${(n / 1_000_000).toFixed(1)} MB` : `${Math.round(n / 1000)} KB`)

const main = async () => {
  const cpus = os.cpus()
  console.log(
    `Machine: ${cpus[0]?.model.trim() ?? "unknown CPU"}, ${cpus.length} cores (os.cpus), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, Node ${process.version}, ${os.platform()} ${os.arch()}. Load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(", ")}.`
  )
  console.log(`Median of ${runs} runs after one warm-up; parse only (bytes -> sections). MB = 10^6 bytes.\n`)
  console.log(`| format | input | ${sizes.map((s) => `${kb(s)} (ms)`).join(" | ")} | ratio | result |`)
  console.log(`|---|---|${sizes.map(() => "---:").join("|")}|---:|---|`)
  const inputs: Array<{ format: Pattern["format"]; name: string; make: (n: number) => string }> = [
    ...patterns,
    ...(["html", "markdown", "csv"] as const).map((format) => ({ format, name: "all of the above, mixed", make: (n: number) => mixed(format, n) }))
  ]
  for (const input of inputs) {
    const cells: Array<string> = []
    const ms: Array<number> = []
    let outcome = ""
    for (const size of sizes) {
      const text = input.make(size)
      const result = await time(input.format, text)
      ms.push(result.ms)
      outcome = result.outcome
      cells.push(`${result.ms.toFixed(1)} (${kb(new TextEncoder().encode(text).length)})`)
    }
    const ratio = ms.length > 1 ? (ms[ms.length - 1]! / Math.max(ms[0]!, 0.1)).toFixed(1) : ""
    console.log(`| ${input.format} | ${input.name} | ${cells.join(" | ")} | ${ratio} | ${outcome} |`)
  }
  console.log(`\nLoad average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(", ")}.`)
}

void main()
