/**
 * `paper`: RAGFlow's paper method. The abstract ("Abstract"/"摘要" and the text after it, among the
 * first lines) is a chunk of its own with the keywords `abstract`, `summary`, ... as RAGFlow sets them.
 * The rest is split by section: the most frequent heading rank is the pivot (`title_frequency`),
 * headings at or above it start sections, and each section is merged up to `chunk_token_num` tokens
 * (default 512), every chunk starting with the section heading path. Tables and images with text are
 * chunks of their own.
 */
import type { ChunkMethod, Tokenizer } from "@ragkit/core"
import { positiveInt } from "./internal/Config.js"
import { hierarchicalChunks } from "./internal/Hierarchy.js"
import { layerOf, method } from "./internal/Method.js"

export const id = "paper"

export const DEFAULT_CHUNK_TOKEN_NUM = 512

export const accepts: ReadonlyArray<string> = ["pdf"]

export const make = (tokenizer: Tokenizer.TokenizerService): ChunkMethod.ChunkMethod =>
  method("PaperChunker", id, accepts, (doc, config) =>
    hierarchicalChunks(
      doc.sections,
      {
        depth: "frequent",
        media: "separate",
        abstract: true,
        budget: positiveInt(config, "chunk_token_num", DEFAULT_CHUNK_TOKEN_NUM)
      },
      tokenizer
    ))

/** A registry holding only this method. */
export const layer = layerOf(make)
