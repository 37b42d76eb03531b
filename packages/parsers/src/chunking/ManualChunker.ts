/**
 * `manual`: sections of a manual by its heading hierarchy (RAGFlow's manual method: the heading stack of
 * a DOCX, the title levels of a PDF). Every heading level forms the tree; the text under the lowest
 * heading, tables (HTML) and figure texts included, is one chunk up to `chunk_token_num` tokens
 * (default 1024, RAGFlow's section limit), starting with the heading path. A table of contents is
 * dropped.
 */
import type { ChunkMethod, Tokenizer } from "@ragkit/core"
import { positiveInt } from "./internal/Config.js"
import { hierarchicalChunks } from "./internal/Hierarchy.js"
import { layerOf, method } from "./internal/Method.js"

export const id = "manual"

export const DEFAULT_CHUNK_TOKEN_NUM = 1024

export const accepts: ReadonlyArray<string> = ["pdf", "docx"]

export const make = (tokenizer: Tokenizer.TokenizerService): ChunkMethod.ChunkMethod =>
  method("ManualChunker", id, accepts, (doc, config) =>
    hierarchicalChunks(
      doc.sections,
      {
        depth: "all",
        media: "inline",
        abstract: false,
        budget: positiveInt(config, "chunk_token_num", DEFAULT_CHUNK_TOKEN_NUM)
      },
      tokenizer
    ))

/** A registry holding only this method. */
export const layer = layerOf(make)
