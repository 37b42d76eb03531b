/**
 * The CPU-bound half of ingestion: a file's bytes -> parsed sections -> chunks -> search tokens and
 * token counts. The `Ingestion` worker calls it once per document and does the rest (embedding,
 * index writes, records) itself.
 *
 * - `layerLocal` runs it on the calling thread with the `ParserRegistry`, the `ChunkMethodRegistry`
 *   and the `Tokenizer` of the context: simple, and what tests and small hosts use.
 * - `@ragkit/parsers` offers a pool of worker threads (`ParserThreads.layer`), so that one process
 *   parses on every core and a long synchronous parse never starves the worker's lease heartbeat.
 *   Only there can a parse be stopped midway: a thread past the parse time limit is terminated. On
 *   the calling thread a parse stuck in synchronous code holds the thread until it ends, so a host
 *   that ingests files it does not trust parses on threads (the server always does).
 *
 * An implementation must give the same chunks for the same input wherever it runs: `prepare` is a
 * pure function of the input and the parsers' configuration.
 */
import { Context, Effect, Layer } from "effect"
import type { ParseError } from "../domain/Errors.js"
import { Tokenizer, type TokenizerService } from "../text/Tokenizer.js"
import { ChunkMethodRegistry, type ChunkMethodRegistryService, type DraftChunk } from "./ChunkMethod.js"
import { ParserRegistry, type ParserRegistryService } from "./Parser.js"

export interface PrepareInput {
  readonly bytes: Uint8Array
  /** The document's name: picks the parser by extension and titles the chunks. */
  readonly fileName: string
  /** The chunk method (`parser_id`). */
  readonly parserId: string
  /** The document's `parser_config`: parser options and the method's settings. */
  readonly parserConfig: Readonly<Record<string, unknown>>
}

/** A chunk as the method made it, with the search tokens and token count the index needs. */
export interface PreparedChunk extends DraftChunk {
  /** Coarse search tokens, space separated (`content_ltks`). */
  readonly content_ltks: string
  /** Fine search tokens (`content_sm_ltks`). */
  readonly content_sm_ltks: string
  /** tiktoken cl100k_base count of `content`. */
  readonly token_num: number
}

export interface PreparedDocument {
  /** Sections the parser found, and distinct pages among them (0 for formats without pages). */
  readonly sections: number
  readonly pages: number
  /** The chunk method that ran (its id). */
  readonly method: string
  readonly chunks: ReadonlyArray<PreparedChunk>
  /** Wall time of parsing, and of chunking and tokenizing, in milliseconds. */
  readonly parseMs: number
  readonly chunkMs: number
}

export interface DocumentPreparerService {
  readonly prepare: (input: PrepareInput) => Effect.Effect<PreparedDocument, ParseError>
}

export class DocumentPreparer extends Context.Tag("@ragkit/core/DocumentPreparer")<
  DocumentPreparer,
  DocumentPreparerService
>() {}

/** The search tokens and token count of a chunk's text, as every chunk gets them (parsed or added by hand). */
export const tokenizeContent = (
  tokenizer: TokenizerService,
  content: string
): Pick<PreparedChunk, "content_ltks" | "content_sm_ltks" | "token_num"> => {
  const content_ltks = tokenizer.tokenize(content)
  return { content_ltks, content_sm_ltks: tokenizer.fineTokenize(content_ltks), token_num: tokenizer.countTokens(content) }
}

/** Parses, chunks and tokenizes with these services, on the calling thread. */
export const makeLocal = (
  parsers: ParserRegistryService,
  methods: ChunkMethodRegistryService,
  tokenizer: TokenizerService
): DocumentPreparerService =>
  DocumentPreparer.of({
    prepare: (input) =>
      Effect.gen(function*() {
        const started = performance.now()
        const parsed = yield* parsers.parse({ bytes: input.bytes, fileName: input.fileName, options: input.parserConfig })
        const parsedAt = performance.now()
        const method = yield* methods.require(input.parserId)
        const drafts = yield* method.chunk(parsed, input.parserConfig, { docName: input.fileName })
        const chunks = drafts.map((draft): PreparedChunk => ({ ...draft, ...tokenizeContent(tokenizer, draft.content) }))
        const pages = new Set<number>()
        for (const section of parsed.sections) if (section.page !== undefined) pages.add(section.page)
        return {
          sections: parsed.sections.length,
          pages: pages.size,
          method: method.id,
          chunks,
          parseMs: parsedAt - started,
          chunkMs: performance.now() - parsedAt
        }
      })
  })

/** `DocumentPreparer` on the calling thread, over the context's parsers, chunk methods and tokenizer. */
export const layerLocal: Layer.Layer<DocumentPreparer, never, ParserRegistry | ChunkMethodRegistry | Tokenizer> = Layer.effect(
  DocumentPreparer,
  Effect.gen(function*() {
    return makeLocal(yield* ParserRegistry, yield* ChunkMethodRegistry, yield* Tokenizer)
  })
)
