/**
 * Text helpers shared by the parsers: decoding with binary detection (as core's `TextParser`
 * does), whitespace normalisation, natural sort, option reading and splitting long text.
 */
import { ParseError, Parser } from "@ragkit/core"
import { Effect } from "effect"

export const corrupt = (message: string, cause?: unknown): ParseError =>
  new ParseError({ reason: "Corrupt", message, ...(cause === undefined ? {} : { cause }) })

export const empty = (fileName: string, what = "no text"): ParseError =>
  new ParseError({ reason: "Empty", message: `file ${fileName} has ${what}` })

export const tooLarge = (message: string): ParseError => new ParseError({ reason: "TooLarge", message })

/** The message of an unknown thrown value (a stack overflow reads as nesting too deep). */
export const messageOf = (cause: unknown): string =>
  cause instanceof RangeError && cause.message.includes("call stack")
    ? `nesting too deep (${cause.message})`
    : cause instanceof Error
    ? cause.message
    : typeof cause === "string"
    ? cause
    : String(cause)

/** Text decoding with binary detection: core's, shared with its plain-text parser. */
export const decodeText = (bytes: Uint8Array, fileName: string): Effect.Effect<string, ParseError> =>
  Parser.decodeText(bytes, fileName)

/** CRLF and CR line ends to LF. */
export const normaliseNewlines = (text: string): string => text.replace(/\r\n?/g, "\n")

/** Runs of spaces and tabs (and non-breaking spaces) to one space, per line; blank-line runs to one. */
export const normaliseWhitespace = (text: string): string =>
  normaliseNewlines(text)
    .split("\n")
    .map((line) => line.replace(/[ \t\f\v\u00a0]+/g, " ").trim())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim()

/** All whitespace (newlines too) to single spaces. */
export const collapseWhitespace = (text: string): string => text.replace(/\s+/gu, " ").trim()

/**
 * Each run of whitespace that holds a line break becomes one space; other runs stay. In linear
 * time, where the pattern `\s*\n\s*` is quadratic on a long run of spaces without a line break.
 */
export const joinLines = (text: string): string => text.replace(/\s+/g, (run) => (run.includes("\n") ? " " : run))

const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" })

/** Compares so that `slide2` sorts before `slide10`. */
export const naturalCompare = (a: string, b: string): number => collator.compare(a, b)

/**
 * Splits text into pieces of at most `max` characters, at line ends when it can (then at spaces,
 * then anywhere). Pieces are trimmed of surrounding blank lines.
 */
export const splitText = (text: string, max: number): Array<string> => {
  if (text.length <= max) return [text]
  const pieces: Array<string> = []
  let current = ""
  const push = () => {
    if (current.trim().length > 0) pieces.push(current.replace(/^\n+|\n+$/g, ""))
    current = ""
  }
  for (const line of text.split("\n")) {
    if (line.length > max) {
      push()
      let rest = line
      while (rest.length > max) {
        let cut = rest.lastIndexOf(" ", max)
        if (cut < max / 2) cut = max
        pieces.push(rest.slice(0, cut))
        rest = rest.slice(cut).replace(/^ /, "")
      }
      current = rest
      continue
    }
    if (current.length > 0 && current.length + 1 + line.length > max) push()
    current = current.length === 0 ? line : `${current}\n${line}`
  }
  push()
  return pieces
}

/** Paragraphs: runs of lines separated by blank lines, without the blank ones. */
export const paragraphs = (text: string): Array<string> =>
  normaliseNewlines(text)
    .split(/\n[ \t\f\v]*\n/)
    .map((paragraph) => paragraph.replace(/^\n+/, "").trimEnd())
    .filter((paragraph) => paragraph.trim().length > 0)
