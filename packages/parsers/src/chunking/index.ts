/**
 * RAGFlow's chunk methods (`parser_id` / `chunk_method`): parsed sections -> draft chunks.
 *
 * Every method is built from the `Tokenizer` (token counts are tiktoken cl100k_base, as RAGFlow
 * counts them). `layer` is a `ChunkMethodRegistry` with all of them; `contribute` adds them to a
 * registry below; each method's module also exports `make(tokenizer)` and a `layer` of its own.
 *
 * | id | module | accepts (file extensions) | what a chunk is |
 * |---|---|---|---|
 * | `naive` | `NaiveChunker` | md, mdx, markdown, docx, doc, xlsx, xls, pptx, pdf, txt, jpg, jpeg, png, tif, tiff, gif, bmp, webp, csv, json, jsonl, ldjson, eml, html, htm, epub, source code (py, js, java, c, cpp, h, php, go, ts, sh, cs, kt, sql) | text pieces cut on `delimiter` merged up to `chunk_token_num` tokens; a table (HTML) or an image with text alone |
 * | `qa` | `QaChunker` | xlsx, xls, csv, txt (RAGFlow's UI), md, mdx, markdown, docx, pdf (RAGFlow's code) | one question/answer pair |
 * | `table` | `TableChunker` | xlsx, xls, csv, txt | one table row, `column: value; ...` |
 * | `paper` | `PaperChunker` | pdf | the abstract; then a section under its heading |
 * | `book` | `BookChunker` | docx, pdf, txt (and doc, html, htm) | text under a heading, with the heading path |
 * | `laws` | `LawsChunker` | docx, pdf, txt (and doc, md, html, htm) | an article with its chapter headings |
 * | `manual` | `ManualChunker` | pdf (and docx) | a lowest-level section with its heading path |
 * | `presentation` | `PresentationChunker` | pdf, pptx (and ppt) | a slide or page |
 * | `picture` | `PictureChunker` | jpg, jpeg, png, tif, tiff, gif, bmp, webp, ico, svg | an image's OCR text, image attached |
 * | `one` | `OneChunker` | docx, doc, xlsx, xls, pdf, txt, md, mdx, markdown, html, htm, csv, json, pptx | the whole document |
 * | `email` | `EmailChunker` | eml, msg | headers and body merged naively, then the attachments |
 * | `tag` | `TagChunker` | xlsx, xls, csv, txt | a description, its tags as `important_keywords` |
 *
 * Not implemented: `resume` (needs RAGFlow's résumé model), `audio` (needs speech-to-text) and
 * `knowledge_graph` (needs a chat model for entity extraction). They are not in the registry, so
 * `ChunkMethodRegistry.require` fails with `ParseError` reason `Unsupported` for them.
 *
 * Shared rules: parser_config keys a method does not know are ignored (requests are checked per
 * method by core's `ChunkMethods.ParserConfig`; older records may hold others); a known key with a
 * bad value falls back to its default. A document without text gives no chunks
 * (an empty array, never an error: the parser already reports empty files as `ParseError` `Empty`).
 * Chunks carry the union of their sections' pages (`page_num`) and positions.
 */
import { ChunkMethod, Tokenizer } from "@ragkit/core"
import { Effect, Layer } from "effect"
import * as BookChunker from "./BookChunker.js"
import * as EmailChunker from "./EmailChunker.js"
import * as LawsChunker from "./LawsChunker.js"
import * as ManualChunker from "./ManualChunker.js"
import * as NaiveChunker from "./NaiveChunker.js"
import * as OneChunker from "./OneChunker.js"
import * as PaperChunker from "./PaperChunker.js"
import * as PictureChunker from "./PictureChunker.js"
import * as PresentationChunker from "./PresentationChunker.js"
import * as QaChunker from "./QaChunker.js"
import * as TableChunker from "./TableChunker.js"
import * as TagChunker from "./TagChunker.js"

export {
  BookChunker,
  EmailChunker,
  LawsChunker,
  ManualChunker,
  NaiveChunker,
  OneChunker,
  PaperChunker,
  PictureChunker,
  PresentationChunker,
  QaChunker,
  TableChunker,
  TagChunker
}
export type { TableRowChunk } from "./TableChunker.js"

const all = [
  NaiveChunker,
  QaChunker,
  TableChunker,
  PaperChunker,
  BookChunker,
  LawsChunker,
  ManualChunker,
  PresentationChunker,
  PictureChunker,
  OneChunker,
  EmailChunker,
  TagChunker
] as const

/** The ids of the methods this package provides. */
export const ids: ReadonlyArray<string> = all.map((m) => m.id)

/** Every method, built from a tokenizer. */
export const makeAll = (tokenizer: Tokenizer.TokenizerService): ReadonlyArray<ChunkMethod.ChunkMethod> =>
  all.map((m) => m.make(tokenizer))

/** Every method, built from the `Tokenizer` in context. */
export const methods: Effect.Effect<ReadonlyArray<ChunkMethod.ChunkMethod>, never, Tokenizer.Tokenizer> = Effect.map(
  Tokenizer.Tokenizer,
  makeAll
)

/** A `ChunkMethodRegistry` with all of RAGFlow's chunk methods this package implements. */
export const layer: Layer.Layer<ChunkMethod.ChunkMethodRegistry, never, Tokenizer.Tokenizer> = Layer.effect(
  ChunkMethod.ChunkMethodRegistry,
  Effect.map(methods, ChunkMethod.makeRegistry)
)

/** Adds the methods to the registry below; they take precedence over methods with the same id there. */
export const contribute: Layer.Layer<
  ChunkMethod.ChunkMethodRegistry,
  never,
  ChunkMethod.ChunkMethodRegistry | Tokenizer.Tokenizer
> = Layer.effect(
  ChunkMethod.ChunkMethodRegistry,
  Effect.gen(function*() {
    const own = yield* methods
    const below = yield* ChunkMethod.ChunkMethodRegistry
    return ChunkMethod.makeRegistry([...own, ...below.methods])
  })
)
