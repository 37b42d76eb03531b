/**
 * `book`: RAGFlow's `hierarchical_merge` (depth 5). Headings come from the parser (titles with a
 * level) and from numbering (`第一章`, `Chapter I`, `1.2.3`, `Section 4`, `# ...`, the family most lines
 * use); a table of contents is dropped. The five top heading ranks form the tree; the text under each
 * heading is merged up to `chunk_token_num` tokens (default 512), and every chunk starts with its
 * heading path (`Chapter 1\n1.1 Scope\n...text`). Tables (HTML) and images with text are chunks of
 * their own, prefixed with their heading path. Without headings, lines are merged as by `naive`.
 */
import type { ChunkMethod, Tokenizer } from "@ragkit/core"
import { positiveInt } from "./internal/Config.js"
import { hierarchicalChunks } from "./internal/Hierarchy.js"
import { layerOf, method } from "./internal/Method.js"

export const id = "book"

export const DEFAULT_CHUNK_TOKEN_NUM = 512

export const accepts: ReadonlyArray<string> = ["docx", "pdf", "txt", "doc", "html", "htm"]

export const make = (tokenizer: Tokenizer.TokenizerService): ChunkMethod.ChunkMethod =>
  method("BookChunker", id, accepts, (doc, config) =>
    hierarchicalChunks(
      doc.sections,
      {
        depth: 5,
        media: "separate",
        abstract: false,
        budget: positiveInt(config, "chunk_token_num", DEFAULT_CHUNK_TOKEN_NUM)
      },
      tokenizer
    ))

/** A registry holding only this method. */
export const layer = layerOf(make)
