/**
 * A chunk method cuts a parsed document into chunks according to the knowledge base's or document's
 * `parser_config` (RAGFlow calls the method the "parser", `parser_id`: naive, qa, book, ...).
 * Methods live in the parsers package and are found by id in the `ChunkMethodRegistry`.
 */
import { Context, Effect, Layer, Option } from "effect"
import { isChunkMethodId } from "../domain/ChunkMethods.js"
import type { ChunkPosition } from "../domain/Chunk.js"
import { ParseError } from "../domain/Errors.js"
import type { ParsedDocument } from "./Parser.js"

/** RAGFlow's chunk method ids (kept with the default configs in `domain/ChunkMethods.ts`). */
export { ChunkMethodId, ChunkMethodIds, isChunkMethodId } from "../domain/ChunkMethods.js"

/** A chunk as a method produces it, before tokens, vectors and ids are added. */
export interface DraftChunk {
  readonly content: string
  readonly important_keywords?: ReadonlyArray<string>
  readonly questions?: ReadonlyArray<string>
  /** Pages the chunk spans, from 1 (empty for formats without pages). */
  readonly page_num: ReadonlyArray<number>
  readonly positions: ReadonlyArray<ChunkPosition>
  /** Fields the method knows about the chunk (a table row's columns: `{ fields: { col: value } }`), kept on `Chunk.metadata`. */
  readonly metadata?: Readonly<Record<string, unknown>>
  /** A picture or table snapshot belonging to the chunk (stored by the ingestion as `img_id`). */
  readonly image?: { readonly blobKey?: string; readonly mime?: string; readonly bytes?: Uint8Array }
}

export interface ChunkMethodMeta {
  /** The document's name (file name), used for titles and by some methods. */
  readonly docName: string
}

export interface ChunkMethod {
  /** The `parser_id` this method serves. */
  readonly id: string
  /** File extensions (lower-case, no dot) the method can chunk. */
  readonly accepts: ReadonlyArray<string>
  readonly chunk: (
    doc: ParsedDocument,
    config: Readonly<Record<string, unknown>>,
    meta: ChunkMethodMeta
  ) => Effect.Effect<ReadonlyArray<DraftChunk>, ParseError>
}

/** The service; `ChunkMethodRegistry` is its tag. */
export interface ChunkMethodRegistryService {
  readonly ids: ReadonlyArray<string>
  readonly get: (id: string) => Option.Option<ChunkMethod>
  /** The method, or `ParseError` reason `Unsupported`. */
  readonly require: (id: string) => Effect.Effect<ChunkMethod, ParseError>
  readonly methods: ReadonlyArray<ChunkMethod>
}

export class ChunkMethodRegistry extends Context.Tag("@ragkit/core/ChunkMethodRegistry")<
  ChunkMethodRegistry,
  ChunkMethodRegistryService
>() {}

/** A registry over methods; when two share an id, the earlier one wins. */
export const makeRegistry = (methods: ReadonlyArray<ChunkMethod>): ChunkMethodRegistryService => {
  const byId = new Map<string, ChunkMethod>()
  for (const method of methods) if (!byId.has(method.id)) byId.set(method.id, method)
  const get = (id: string) => Option.fromNullable(byId.get(id))
  return ChunkMethodRegistry.of({
    ids: [...byId.keys()],
    methods: [...byId.values()],
    get,
    require: (id) =>
      Option.match(get(id), {
        onNone: () =>
          Effect.fail(
            new ParseError({
              reason: "Unsupported",
              message: isChunkMethodId(id)
                ? `chunk method ${id} is not installed`
                : `unsupported parser id ${JSON.stringify(id)}`
            })
          ),
        onSome: Effect.succeed
      })
  })
}

export const layer = (methods: ReadonlyArray<ChunkMethod>): Layer.Layer<ChunkMethodRegistry> =>
  Layer.succeed(ChunkMethodRegistry, makeRegistry(methods))

/** Adds methods to the registry below it; they take precedence over the ones already there. */
export const contribute = (
  methods: ReadonlyArray<ChunkMethod>
): Layer.Layer<ChunkMethodRegistry, never, ChunkMethodRegistry> =>
  Layer.effect(
    ChunkMethodRegistry,
    Effect.map(ChunkMethodRegistry, (registry) => makeRegistry([...methods, ...registry.methods]))
  )
