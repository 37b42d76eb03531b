import { describe, expect, it, layer } from "@effect/vitest"
import { Parser, ParseError } from "@ragkit/core"
import { ParserSuite } from "@ragkit/core/testing"
import { Cause, Config, ConfigProvider, Effect, Exit, Layer, Option, Redacted, TestServices } from "effect"
import * as Unstructured from "../../src/Unstructured.js"
import { API_KEY, closedPort, FakeUnstructured, layer as FakeServerLayer } from "./server.js"

const utf8 = (text: string) => new TextEncoder().encode(text)
const pdfBytes = utf8("%PDF-1.7\n% a stand-in: the fake server does not read it\n")

/** The parser a host already has for PDFs, to see where documents go. */
const LocalPdf: Parser.Parser = {
  name: "local-pdf",
  extensions: ["pdf"],
  mimeTypes: ["application/pdf"],
  parse: () => Effect.succeed({ sections: [{ text: "parsed locally", kind: "text" }] })
}

const BaseRegistry = Parser.layer([LocalPdf, Parser.TextParser])

/** The registry with Unstructured contributed, pointing at the fake server. */
const RoutedRegistry = Layer.unwrapEffect(
  Effect.map(FakeUnstructured, ({ url }) =>
    Unstructured.contributeUnstructured({
      serverUrl: url,
      apiKey: Redacted.make(API_KEY),
      strategy: "hi_res",
      languages: ["eng", "deu"],
      timeoutMs: 10_000
    })
  )
).pipe(Layer.provide(BaseRegistry))

const failure = <A>(exit: Exit.Exit<A, ParseError>): ParseError => {
  if (Exit.isSuccess(exit)) return expect.fail("expected a ParseError, but the parse succeeded")
  const error = Cause.failureOption(exit.cause)
  if (Option.isNone(error)) return expect.fail(`not a typed failure: ${Cause.pretty(exit.cause)}`)
  expect(error.value).toBeInstanceOf(ParseError)
  return error.value
}

const selectUnstructured = { layout_recognize: "Unstructured" } as const

