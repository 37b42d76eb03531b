import * as Parser from "../src/ports/Parser.js"
import { ParserSuite } from "../src/testing/index.js"

const utf8 = (text: string) => new TextEncoder().encode(text)

ParserSuite("text", Parser.layer([Parser.TextParser]), [
  {
    fileName: "notes.txt",
    bytes: utf8(
      "Ragkit parses plain text files.\nA paragraph may span\nseveral lines.\n\n检索增强生成把检索和生成结合在一起。它让回答有据可查。\n"
    ),
    expectText: [
      "A paragraph may span several lines.",
      "检索增强生成把检索和生成结合在一起。"
    ],
    expectKinds: ["text"]
  }
])
