/**
 * RAGFlow's chunk methods (`parser_id`, `chunk_method` on the REST API), the default
 * `parser_config` each starts with, and the settings each accepts (`ParserConfig(method)`).
 *
 * A `parser_config` holds a document's settings only, with RAGFlow's keys, types and bounds; a key
 * the method does not take, or a value of the wrong type, is refused with `InvalidInput` naming it
 * (`parser_config.chunk_token_num`). The limits that protect the machine from a file (archive
 * sizes, cells, nesting, pages) are the deployment's, given to the parsers when they are built,
 * never a setting here.
 *
 * | keys | methods |
 * |---|---|
 * | `auto_keywords`, `auto_questions`, `raptor`, `graphrag`, `tag_kb_ids`, `topn_tags`, `filename_embd_weight`, `pages`, `task_page_size` | every method (the ingestion reads them whatever the method) |
 * | `layout_recognize` | naive, book, laws, manual, paper, presentation, one, picture |
 * | `chunk_token_num`, `delimiter` | naive, book, laws, manual, paper, presentation, email, knowledge_graph (up to 8192 tokens there) |
 * | `overlapped_percent` | naive, presentation, email |
 * | `html4excel` | naive |
 * | `entity_types` | knowledge_graph |
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import type { InvalidInput } from "./Errors.js"
import * as Fields from "./Fields.js"
import { KnowledgeBaseId } from "./Ids.js"

export const ChunkMethodIds = [
  "naive",
  "qa",
  "resume",
  "manual",
  "table",
  "paper",
  "book",
  "laws",
  "presentation",
  "picture",
  "one",
  "audio",
  "email",
  "tag",
  "knowledge_graph"
] as const

/** A chunk method id; records keep RAGFlow's wire name for the field, `parser_id`. */
export const ChunkMethodId = Schema.Literal(...ChunkMethodIds).annotations({
  message: () => ({ message: `must be one of ${ChunkMethodIds.join(", ")}`, override: true })
})
export type ChunkMethodId = typeof ChunkMethodId.Type

export const isChunkMethodId = (s: unknown): s is ChunkMethodId =>
  typeof s === "string" && (ChunkMethodIds as ReadonlyArray<string>).includes(s)

const raptorOff = { raptor: { use_raptor: false }, graphrag: { use_graphrag: false } }

/** The config a chunk method starts with, as RAGFlow's `get_parser_config`. */
export const defaultParserConfig = (parserId: ChunkMethodId): Record<string, unknown> => {
  switch (parserId) {
    case "naive":
      return {
        chunk_token_num: 512,
        delimiter: "\n",
        overlapped_percent: 0,
        layout_recognize: "DeepDOC",
        html4excel: false,
        auto_keywords: 0,
        auto_questions: 0,
        ...raptorOff
      }
    case "knowledge_graph":
      return {
        chunk_token_num: 8192,
        delimiter: "\n",
        entity_types: ["organization", "person", "location", "event", "time"]
      }
    case "book":
    case "laws":
    case "manual":
    case "paper":
    case "presentation":
      return { layout_recognize: "DeepDOC", ...raptorOff }
    case "tag":
    case "audio":
    case "picture":
    case "resume":
    case "one":
    case "qa":
    case "table":
    case "email":
      return { ...raptorOff }
  }
}

/**
 * The default config merged with what the caller gave (already checked with `ParserConfig`): the
 * caller's keys win, nested objects merge.
 */
export const mergeParserConfig = (parserId: ChunkMethodId, given: Record<string, unknown> | undefined): Record<string, unknown> => {
  const base = defaultParserConfig(parserId)
  if (given === undefined) return base
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(given)) {
    const prior = out[key]
    out[key] =
      isPlainObject(prior) && isPlainObject(value) ? { ...prior, ...value } : value
  }
  return out
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

// ---------------------------------------------------------------------------------------------
// The settings each method accepts

/** RAGFlow's limit on a stored `parser_config`, as JSON. */
export const ParserConfigMaxChars = 65_535

const nonEmpty = Fields.String.pipe(Schema.minLength(1, { message: () => "can't be empty" }))

/** A JSON object whose keys are all in `fields` (whatever the decoding's excess-property option). */
const closedObject = <F extends Schema.Struct.Fields>(fields: F, owner: string) =>
  Schema.compose(
    Fields.JsonObject.pipe(
      Schema.filter((object) => {
        const unknown = Object.keys(object).find((key) => !Object.hasOwn(fields, key))
        return unknown === undefined ? undefined : { path: [unknown], message: `isn't a setting of ${owner}` }
      })
    ),
    Schema.Struct(fields),
    { strict: false }
  )

const optionalFields = <F extends Record<string, Schema.Schema.AnyNoContext>>(fields: F) =>
  Object.fromEntries(Object.entries(fields).map(([key, schema]) => [key, Schema.optional(schema)])) as {
    readonly [K in keyof F]: Schema.optional<F[K]>
  }

/** RAPTOR summaries (`raptor`). */
const Raptor = closedObject(
  optionalFields({
    use_raptor: Fields.Boolean,
    prompt: nonEmpty,
    max_token: Fields.IntIn(1, 2048),
    threshold: Fields.UnitInterval,
    max_cluster: Fields.IntIn(1, 1024),
    random_seed: Fields.IntIn(0, Number.MAX_SAFE_INTEGER)
  }),
  "raptor"
)

/** The knowledge graph built over the chunks (`graphrag`). */
const Graphrag = closedObject(
  optionalFields({
    use_graphrag: Fields.Boolean,
    entity_types: Fields.List(nonEmpty),
    method: Fields.OneOf("light", "general"),
    community: Fields.Boolean,
    resolution: Fields.Boolean
  }),
  "graphrag"
)

