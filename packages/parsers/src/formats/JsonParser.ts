/**
 * JSON and JSON Lines: one `text` section per top-level record (an array element, a JSONL line, or
 * the whole value), rendered as `key: value` lines with dotted paths for nested objects
 * (`address.city: Paris`) and compact JSON for arrays of plain values, as RAGFlow flattens JSON
 * for chunking. A record longer than the deployment's `jsonSectionChars` (`ParserLimits`, default
 * 2,000 characters) is split at line ends. Invalid JSON fails with `Corrupt` (with the line for JSON Lines).
 */
import type { Parser } from "@ragkit/core"
import { ParseError } from "@ragkit/core"
import { Effect } from "effect"
import { corrupt, decodeText, empty, messageOf, normaliseNewlines, splitText } from "../internal/text.js"
import * as ParserLimits from "../ParserLimits.js"

const isPlain = (value: unknown) => value === null || typeof value !== "object"

const scalar = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value))

/** `path: value` lines for a value. */
export const flattenJson = (value: unknown, path = "", out: Array<string> = []): Array<string> => {
  const prefix = (key: string) => (path === "" ? key : `${path}.${key}`)
  if (isPlain(value)) {
    out.push(path === "" ? scalar(value) : `${path}: ${scalar(value)}`)
  } else if (Array.isArray(value)) {
    if (value.every(isPlain)) out.push(path === "" ? JSON.stringify(value) : `${path}: ${JSON.stringify(value)}`)
    else value.forEach((item, i) => flattenJson(item, `${path}[${i}]`, out))
  } else {
    const entries = Object.entries(value as Record<string, unknown>)
    if (entries.length === 0 && path !== "") out.push(`${path}: {}`)
    for (const [key, item] of entries) flattenJson(item, prefix(key), out)
  }
  return out
}

const recordSections = (records: ReadonlyArray<unknown>, max: number): Array<Parser.Section> =>
  records.flatMap((record) =>
    splitText(flattenJson(record).join("\n"), max)
      .filter((text) => text.trim() !== "")
      .map((text) => ({ kind: "text" as const, text }))
  )

const parseLines = (text: string, fileName: string): Array<unknown> | ParseError => {
  const records: Array<unknown> = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === "") continue
    try {
      records.push(JSON.parse(line))
    } catch (cause) {
      return corrupt(`${fileName}: invalid JSON on line ${i + 1}: ${messageOf(cause)}`, cause)
    }
  }
  return records
}

/** JSON (`json`) and JSON Lines (`jsonl`, `ldjson`, `ndjson`), records split at the deployment's `limits.jsonSectionChars`. */
export const makeJsonParser = (limits: ParserLimits.ParserLimits): Parser.Parser => ({
  name: "json",
  extensions: ["json", "jsonl", "ldjson", "ndjson"],
  mimeTypes: ["application/json", "application/jsonl", "application/x-ndjson", "application/ld+json", "application/x-jsonlines"],
  parse: Effect.fn("JsonParser.parse")(function*(input: Parser.ParseInput) {
    const text = normaliseNewlines(yield* decodeText(input.bytes, input.fileName))
    if (text.trim() === "") return yield* empty(input.fileName)
    const lines = /\.(jsonl|ldjson|ndjson)$/i.test(input.fileName)
    let records: Array<unknown>
    if (lines) {
      const parsed = parseLines(text, input.fileName)
      if (parsed instanceof ParseError) return yield* parsed
      records = parsed
    } else {
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch (cause) {
        // A `.json` file that is really JSON Lines.
        const asLines = text.trim().includes("\n") ? parseLines(text, input.fileName) : undefined
        if (asLines === undefined || asLines instanceof ParseError) {
          return yield* corrupt(`${input.fileName}: invalid JSON: ${messageOf(cause)}`, cause)
        }
        value = asLines
      }
      records = Array.isArray(value) ? value : [value]
    }
    const sections = recordSections(records, limits.jsonSectionChars)
    if (sections.length === 0) return yield* empty(input.fileName, "no records")
    return { sections, metadata: { records: records.length } }
  })
})

/** JSON and JSON Lines, with the default limits. */
export const JsonParser: Parser.Parser = makeJsonParser(ParserLimits.defaults)
