import { expect } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as ChunkMethod from "../src/ports/ChunkMethod.js"
import type { ParsedDocument } from "../src/ports/Parser.js"
import { ChunkMethodSuite } from "../src/testing/index.js"

/** A stand-in until the real methods arrive: the whole document as one chunk. */
const One: ChunkMethod.ChunkMethod = {
  id: "one",
  accepts: ["txt"],
  chunk: (doc) =>
    Effect.sync(() => {
      const texts = doc.sections.map((section) => section.text.trim()).filter((text) => text.length > 0)
      if (texts.length === 0) return []
      const pages = [...new Set(doc.sections.flatMap((section) => (section.page === undefined ? [] : [section.page])))]
      return [{ content: texts.join("\n"), page_num: pages.sort((a, b) => a - b), positions: [] }]
    })
}

const document: ParsedDocument = {
  sections: [
    { text: "Chunking", kind: "title", level: 1, page: 1 },
    { text: "The first paragraph\nwraps.", kind: "text", page: 1 },
    { text: "第二段落。", kind: "text", page: 2 }
  ]
}

ChunkMethodSuite("one", ChunkMethod.layer([One]), [
  { method: "one", document, expect: { contains: ["The first paragraph wraps.", "第二段落。"] } },
  {
    method: "one",
    name: "one, asserting",
    document,
    config: { chunk_token_num: 128 },
    expect: (chunks) => {
      expect(chunks).toHaveLength(1)
      expect(Option.fromNullable(chunks[0]).pipe(Option.map((chunk) => chunk.page_num))).toEqual(Option.some([1, 2]))
      return { contains: ["Chunking"] }
    }
  }
])
