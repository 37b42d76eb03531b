/**
 * Source code and configuration files: `code` sections cut at blank lines. Small neighbouring
 * blocks are merged up to the deployment's `codeBlockChars` (`ParserLimits`, default 1,500
 * characters) and a longer block is cut at
 * line ends, so sections stay a sensible size for chunking. Binary content fails with `Corrupt`.
 */
import type { Parser } from "@ragkit/core"
import { Effect } from "effect"
import { decodeText, empty, normaliseNewlines, splitText } from "../internal/text.js"
import * as ParserLimits from "../ParserLimits.js"

const LANGUAGES: Record<string, string> = {
  py: "python",
  js: "javascript",
  jsx: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  ts: "typescript",
  tsx: "typescript",
  java: "java",
  c: "c",
  h: "c",
  cpp: "cpp",
  cc: "cpp",
  hpp: "cpp",
  go: "go",
  rs: "rust",
  rb: "ruby",
  php: "php",
  cs: "csharp",
  kt: "kotlin",
  swift: "swift",
  scala: "scala",
  sh: "shell",
  sql: "sql",
  css: "css",
  yaml: "yaml",
  yml: "yaml",
  toml: "toml",
  ini: "ini",
  xml: "xml"
}

/** Blank-line separated blocks, merged while they fit in `max`, long ones cut at line ends. */
export const codeBlocks = (text: string, max: number): Array<string> => {
  const blocks = normaliseNewlines(text)
    .split(/\n[ \t\f\v]*\n/)
    .map((block) => block.replace(/^\n+/, "").trimEnd())
    .filter((block) => block.trim().length > 0)
    .flatMap((block) => splitText(block, max))
  const out: Array<string> = []
  for (const block of blocks) {
    const last = out[out.length - 1]
    if (last !== undefined && last.length + 2 + block.length <= max) out[out.length - 1] = `${last}\n\n${block}`
    else out.push(block)
  }
  return out
}

const extensionOf = (fileName: string) => {
  const dot = fileName.lastIndexOf(".")
  return dot < 0 ? "" : fileName.slice(dot + 1).toLowerCase()
}

/** Source code and configuration files, in blocks of at most the deployment's `limits.codeBlockChars`. */
export const makeCodeParser = (limits: ParserLimits.ParserLimits): Parser.Parser => ({
  name: "code",
  extensions: Object.keys(LANGUAGES),
  mimeTypes: [
    "text/x-python",
    "application/javascript",
    "text/javascript",
    "application/typescript",
    "text/x-typescript",
    "text/x-java-source",
    "text/x-java",
    "text/x-c",
    "text/x-csrc",
    "text/x-chdr",
    "text/x-c++",
    "text/x-c++src",
    "text/x-go",
    "text/x-rust",
    "text/x-ruby",
    "application/x-httpd-php",
    "text/x-php",
    "text/x-csharp",
    "text/x-kotlin",
    "text/x-swift",
    "text/x-scala",
    "application/x-sh",
    "text/x-shellscript",
    "application/sql",
    "text/x-sql",
    "text/css",
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "text/x-yaml",
    "application/toml",
    "text/x-toml",
    "application/xml",
    "text/xml"
  ],
  parse: Effect.fn("CodeParser.parse")(function*(input: Parser.ParseInput) {
    const text = yield* decodeText(input.bytes, input.fileName)
    const blocks = codeBlocks(text, limits.codeBlockChars)
    if (blocks.length === 0) return yield* empty(input.fileName)
    const language = LANGUAGES[extensionOf(input.fileName)]
    return {
      sections: blocks.map((block) => ({ kind: "code" as const, text: block })),
      metadata: language === undefined ? {} : { language }
    }
  })
})

/** Source code and configuration files, with the default limits. */
export const CodeParser: Parser.Parser = makeCodeParser(ParserLimits.defaults)