layer(Layer.merge(FakeServerLayer, RoutedRegistry.pipe(Layer.provide(FakeServerLayer))))((it) => {
  describe("UnstructuredParser", () => {
    it.effect("sends the file, strategy, languages and API key as the API documents", () =>
      Effect.gen(function*() {
        const server = yield* FakeUnstructured
        const registry = yield* Parser.ParserRegistry
        const before = server.received.length
        yield* registry.parse({ bytes: pdfBytes, fileName: "report.pdf", options: selectUnstructured })
        const request = server.received[before]!
        expect(request.path).toBe("/general/v0/general")
        expect(request.apiKey).toBe(API_KEY)
        expect(request.fileName).toBe("report.pdf")
        expect(request.fileSize).toBe(pdfBytes.length)
        expect(request.fields["strategy"]).toEqual(["hi_res"])
        expect(request.fields["coordinates"]).toEqual(["true"])
        expect(request.fields["languages"]).toEqual(["eng", "deu"])
      }))

    it.effect("maps elements to sections: titles with levels, text, table rows, list, code; headers dropped", () =>
      Effect.gen(function*() {
        const registry = yield* Parser.ParserRegistry
        const doc = yield* registry.parse({ bytes: pdfBytes, fileName: "report.pdf", options: selectUnstructured })
        expect(doc.sections.map((s) => [s.kind, s.text, s.page, s.level])).toEqual([
          ["title", "Quarterly Report", 1, 1],
          ["title", "Revenue", 1, 2],
          ["text", "Revenue grew by twelve percent over the quarter.", 1, undefined],
          ["table", "Region Sales North 10 South 20", 1, undefined],
          ["list", "Hire two engineers", 1, undefined],
          ["text", "The outlook for the next quarter is stable.", 2, undefined],
          ["code", "E = mc^2", 2, undefined]
        ])
        const texts = doc.sections.map((s) => s.text).join("\n")
        expect(texts).not.toContain("ACME Corp confidential")
        expect(texts).not.toContain("Page 2 of 2")

        const table = doc.sections.find((s) => s.kind === "table")!
        expect(table.table!.rows).toEqual([["Region", "Sales"], ["North", "10"], ["South & East", "20"]])
        expect(table.table!.html).toContain("<table>")

        // Pixel coordinates of a PDF page rendered at 200 dpi become PDF points; point coordinates stay.
        const title = doc.sections[0]!
        expect(title.positions).toEqual([[1, 72, 288, 36, 54]])
        const page2 = doc.sections[5]!
        expect(page2.positions).toEqual([[2, 72, 540, 90, 120]])
        expect(doc.metadata).toMatchObject({ parser: "unstructured", pages: 2, languages: ["eng"] })
      }))

    it.effect("routes by layout_recognize: Unstructured when selected, the local parser otherwise", () =>
      Effect.gen(function*() {
        const server = yield* FakeUnstructured
        const registry = yield* Parser.ParserRegistry
        const before = server.received.length

        const local = yield* registry.parse({ bytes: pdfBytes, fileName: "report.pdf" })
        expect(local.sections.map((s) => s.text)).toEqual(["parsed locally"])
        const deepdoc = yield* registry.parse({
          bytes: pdfBytes,
          fileName: "report.pdf",
          options: { layout_recognize: "DeepDOC" }
        })
        expect(deepdoc.sections.map((s) => s.text)).toEqual(["parsed locally"])
        expect(server.received.length).toBe(before)

        const remote = yield* registry.parse({ bytes: pdfBytes, fileName: "REPORT.PDF", options: selectUnstructured })
        expect(remote.sections[0]!.text).toBe("Quarterly Report")
        expect(server.received.length).toBe(before + 1)

        // Plain text is also read by Unstructured when the document asks for it.
        const txt = yield* registry.parse({ bytes: utf8("notes"), fileName: "notes.txt", options: selectUnstructured })
        expect(txt.sections[0]!.text).toBe("Quarterly Report")
        const plain = yield* registry.parse({ bytes: utf8("notes"), fileName: "notes.txt" })
        expect(plain.sections.map((s) => s.text)).toEqual(["notes"])
      }))

    it.effect("formats only Unstructured reads go to it and are accepted only where it is configured", () =>
      Effect.gen(function*() {
        const registry = yield* Parser.ParserRegistry
        expect(Option.map(registry.forFile("book.epub"), (p) => p.name)).toEqual(Option.some("unstructured"))
        expect(Option.map(registry.forFile("report.pdf"), (p) => p.name)).toEqual(Option.some("local-pdf"))
        expect(Option.map(registry.forFile("notes.txt"), (p) => p.name)).toEqual(Option.some("text"))
        expect(Option.isNone(registry.forFile("archive.xyz"))).toBe(true)
        const book = yield* registry.parse({ bytes: utf8("PK epub"), fileName: "book.epub" })
        expect(book.sections.map((s) => [s.kind, s.text])).toEqual([
          ["title", "Chapter One"],
          ["text", "It was a bright cold day in April."]
        ])

        const base = yield* Effect.provide(Parser.ParserRegistry, BaseRegistry)
        expect(Option.isNone(base.forFile("book.epub"))).toBe(true)
        const refused = yield* Effect.exit(base.parse({ bytes: utf8("PK epub"), fileName: "book.epub" }))
        expect(failure(refused).reason).toBe("Unsupported")
      }))

    it.effect("an empty element list, or only headers and footers, is Empty; an empty file is not sent", () =>
      Effect.gen(function*() {
        const server = yield* FakeUnstructured
        const registry = yield* Parser.ParserRegistry
        const blank = yield* Effect.exit(registry.parse({ bytes: pdfBytes, fileName: "blank.pdf", options: selectUnstructured }))
        expect(failure(blank).reason).toBe("Empty")
        const headers = yield* Effect.exit(
          registry.parse({ bytes: pdfBytes, fileName: "headers-only.pdf", options: selectUnstructured })
        )
        expect(failure(headers).reason).toBe("Empty")
        const before = server.received.length
        const empty = yield* Effect.exit(
          registry.parse({ bytes: new Uint8Array(0), fileName: "book.epub", options: selectUnstructured })
        )
        expect(failure(empty).reason).toBe("Empty")
        expect(server.received.length).toBe(before)
      }))

    it.effect("what the server cannot read is Corrupt or Unsupported, with the server's detail", () =>
      Effect.gen(function*() {
        const registry = yield* Parser.ParserRegistry
        const broken = failure(
          yield* Effect.exit(registry.parse({ bytes: pdfBytes, fileName: "broken.pdf", options: selectUnstructured }))
        )
        expect(broken.reason).toBe("Corrupt")
        expect(broken.message).toContain("broken.pdf does not appear to be a valid file")

        const parser = Unstructured.make({ serverUrl: (yield* FakeUnstructured).url, apiKey: Redacted.make(API_KEY) })
        const unsupported = failure(yield* Effect.exit(parser.parse({ bytes: pdfBytes, fileName: "data.xyz" })))
        expect(unsupported.reason).toBe("Unsupported")
        expect(unsupported.message).toContain("is not supported")
      }))

    it.effect("a wrong API key is ParseError Unknown: the API key was rejected", () =>
      Effect.gen(function*() {
        const { url } = yield* FakeUnstructured
        for (const apiKey of [Redacted.make("wrong"), undefined]) {
          const parser = Unstructured.make({ serverUrl: url, apiKey })
          const error = failure(yield* Effect.exit(parser.parse({ bytes: pdfBytes, fileName: "report.pdf" })))
          expect(error.reason).toBe("Unknown")
          expect(error.message).toContain("Unstructured API rejected the API key")
          expect(error.message).not.toContain(API_KEY)
        }
      }))

    it.effect("a server error is ParseError Unavailable: unavailable at the URL, with the server's detail", () =>
      Effect.gen(function*() {
        const { url } = yield* FakeUnstructured
        const registry = yield* Parser.ParserRegistry
        const error = failure(
          yield* Effect.exit(registry.parse({ bytes: pdfBytes, fileName: "crash.pdf", options: selectUnstructured }))
        )
        expect(error.reason).toBe("Unavailable")
        expect(error.message).toContain(`Unstructured API unavailable at ${url}`)
        expect(error.message).toContain("500")
        expect(error.message).toContain("model failed to load")
      }))

    it.effect("a server that does not answer in time is ParseError Unavailable, after the timeout", () =>
      Effect.gen(function*() {
        const { url } = yield* FakeUnstructured
        const parser = Unstructured.make({ serverUrl: url, apiKey: Redacted.make(API_KEY), timeoutMs: 300 })
        const started = Date.now()
        const error = failure(yield* Effect.exit(parser.parse({ bytes: pdfBytes, fileName: "slow.pdf" })))
        const elapsed = Date.now() - started
        expect(error.reason).toBe("Unavailable")
        expect(error.message).toContain(`Unstructured API unavailable at ${url}`)
        expect(error.message).toContain("300 ms")
        expect(elapsed).toBeGreaterThanOrEqual(280)
        expect(elapsed).toBeLessThan(5_000)
      }).pipe(TestServices.provideLive), { timeout: 20_000 }) // the timeout runs on the real clock
  })
})

