/**
 * `naive` ("General"): RAGFlow's `naive_merge`. Each text section is cut on the `delimiter`
 * characters and the pieces are packed greedily, in order, into chunks of at most `chunk_token_num`
 * tokens (tiktoken via `Tokenizer.countTokens`, each piece counted once); a piece bigger than that
 * is a chunk of its own. With `overlapped_percent`, each chunk starts with the tail of the previous
 * one. A table is a chunk of its own (HTML, split by rows with the header repeated when too big),
 * an image with OCR text or a caption is a chunk with the image attached. A heading is kept with
 * the text after it. Chunks carry the union of their sections' pages and positions.
 *
 * parser_config: `chunk_token_num` (default 512), `delimiter` (default `"\n"`; backtick-wrapped
 * delimiters switch to RAGFlow's custom mode: one chunk per segment), `overlapped_percent` (0..90).
 */
import type { ChunkMethod, Tokenizer } from "@ragkit/core"
import { delimiterField, overlapPercent, positiveInt } from "./internal/Config.js"
import { parseDelimiters } from "./internal/Delimiters.js"
import { naiveChunks } from "./internal/Merge.js"
import { layerOf, method } from "./internal/Method.js"

export const id = "naive"

export const DEFAULT_CHUNK_TOKEN_NUM = 512
export const DEFAULT_DELIMITER = "\n"

export const accepts: ReadonlyArray<string> = [
  "pdf", "docx", "doc", "xlsx", "xls", "csv", "pptx", "txt", "md", "mdx", "markdown", "html", "htm", "json", "jsonl",
  "ldjson", "eml", "epub", "jpg", "jpeg", "png", "tif", "tiff", "gif", "bmp", "webp",
  "py", "js", "java", "c", "cpp", "h", "php", "go", "ts", "sh", "cs", "kt", "sql"
]

export const make = (tokenizer: Tokenizer.TokenizerService): ChunkMethod.ChunkMethod =>
  method("NaiveChunker", id, accepts, (doc, config) =>
    naiveChunks(
      doc.sections,
      {
        chunkTokenNum: positiveInt(config, "chunk_token_num", DEFAULT_CHUNK_TOKEN_NUM),
        delimiters: parseDelimiters(delimiterField(config, DEFAULT_DELIMITER)),
        overlapPercent: overlapPercent(config)
      },
      tokenizer
    ))

/** A registry holding only this method. */
export const layer = layerOf(make)
