import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import * as ChunkMethod from "../src/ports/ChunkMethod.js"
import * as Parser from "../src/ports/Parser.js"

const utf8 = (text: string) => new TextEncoder().encode(text)
const parseText = (bytes: Uint8Array, fileName = "notes.txt") => Parser.TextParser.parse({ bytes, fileName })

describe("TextParser", () => {
  it.effect("splits text into sections on blank lines", () =>
    Effect.gen(function*() {
      const doc = yield* parseText(utf8("Title line\r\nsecond line\r\n\r\n\n  indented para\n \t \nlast één 中文\n\n\n"))
      expect(doc.sections).toEqual([
        { text: "Title line\nsecond line", kind: "text" },
        { text: "  indented para", kind: "text" },
        { text: "last één 中文", kind: "text" }
      ])
    }))

  it.effect("decodes UTF-8 with a BOM and UTF-16 with a BOM", () =>
    Effect.gen(function*() {
      const bom = yield* parseText(Uint8Array.from([0xef, 0xbb, 0xbf, ...utf8("héllo")]))
      expect(bom.sections).toEqual([{ text: "héllo", kind: "text" }])
      const utf16 = Uint8Array.from([0xff, 0xfe, 0x68, 0x00, 0xe9, 0x00, 0x0a, 0x00, 0x0a, 0x00, 0x21, 0x00])
      expect((yield* parseText(utf16)).sections.map((s) => s.text)).toEqual(["hé", "!"])
    }))

  it.effect("fails with Empty on empty or blank input", () =>
    Effect.gen(function*() {
      expect((yield* Effect.flip(parseText(new Uint8Array(0)))).reason).toBe("Empty")
      expect((yield* Effect.flip(parseText(utf8(" \n\n\t\n")))).reason).toBe("Empty")
    }))

  it.effect("fails with Corrupt on binary content", () =>
    Effect.gen(function*() {
      const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48])
      const nul = yield* Effect.flip(parseText(png))
      expect(nul._tag).toBe("ParseError")
      expect(nul.reason).toBe("Corrupt")
      const invalid = Uint8Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? 0x41 : 0xff))
      expect((yield* Effect.flip(parseText(invalid))).reason).toBe("Corrupt")
      const controls = Uint8Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? 0x01 : 0x61))
      expect((yield* Effect.flip(parseText(controls))).reason).toBe("Corrupt")
      // One stray Latin-1 byte in a long text is not binary.
      const stray = Uint8Array.from([...utf8("caf"), 0xe9, ...utf8(" au lait, ".repeat(10))])
      expect((yield* parseText(stray)).sections).toHaveLength(1)
    }))
})

describe("ParserRegistry", () => {
  const fake = (name: string, extensions: ReadonlyArray<string>, mimeTypes: ReadonlyArray<string> = []): Parser.Parser => ({
    name,
    extensions,
    mimeTypes,
    parse: () => Effect.succeed({ sections: [{ text: name, kind: "text" }] })
  })

  it.effect("parses with the parser for the extension and rejects unknown ones with Unsupported", () =>
    Effect.gen(function*() {
      const registry = yield* Parser.ParserRegistry
      const doc = yield* registry.parse({ bytes: utf8("hello"), fileName: "README.TXT" })
      expect(doc.sections).toEqual([{ text: "hello", kind: "text" }])
      const error = yield* Effect.flip(registry.parse({ bytes: utf8("x"), fileName: "slides.key" }))
      expect(error._tag).toBe("ParseError")
      expect(error.reason).toBe("Unsupported")
      expect(error.message).toContain("slides.key")
      expect(Option.isNone(registry.forFile("noextension"))).toBe(true)
      expect((yield* Effect.flip(registry.parse({ bytes: new Uint8Array(0), fileName: "a.txt" }))).reason).toBe("Empty")
    }).pipe(Effect.provide(Parser.layer([Parser.TextParser]))))

  it.effect("prefers the longest extension, falls back to the MIME type, and lets contributions override", () =>
    Effect.gen(function*() {
      const registry = yield* Parser.ParserRegistry
      const name = (fileName: string, mime?: string) =>
        Option.map(registry.forFile(fileName, mime), (p) => p.name)
      expect(name("a.tar.gz")).toEqual(Option.some("tarball"))
      expect(name("a.gz")).toEqual(Option.some("gzip"))
      expect(name("a.txt")).toEqual(Option.some("better-text"))
      expect(name("upload", "text/plain; charset=utf-8")).toEqual(Option.some("better-text"))
      expect(name("upload", "application/gzip")).toEqual(Option.some("gzip"))
      expect(name("upload", "application/x-unknown")).toEqual(Option.none())
      expect(name("a.log")).toEqual(Option.some("text"))
    }).pipe(
      Effect.provide(
        Parser.contribute([fake("better-text", ["txt"], ["text/plain"]), fake("tarball", ["tar.gz"])]).pipe(
          Layer.provide(Parser.layer([fake("gzip", ["gz"], ["application/gzip"]), Parser.TextParser]))
        )
      )
    ))
})

