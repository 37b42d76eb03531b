import { describe, expect, it, layer } from "@effect/vitest"
import { Parser } from "@ragkit/core"
import { Effect, Layer } from "effect"
import { contributeEml, EmlParser } from "../../src/formats/EmlParser.js"
import * as Corpus from "@ragkit/fixtures/corpus"
import { findSection, parse, parseError } from "./helpers.js"

describe("EmlParser", () => {
  it.effect("subject as title, headers first, the body, and attachments parsed recursively", () =>
    Effect.gen(function*() {
      const doc = yield* parse(EmlParser, Corpus.eml)
      expect(doc.sections[0]).toMatchObject({ kind: "title", text: "Quarterly figures" })
      expect(doc.sections[1]!.text).toBe(
        "From: Alice Example <alice@example.com>\n" +
          "To: Bob Example <bob@example.com>, carol@example.com\n" +
          "Cc: Dan <dan@example.com>\n" +
          "Subject: Quarterly figures\n" +
          "Date: 2024-03-05T10:30:00.000Z"
      )
      findSection(doc, "text", "Please find the quarterly figures attached.")
      findSection(doc, "title", "Attachment: notes.txt")
      findSection(doc, "text", "The attached notes say revenue grew in March.")
      findSection(doc, "title", "Attachment: forwarded.eml")
      findSection(doc, "text", "The nested message body mentions the figures.")
      findSection(doc, "title", "Attachment: figures.csv")
      const nestedTable = doc.sections.find((s) => s.kind === "table")
      expect(nestedTable?.table?.rows).toEqual([["Quarter", "Sales"], ["Q1", "1500"], ["Q2", "1700"]])
      findSection(doc, "title", "Attachment: blob.bin (application/octet-stream, 8 B) — not parsed")
      expect(doc.metadata).toMatchObject({
        subject: "Quarterly figures",
        from: "Alice Example <alice@example.com>",
        cc: "Dan <dan@example.com>",
        date: "2024-03-05T10:30:00.000Z",
        attachments: ["notes.txt", "forwarded.eml", "blob.bin"]
      })
    }))

  it.effect("bytes that are no mail are Corrupt; an empty file is Empty", () =>
    Effect.gen(function*() {
      expect((yield* parseError(EmlParser, { fileName: "x.eml", bytes: Corpus.binaryMarkdown.bytes })).reason).toBe("Corrupt")
      expect((yield* parseError(EmlParser, { fileName: "x.eml", bytes: new Uint8Array(0) })).reason).toBe("Empty")
    }))

  it.effect("nesting is capped: a mail attached three levels deep is only listed, whatever the options say", () =>
    Effect.gen(function*() {
      const wrap = (inner: string, depth: number) =>
        [
          `Subject: Level ${depth}`,
          "MIME-Version: 1.0",
          "Content-Type: multipart/mixed; boundary=\"b" + depth + "\"",
          "",
          `--b${depth}`,
          "Content-Type: text/plain",
          "",
          `Body of level ${depth}.`,
          `--b${depth}`,
          "Content-Type: message/rfc822",
          `Content-Disposition: attachment; filename="level${depth + 1}.eml"`,
          "",
          inner,
          `--b${depth}--`,
          ""
        ].join("\r\n")
      const deepest = "Subject: Level 4\r\n\r\nBody of level 4.\r\n"
      const mail = wrap(wrap(wrap(deepest, 3), 2), 1)
      // The depth is the deployment's limit (`ParserLimits.emlMaxDepth`): a document's options never move it.
      for (const options of [undefined, { emlDepth: -100 }]) {
        const doc = yield* parse(EmlParser, { fileName: "deep.eml", bytes: Corpus.utf8(mail) }, options)
        findSection(doc, "text", "Body of level 3.")
        expect(doc.sections.some((s) => s.text.includes("Body of level 4."))).toBe(false)
        findSection(doc, "title", "Attachment: level4.eml (message/rfc822")
      }
    }))
})

const Registry = contributeEml().pipe(Layer.provide(Parser.layer([Parser.TextParser])))

layer(Registry)("contributeEml", (it) => {
  it.effect("attachments go through the registry below; unknown formats are listed", () =>
    Effect.gen(function*() {
      const registry = yield* Parser.ParserRegistry
      const doc = yield* registry.parse({ bytes: Corpus.eml.bytes, fileName: Corpus.eml.fileName })
      findSection(doc, "text", "The attached notes say revenue grew in March.")
      findSection(doc, "text", "The nested message body mentions the figures.")
      findSection(doc, "title", "Attachment: figures.csv (text/csv")
      expect(registry.parsers.map((p) => p.name)).toEqual(["eml", "text"])
    }))
})