/** `[from, to]`, 1-based page numbers, `from` <= `to`. */
const PageRange = Fields.List(Fields.IntIn(1, Number.MAX_SAFE_INTEGER)).pipe(
  Schema.filter((range) => range.length === 2 && range[0]! <= range[1]!, {
    message: () => "must be a [from, to] pair of page numbers, from <= to"
  })
)

/** Every setting RAGFlow defines, with its type and bounds. */
const settings = {
  chunk_token_num: Fields.IntIn(1, 2048),
  delimiter: nonEmpty,
  overlapped_percent: Fields.NumberIn(0, 90),
  layout_recognize: Schema.Union(Fields.String, Fields.Boolean).annotations({
    message: () => ({ message: "must be a string or a boolean", override: true })
  }),
  html4excel: Fields.Boolean,
  auto_keywords: Fields.IntIn(0, 32),
  auto_questions: Fields.IntIn(0, 10),
  raptor: Raptor,
  graphrag: Graphrag,
  tag_kb_ids: Fields.List(KnowledgeBaseId),
  topn_tags: Fields.IntIn(1, 10),
  filename_embd_weight: Schema.NullOr(Fields.UnitInterval),
  task_page_size: Schema.NullOr(Fields.IntIn(1, Number.MAX_SAFE_INTEGER)),
  pages: Schema.NullOr(Fields.List(PageRange)),
  entity_types: Fields.List(nonEmpty)
}
type Setting = keyof typeof settings

const everyMethod: ReadonlyArray<Setting> = [
  "auto_keywords",
  "auto_questions",
  "raptor",
  "graphrag",
  "tag_kb_ids",
  "topn_tags",
  "filename_embd_weight",
  "pages",
  "task_page_size"
]

/** The settings of each method besides those of every method. */
const methodSettings: Record<ChunkMethodId, ReadonlyArray<Setting>> = {
  naive: ["layout_recognize", "chunk_token_num", "delimiter", "overlapped_percent", "html4excel"],
  book: ["layout_recognize", "chunk_token_num", "delimiter"],
  laws: ["layout_recognize", "chunk_token_num", "delimiter"],
  manual: ["layout_recognize", "chunk_token_num", "delimiter"],
  paper: ["layout_recognize", "chunk_token_num", "delimiter"],
  presentation: ["layout_recognize", "chunk_token_num", "delimiter", "overlapped_percent"],
  email: ["chunk_token_num", "delimiter", "overlapped_percent"],
  one: ["layout_recognize"],
  picture: ["layout_recognize"],
  knowledge_graph: ["chunk_token_num", "delimiter", "entity_types"],
  qa: [],
  table: [],
  tag: [],
  resume: [],
  audio: []
}

/** A method's own bounds where they differ from RAGFlow's general ones. */
const methodOverrides: Partial<Record<ChunkMethodId, Partial<Record<Setting, Schema.Schema.AnyNoContext>>>> = {
  knowledge_graph: { chunk_token_num: Fields.IntIn(1, 8192) }
}

/** A `parser_config` as stored: a JSON object of settings. */
export type ParserConfig = Readonly<Record<string, unknown>>

const methodSchema = (method: ChunkMethodId): Schema.Schema<ParserConfig> => {
  const fields = Object.fromEntries(
    [...everyMethod, ...methodSettings[method]].map((key) => [key, methodOverrides[method]?.[key] ?? settings[key]])
  ) as Record<string, Schema.Schema.AnyNoContext>
  return closedObject(optionalFields(fields), `the ${method} chunk method`).pipe(
    Schema.filter((config) => JSON.stringify(config).length <= ParserConfigMaxChars, {
      message: () => `is longer than ${ParserConfigMaxChars} characters as JSON`
    })
  ) as Schema.Schema<ParserConfig>
}

const methodSchemas = Object.fromEntries(ChunkMethodIds.map((method) => [method, methodSchema(method)])) as Record<
  ChunkMethodId,
  Schema.Schema<ParserConfig>
>

/**
 * The `parser_config` a chunk method accepts: RAGFlow's keys for it, with their types and bounds
 * (every key optional); any other key fails, named by its path (`raptor.max_token`).
 */
export const ParserConfig = (method: ChunkMethodId): Schema.Schema<ParserConfig> => methodSchemas[method]

/** What is wrong with `config` as `method`'s settings, at its path under `parser_config`; `undefined` when nothing is. */
export const parserConfigIssue = (method: ChunkMethodId, config: unknown): ParseResult.ParseIssue | undefined => {
  const result = ParseResult.decodeUnknownEither(methodSchemas[method])(config, { errors: "first" })
  return Either.isLeft(result) ? new ParseResult.Pointer("parser_config", config, result.left) : undefined
}

/** `InvalidInput` naming the first key of `config` that `method` does not take as it is. */
export const validateParserConfig = (method: ChunkMethodId, config: unknown): Effect.Effect<void, InvalidInput> => {
  const issue = parserConfigIssue(method, config)
  return issue === undefined ? Effect.void : Effect.fail(Fields.invalidInputOf(new ParseResult.ParseError({ issue })))
}

/**
 * Checks a request's `parser_config` against its `parser_id` when it has both, at decoding. A
 * request without `parser_id` is checked by its service, against the stored method.
 */
export const checkParserConfig = <S extends Schema.Schema.AnyNoContext>(
  self: Schema.Schema.Type<S> extends WithParserConfig ? S : never
): Schema.filter<S> =>
  Schema.filter<S>((request) => {
    const { parser_config, parser_id } = request as WithParserConfig
    return parser_id === undefined || parser_config === undefined ? undefined : parserConfigIssue(parser_id, parser_config)
  })(self)

interface WithParserConfig {
  readonly parser_id?: ChunkMethodId | undefined
  readonly parser_config?: ParserConfig | undefined
}
