/** Building a `ChunkMethod` from a pure chunking function, with a span and a registry layer. */
import { ChunkMethod, type Parser, Tokenizer } from "@ragkit/core"
import { Effect, Layer } from "effect"

type DraftChunk = ChunkMethod.DraftChunk

export type Run = (
  doc: Parser.ParsedDocument,
  config: Readonly<Record<string, unknown>>,
  meta: ChunkMethod.ChunkMethodMeta
) => ReadonlyArray<DraftChunk>

/** A chunk method whose work is synchronous; `chunk` runs it in a span named `<span>.chunk`. */
export const method = (span: string, id: string, accepts: ReadonlyArray<string>, run: Run): ChunkMethod.ChunkMethod => ({
  id,
  accepts,
  chunk: (doc, config, meta) =>
    Effect.sync(() => run(doc, config ?? {}, meta)).pipe(
      Effect.tap((chunks) => Effect.annotateCurrentSpan({ chunks: chunks.length })),
      Effect.withSpan(`${span}.chunk`, { attributes: { docName: meta.docName, sections: doc.sections.length } })
    )
})

/** A registry holding only the method `make` builds from the `Tokenizer`. */
export const layerOf = (
  make: (tokenizer: Tokenizer.TokenizerService) => ChunkMethod.ChunkMethod
): Layer.Layer<ChunkMethod.ChunkMethodRegistry, never, Tokenizer.Tokenizer> =>
  Layer.effect(
    ChunkMethod.ChunkMethodRegistry,
    Effect.map(Tokenizer.Tokenizer, (tokenizer) => ChunkMethod.makeRegistry([make(tokenizer)]))
  )
