import { Parser } from "@ragkit/core"
import { ParserSuite } from "@ragkit/core/testing"
import { Layer } from "effect"
import * as ImageParser from "../../src/formats/ImageParser.js"
import * as Ocr from "../../src/Ocr.js"
import { textImage } from "@ragkit/fixtures/images"

ParserSuite(
  "image (OCR)",
  ImageParser.layer.pipe(Layer.provide(Parser.layer([Parser.TextParser])), Layer.provide(Ocr.layer())),
  [{ fileName: "scan.png", bytes: textImage(["Shipping address"]), expectText: ["Shipping address"], expectPages: 1, expectKinds: ["image"] }]
)