describe("ParserRegistry and U+0000", () => {
  const nul: Parser.Parser = {
    name: "nul",
    extensions: ["nul"],
    mimeTypes: [],
    parse: () =>
      Effect.succeed({
        sections: [
          { text: "clean text", kind: "text" },
          { text: "fi\u0000ne", kind: "title", level: 1, page: 2 },
          { text: "a | b", kind: "table", table: { rows: [["a\u0000", "b"]], html: "<table><tr><td>a\u0000</td><td>b</td></tr></table>" } }
        ],
        metadata: { title: "T\u0000itle", authors: ["x\u0000y"], pages: 3 }
      })
  }

  it.effect("drops the NUL character from every parser's text, tables and metadata", () =>
    Effect.gen(function*() {
      const registry = yield* Parser.ParserRegistry
      const doc = yield* registry.parse({ bytes: utf8("x"), fileName: "doc.nul" })
      expect(doc.sections).toEqual([
        { text: "clean text", kind: "text" },
        { text: "fine", kind: "title", level: 1, page: 2 },
        { text: "a | b", kind: "table", table: { rows: [["a", "b"]], html: "<table><tr><td>a</td><td>b</td></tr></table>" } }
      ])
      expect(doc.metadata).toEqual({ title: "Title", authors: ["xy"], pages: 3 })
    }).pipe(Effect.provide(Parser.layer([nul]))))
})

describe("ChunkMethodRegistry", () => {
  const method = (id: string, tag: string): ChunkMethod.ChunkMethod => ({
    id,
    accepts: ["txt"],
    chunk: () => Effect.succeed([{ content: tag, page_num: [], positions: [] }])
  })

  it.effect("finds methods by id and tells unknown ids from uninstalled ones", () =>
    Effect.gen(function*() {
      const registry = yield* ChunkMethod.ChunkMethodRegistry
      expect(registry.ids).toEqual(["naive", "qa"])
      const naive = yield* registry.require("naive")
      expect(yield* naive.chunk({ sections: [] }, {}, { docName: "a.txt" })).toEqual([
        { content: "contributed", page_num: [], positions: [] }
      ])
      const missing = yield* Effect.flip(registry.require("book"))
      expect(missing.reason).toBe("Unsupported")
      expect(missing.message).toContain("not installed")
      const unknown = yield* Effect.flip(registry.require("bogus"))
      expect(unknown.message).toContain("unsupported parser id")
      expect(Option.isNone(registry.get("bogus"))).toBe(true)
      expect(ChunkMethod.ChunkMethodIds).toContain("knowledge_graph")
      expect(ChunkMethod.isChunkMethodId("book")).toBe(true)
      expect(ChunkMethod.isChunkMethodId("bogus")).toBe(false)
    }).pipe(
      Effect.provide(
        ChunkMethod.contribute([method("naive", "contributed")]).pipe(
          Layer.provide(ChunkMethod.layer([method("naive", "base"), method("qa", "qa")]))
        )
      )
    ))
})
