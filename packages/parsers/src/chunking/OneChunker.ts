/**
 * `one`: the whole document as a single chunk, in reading order (tables as HTML, images' OCR text),
 * with all its pages and positions. No parser_config keys.
 */
import type { ChunkMethod, Tokenizer } from "@ragkit/core"
import { draft, sectionText } from "./internal/Merge.js"
import { layerOf, method } from "./internal/Method.js"

export const id = "one"

export const accepts: ReadonlyArray<string> = [
  "docx", "doc", "xlsx", "xls", "pdf", "txt", "md", "mdx", "markdown", "html", "htm", "csv", "json", "pptx"
]

export const make = (_tokenizer: Tokenizer.TokenizerService): ChunkMethod.ChunkMethod =>
  method("OneChunker", id, accepts, (doc) => {
    const kept = doc.sections.filter((s) => sectionText(s) !== "")
    const content = kept.map(sectionText).join("\n")
    return content === "" ? [] : [draft(content, kept)]
  })

/** A registry holding only this method. */
export const layer = layerOf(make)
