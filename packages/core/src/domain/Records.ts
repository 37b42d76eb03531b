/**
 * The records the engine keeps, one `Schema.Class` each, with RAGFlow's field names and meanings
 * (its response bodies are the reference). The server maps these onto each wire format.
 */
import { Schema } from "effect"
import { ChunkMethodId } from "./ChunkMethods.js"
import { OneOf } from "./Fields.js"
import {
  ApiTokenId,
  ConversationId,
  DialogId,
  DocumentId,
  KnowledgeBaseId,
  LoginFailureId,
  MessageId,
  ModelId,
  ModelProviderId,
  SessionId,
  TenantId,
  TenantMemberId,
  UserId
} from "./Ids.js"
import { Stamps } from "./Time.js"

/** A free-form JSON object (parser_config, llm_setting, prompt_config, ...). */
export const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })
export type JsonObject = typeof JsonObject.Type

/** `"1"` valid / `"0"` invalid, as RAGFlow's `status` column. */
export const Status = OneOf("0", "1")
export type Status = typeof Status.Type

export class Tenant extends Schema.Class<Tenant>("Tenant")({
  id: TenantId,
  name: Schema.String,
  /** Default models of the tenant, `name@provider` or empty. */
  llm_id: Schema.String,
  embd_id: Schema.String,
  rerank_id: Schema.String,
  asr_id: Schema.String,
  img2txt_id: Schema.String,
  tts_id: Schema.String,
  /** Chunk methods offered to the tenant, RAGFlow's `parser_ids` text (`naive:General,...`). */
  parser_ids: Schema.String,
  credit: Schema.Number,
  status: Status,
  ...Stamps
}) {}

export class User extends Schema.Class<User>("User")({
  id: UserId,
  /** Lower-cased e-mail address; unique. */
  email: Schema.String,
  nickname: Schema.String,
  avatar: Schema.String,
  language: Schema.String,
  color_schema: Schema.String,
  timezone: Schema.String,
  /** `scrypt$N$r$p$salt$hash`, never sent anywhere. */
  password_hash: Schema.String,
  last_login_time: Schema.NullOr(Schema.Number),
  login_channel: Schema.String,
  is_superuser: Schema.Boolean,
  is_active: Status,
  status: Status,
  ...Stamps
}) {}

/**
 * A login session of a user: a user may have several at once (one per device). Only the SHA-256
 * of its token is stored. It ends at `expire_time`, at logout, or when the password changes.
 */
export class Session extends Schema.Class<Session>("Session")({
  id: SessionId,
  user_id: UserId,
  /** SHA-256 of the session token, lower-case hex; unique. */
  token_hash: Schema.String,
  /** Epoch milliseconds after which the session no longer authenticates. */
  expire_time: Schema.Number,
  /** When the session last authenticated a request (updated at most once a minute). */
  last_used_time: Schema.NullOr(Schema.Number),
  ...Stamps
}) {}

/**
 * A login attempt that failed (or is being checked), for the failed-login limit of `Users.login`:
 * one row per attempt and per thing limited, the account and the client's address. `key` is a
 * SHA-256, so neither the address nor an e-mail that has no account is kept in clear.
 */
export class LoginFailure extends Schema.Class<LoginFailure>("LoginFailure")({
  id: LoginFailureId,
  /** SHA-256 (hex) of `account\0<e-mail>` or `address\0<address>`. */
  key: Schema.String,
  /** When the attempt was made (epoch milliseconds). */
  create_time: Schema.Number
}) {}

export const MemberRole = OneOf("owner", "normal", "invite")
export type MemberRole = typeof MemberRole.Type

/** RAGFlow's `user_tenant`: a user's place in a tenant (team). */
export class TenantMember extends Schema.Class<TenantMember>("TenantMember")({
  id: TenantMemberId,
  tenant_id: TenantId,
  user_id: UserId,
  invited_by: UserId,
  role: MemberRole,
  status: Status,
  ...Stamps
}) {}

/** An API key of a tenant. Only its SHA-256 is stored; the key itself is shown once. */
export class ApiToken extends Schema.Class<ApiToken>("ApiToken")({
  id: ApiTokenId,
  tenant_id: TenantId,
  created_by: UserId,
  token_hash: Schema.String,
  /** The first characters of the key, to tell keys apart in lists (`ragkit-AbCd…`). */
  token_prefix: Schema.String,
  /** Set when the key is scoped to one dialog (embedded chat). */
  dialog_id: Schema.NullOr(DialogId),
  source: Schema.NullOr(Schema.String),
  beta: Schema.NullOr(Schema.String),
  last_used_time: Schema.NullOr(Schema.Number),
  ...Stamps
}) {}

export const ModelType = OneOf("chat", "embedding", "rerank", "image2text", "speech2text", "tts")
export type ModelType = typeof ModelType.Type

/** A configured model provider of a tenant (RAGFlow's `tenant_llm` factory settings). */
export class ModelProviderConfig extends Schema.Class<ModelProviderConfig>("ModelProviderConfig")({
  id: ModelProviderId,
  tenant_id: TenantId,
  /** The name models are addressed by: `model@<name>`. */
  name: Schema.String,
  /** Which plugin serves it: `builtin`, `onnx`, `openai-compatible`, `ollama`, ... */
  kind: Schema.String,
  api_base: Schema.String,
  /**
   * The API key encrypted under the deployment's secret key (AES-256-GCM,
   * `v1:<iv>:<ciphertext>:<tag>` in base64), or empty when the provider has none. Decrypted only to
   * hand the key to the plugin; never returned by any list or get.
   */
  api_key: Schema.String,
  settings: JsonObject,
  ...Stamps
}) {}

