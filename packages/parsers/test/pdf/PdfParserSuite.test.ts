import { Parser } from "@ragkit/core"
import { ParserSuite } from "@ragkit/core/testing"
import { Layer } from "effect"
import * as Ocr from "../../src/Ocr.js"
import * as PdfParser from "../../src/formats/PdfParser.js"
import { sentences, threePagePdf } from "@ragkit/fixtures/pdfs"

ParserSuite(
  "pdf",
  PdfParser.layer().pipe(Layer.provide(Parser.layer([Parser.TextParser])), Layer.provide(Ocr.layer())),
  [{
    fileName: "report.pdf",
    bytes: await threePagePdf(),
    expectText: [sentences.heading, sentences.intro1, sentences.right2, sentences.last],
    expectPages: 3,
    expectKinds: ["title", "text"]
  }]
)
