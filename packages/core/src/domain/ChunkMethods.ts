/**
 * RAGFlow's chunk methods (`parser_id`, `chunk_method` on the REST API) and the default
 * `parser_config` each starts with. Unknown keys a caller adds to a config are kept.
 */
import { Schema } from "effect"

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

/** The default config merged with what the caller gave: the caller's keys win, nested objects merge. */
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
