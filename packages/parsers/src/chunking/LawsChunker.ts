/**
 * `laws`: RAGFlow's `tree_merge` for legal texts. The numbering family is detected (`第一编`, `第一章`,
 * `第一节`, `第一条`, `（一）`, or `Part I`, `Chapter 1`, `Section 2`, `Article 5`, `(a)`); the tree goes
 * down to the article level (`第X条`, `Article N`) when there is one, else two heading ranks (RAGFlow's
 * depth 2). Each article is a chunk with its chapter (and part/section) headings before it; clauses
 * below the article stay in its chunk. An article longer than `chunk_token_num` (default 512) is split,
 * each piece with the heading path. A table of contents is dropped.
 */
import type { ChunkMethod, Tokenizer } from "@ragkit/core"
import { positiveInt } from "./internal/Config.js"
import { hierarchicalChunks } from "./internal/Hierarchy.js"
import { layerOf, method } from "./internal/Method.js"

export const id = "laws"

export const DEFAULT_CHUNK_TOKEN_NUM = 512

export const accepts: ReadonlyArray<string> = ["docx", "pdf", "txt", "doc", "md", "markdown", "mdx", "html", "htm"]

export const make = (tokenizer: Tokenizer.TokenizerService): ChunkMethod.ChunkMethod =>
  method("LawsChunker", id, accepts, (doc, config) =>
    hierarchicalChunks(
      doc.sections,
      {
        depth: "article",
        media: "separate",
        abstract: false,
        budget: positiveInt(config, "chunk_token_num", DEFAULT_CHUNK_TOKEN_NUM)
      },
      tokenizer
    ))

/** A registry holding only this method. */
export const layer = layerOf(make)