describe("UnstructuredParser without a server", () => {
  it.effect("connection refused is ParseError Unavailable: unavailable at the URL", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const serverUrl = `http://127.0.0.1:${port}`
      const parser = Unstructured.make({ serverUrl, timeoutMs: 5_000 })
      const started = Date.now()
      const error = failure(yield* Effect.exit(parser.parse({ bytes: pdfBytes, fileName: "report.pdf" })))
      expect(error.reason).toBe("Unavailable")
      expect(error.message).toContain(`Unstructured API unavailable at ${serverUrl}`)
      expect(error.message).toMatch(/ECONNREFUSED/u)
      // No hidden retry loop: the ingestion decides about retries.
      expect(Date.now() - started).toBeLessThan(2_000)
    }))

  it.effect("layerConfig reads the options from configuration and refuses a bad URL at start-up", () =>
    Effect.gen(function*() {
      const Configured = Unstructured.layerConfig({
        serverUrl: Config.string("UNSTRUCTURED_URL"),
        apiKey: Config.option(Config.redacted("UNSTRUCTURED_API_KEY")).pipe(Config.map(Option.getOrUndefined)),
        strategy: Config.literal("auto", "fast", "hi_res", "ocr_only")("UNSTRUCTURED_STRATEGY")
      }).pipe(Layer.provide(BaseRegistry))
      const withConfig = (entries: ReadonlyArray<readonly [string, string]>) =>
        Effect.provide(Parser.ParserRegistry, Configured).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries)))
        )

      const registry = yield* withConfig([["UNSTRUCTURED_URL", "http://127.0.0.1:1"], ["UNSTRUCTURED_STRATEGY", "fast"]])
      expect(Option.map(registry.forFile("book.epub"), (p) => p.name)).toEqual(Option.some("unstructured"))

      const badUrl = yield* Effect.exit(withConfig([["UNSTRUCTURED_URL", "not a url"], ["UNSTRUCTURED_STRATEGY", "fast"]]))
      expect(Exit.isFailure(badUrl) && String(Cause.squash(badUrl.cause))).toContain("serverUrl")
      const badStrategy = yield* Effect.exit(
        withConfig([["UNSTRUCTURED_URL", "http://127.0.0.1:1"], ["UNSTRUCTURED_STRATEGY", "best"]])
      )
      expect(Exit.isFailure(badStrategy)).toBe(true)
    }))
})

ParserSuite(
  "unstructured (fake server)",
  Layer.unwrapEffect(
    Effect.map(FakeUnstructured, ({ url }) =>
      Unstructured.contributeUnstructured({ serverUrl: url, apiKey: Redacted.make(API_KEY) })
    )
  ).pipe(Layer.provide(Layer.merge(Parser.layer([Parser.TextParser]), FakeServerLayer))),
  [{
    fileName: "book.epub",
    bytes: utf8("PK a stand-in epub"),
    expectText: ["It was a bright cold day in April."],
    expectKinds: ["title", "text"]
  }, {
    fileName: "report.pdf",
    bytes: pdfBytes,
    expectText: ["Quarterly Report"],
    expectKinds: ["title", "table"]
  }],
  { timeout: 30_000 }
)