export class Model extends Schema.Class<Model>("Model")({
  id: ModelId,
  tenant_id: TenantId,
  /** Provider name (`ModelProvider.name`). */
  provider: Schema.String,
  name: Schema.String,
  model_type: ModelType,
  max_tokens: Schema.Number,
  /** Embedding dimension, when known. */
  dimensions: Schema.NullOr(Schema.Number),
  used_tokens: Schema.Number,
  status: Status,
  ...Stamps
}) {}

export const Permission = OneOf("me", "team")
export type Permission = typeof Permission.Type

/** The embedder a knowledge base was indexed with; searching it with another is refused. */
export const EmbedderIdentity = Schema.Struct({ model: Schema.String, dimensions: Schema.Number })
export type EmbedderIdentity = typeof EmbedderIdentity.Type

export class KnowledgeBase extends Schema.Class<KnowledgeBase>("KnowledgeBase")({
  id: KnowledgeBaseId,
  tenant_id: TenantId,
  name: Schema.String,
  description: Schema.String,
  language: Schema.String,
  avatar: Schema.String,
  /** `name@provider` (RAGFlow's `embd_id`). */
  embedding_model: Schema.String,
  embedder: Schema.NullOr(EmbedderIdentity),
  permission: Permission,
  /** The chunk method (`chunk_method` on the REST API). */
  parser_id: ChunkMethodId,
  parser_config: JsonObject,
  pipeline_id: Schema.NullOr(Schema.String),
  created_by: UserId,
  document_count: Schema.Number,
  chunk_count: Schema.Number,
  token_num: Schema.Number,
  /** Sum of the document sizes in bytes. */
  size: Schema.Number,
  similarity_threshold: Schema.Number,
  vector_similarity_weight: Schema.Number,
  status: Status,
  ...Stamps
}) {}

export const RunStatus = OneOf("UNSTART", "RUNNING", "CANCEL", "DONE", "FAIL")
export type RunStatus = typeof RunStatus.Type

export const DocumentType = Schema.Literal("pdf", "doc", "visual", "aural", "virtual", "other")
export type DocumentType = typeof DocumentType.Type

export class Document extends Schema.Class<Document>("Document")({
  id: DocumentId,
  kb_id: KnowledgeBaseId,
  tenant_id: TenantId,
  /** The chunk method: the knowledge base's, or the one the file type calls for. */
  parser_id: ChunkMethodId,
  parser_config: JsonObject,
  pipeline_id: Schema.NullOr(Schema.String),
  /** `local` for uploaded bytes, `virtual` for a record without a file. */
  source_type: Schema.String,
  type: DocumentType,
  created_by: UserId,
  name: Schema.String,
  /** Blob key of the original bytes, empty for virtual documents. */
  location: Schema.String,
  size: Schema.Number,
  thumbnail: Schema.String,
  /** Lower-case file extension without the dot. */
  suffix: Schema.String,
  run: RunStatus,
  progress: Schema.Number,
  progress_msg: Schema.String,
  process_begin_at: Schema.NullOr(Schema.Number),
  process_duration: Schema.Number,
  chunk_num: Schema.Number,
  token_num: Schema.Number,
  /**
   * Which run of the document is current: raised each time a run is queued or the run state reset.
   * A worker's writes apply only to the run it works on (its task carries the number).
   */
  run_generation: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  meta_fields: JsonObject,
  /** `"1"` enabled, `"0"` disabled (excluded from retrieval). */
  status: Status,
  ...Stamps
}) {}

export class Dialog extends Schema.Class<Dialog>("Dialog")({
  id: DialogId,
  tenant_id: TenantId,
  name: Schema.String,
  description: Schema.String,
  icon: Schema.String,
  language: Schema.String,
  llm_id: Schema.String,
  llm_setting: JsonObject,
  prompt_type: Schema.String,
  prompt_config: JsonObject,
  meta_data_filter: JsonObject,
  kb_ids: Schema.Array(KnowledgeBaseId),
  top_n: Schema.Number,
  top_k: Schema.Number,
  rerank_id: Schema.String,
  similarity_threshold: Schema.Number,
  vector_similarity_weight: Schema.Number,
  do_refer: Schema.String,
  status: Status,
  ...Stamps
}) {}

export const MessageRole = OneOf("system", "user", "assistant")
export type MessageRole = typeof MessageRole.Type

/** What an answer was built from: the chunks it cites and per-document counts. */
export const Reference = Schema.Struct({
  chunks: Schema.Array(JsonObject),
  doc_aggs: Schema.Array(JsonObject),
  total: Schema.Number
})
export type Reference = typeof Reference.Type

export class Message extends Schema.Class<Message>("Message")({
  id: MessageId,
  role: MessageRole,
  content: Schema.String,
  created_at: Schema.Number,
  /** For assistant messages: the chunks the answer cites. */
  reference: Schema.NullOr(Reference),
  thumbup: Schema.NullOr(Schema.Boolean),
  feedback: Schema.NullOr(Schema.String),
  /**
   * For assistant messages: the answer did not complete (the client went away or the model failed
   * mid-answer, or the model stopped at `max_tokens`); `content` holds what was generated.
   */
  incomplete: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {}

export class Conversation extends Schema.Class<Conversation>("Conversation")({
  id: ConversationId,
  dialog_id: DialogId,
  tenant_id: TenantId,
  user_id: Schema.String,
  name: Schema.String,
  message: Schema.Array(Message),
  ...Stamps
}) {}
