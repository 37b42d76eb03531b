/**
 * A parser plugin as an outside author writes one: SubRip subtitles (`.srt`), one `text` section per
 * cue, the cue's time in the section's metadata. It depends only on `@ragkit/core`'s published entry
 * points and implements its `Parser` port; its test runs the port's conformance suite
 * (`ParserSuite` of `@ragkit/core/testing`).
 *
 *   const Parsers = Parser.contribute([SrtParser]).pipe(Layer.provide(Parser.layer([Parser.TextParser])))
 */
import { ParseError, Parser } from "@ragkit/core"
import { Effect } from "effect"

const timing = /^(\d{2}:\d{2}:\d{2}[,.]\d{3})\s*-->\s*(\d{2}:\d{2}:\d{2}[,.]\d{3})/

export const SrtParser: Parser.Parser = {
  name: "srt",
  extensions: ["srt"],
  mimeTypes: ["application/x-subrip"],
  parse: (input) =>
    Effect.gen(function* () {
      const text = yield* Effect.try({
        try: () => new TextDecoder("utf-8", { fatal: true }).decode(input.bytes),
        catch: (cause) => new ParseError({ reason: "Corrupt", message: `file ${input.fileName} is not UTF-8 text`, cause })
      })
      if (text.trim() === "") return yield* new ParseError({ reason: "Empty", message: `file ${input.fileName} has no cues` })
      const sections = []
      for (const block of text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n").split(/\n\s*\n/)) {
        const lines = block.trim().split("\n")
        const at = lines.findIndex((line) => timing.test(line))
        if (at < 0 || at > 1) continue
        const [, from, to] = timing.exec(lines[at]!)!
        const cue = lines.slice(at + 1).join(" ").trim()
        if (cue !== "") sections.push({ text: cue, kind: "text" as const, metadata: { from, to } })
      }
      if (sections.length === 0) {
        return yield* new ParseError({ reason: "Corrupt", message: `file ${input.fileName} has no SubRip cues` })
      }
      return { sections }
    })
}

/** The registry with the plain-text parser and this one. */
export const layer = Parser.contribute([SrtParser])
