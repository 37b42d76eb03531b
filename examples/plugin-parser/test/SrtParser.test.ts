import { Parser } from "@ragkit/core"
import { ParserSuite } from "@ragkit/core/testing"
import { Layer } from "effect"
import { layer } from "../src/index.js"

const utf8 = (text: string) => new TextEncoder().encode(text)

ParserSuite("srt (an outside plugin)", layer.pipe(Layer.provide(Parser.layer([Parser.TextParser]))), [
  {
    fileName: "talk.srt",
    bytes: utf8("1\n00:00:01,000 --> 00:00:03,500\nWelcome to the talk.\n\n2\n00:00:04,000 --> 00:00:06,000\nRagkit parses\nsubtitles too.\n"),
    expectText: ["Welcome to the talk.", "Ragkit parses subtitles too."],
    expectKinds: ["text"]
  }
])
