/**
 * A chunk: a piece of a document's text as indexed for search, with RAGFlow's fields.
 */
import { Schema } from "effect"
import { ChunkId, DocumentId, KnowledgeBaseId, TenantId } from "./Ids.js"

/** RAGFlow's position: `[page_number, x0, x1, top, bottom]` in PDF points, pages from 1. */
export const ChunkPosition = Schema.Tuple(Schema.Number, Schema.Number, Schema.Number, Schema.Number, Schema.Number)
export type ChunkPosition = typeof ChunkPosition.Type

export class Chunk extends Schema.Class<Chunk>("Chunk")({
  id: ChunkId,
  tenant_id: TenantId,
  kb_id: KnowledgeBaseId,
  doc_id: DocumentId,
  /** Document name, kept for display and for matching on the title (`docnm_kwd`). */
  docnm_kwd: Schema.String,
  /** The text shown to users and the language model (`content_with_weight`). */
  content: Schema.String,
  /** Search tokens of the content, space separated (`content_ltks`): lower-cased, stemmed, segmented. */
  content_ltks: Schema.String,
  /** Finer-grained search tokens (`content_sm_ltks`). */
  content_sm_ltks: Schema.String,
  /** Search tokens of the document title (`title_tks`). */
  title_tks: Schema.String,
  important_keywords: Schema.Array(Schema.String),
  questions: Schema.Array(Schema.String),
  /** Whether the chunk takes part in retrieval (RAGFlow's `available_int`). */
  available: Schema.Boolean,
  /** Token count (tiktoken cl100k_base). */
  token_num: Schema.Number,
  page_num: Schema.Array(Schema.Number),
  positions: Schema.Array(ChunkPosition),
  /** Order of the chunk within its document. */
  index: Schema.Number,
  /** Image blob key, when the chunk is a picture or a table snapshot. */
  img_id: Schema.optional(Schema.String),
  /** Document metadata copied onto the chunk for filtering. */
  metadata: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  /** The embedding, when the index stores one. */
  vector: Schema.optional(Schema.Array(Schema.Number)),
  create_time: Schema.Number
}) {}
