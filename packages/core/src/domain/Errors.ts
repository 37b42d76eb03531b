/**
 * Errors that cross a boundary. Port errors carry a closed `reason` so hosts can decide to retry;
 * domain errors name what the caller did wrong. HTTP status codes are the server's business.
 */
import { Schema } from "effect"

/** The record store or the task queue failed. `Conflict`: a unique key is taken. */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  reason: Schema.Literal("Conflict", "NotFound", "Unavailable", "Corrupt", "Unknown"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** The blob store failed. */
export class BlobStoreError extends Schema.TaggedError<BlobStoreError>()("BlobStoreError", {
  reason: Schema.Literal("NotFound", "InvalidKey", "Unavailable", "Unknown"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** The chunk index failed. `Mismatch`: a vector of the wrong dimension or an unknown index. */
export class ChunkIndexError extends Schema.TaggedError<ChunkIndexError>()("ChunkIndexError", {
  reason: Schema.Literal("Mismatch", "Unavailable", "Unsupported", "Unknown"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** An embedder, chat model or reranker failed. */
export class ModelError extends Schema.TaggedError<ModelError>()("ModelError", {
  reason: Schema.Literal("NotConfigured", "Unavailable", "RateLimited", "BadResponse", "InvalidInput", "Unknown"),
  model: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** A file could not be parsed or chunked. `Unavailable`: a remote parser was away (worth a retry). */
export class ParseError extends Schema.TaggedError<ParseError>()("ParseError", {
  reason: Schema.Literal("Unsupported", "Corrupt", "Encrypted", "TooLarge", "Empty", "Unavailable", "Unknown"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** The caller sent something that cannot be accepted (empty name, bad id, bad option). */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  field: Schema.String,
  message: Schema.String
}) {}

export const EntityName = Schema.Literal(
  "Tenant",
  "User",
  "TenantMember",
  "ApiToken",
  "ModelProvider",
  "Model",
  "KnowledgeBase",
  "Document",
  "Chunk",
  "Dialog",
  "Conversation",
  "Message",
  "Task",
  "Session"
)
export type EntityName = typeof EntityName.Type

/** No such record, or not one the caller may see (the two are not told apart, by design). */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  entity: EntityName,
  id: Schema.String,
  message: Schema.String
}) {}

/** Something is larger than the deployment accepts (an uploaded file over the size limit). */
export class TooLarge extends Schema.TaggedError<TooLarge>()("TooLarge", {
  field: Schema.String,
  /** The limit, in bytes. */
  limit: Schema.Number,
  message: Schema.String
}) {}

/** A unique name is already taken. */
export class AlreadyExists extends Schema.TaggedError<AlreadyExists>()("AlreadyExists", {
  entity: EntityName,
  field: Schema.String,
  value: Schema.String,
  message: Schema.String
}) {}

/** The caller is known but may not do this (e.g. a team member deleting the owner's knowledge base). */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  message: Schema.String
}) {}

/** Missing or bad credentials. */
export class Unauthenticated extends Schema.TaggedError<Unauthenticated>()("Unauthenticated", {
  message: Schema.String
}) {}

/**
 * Too many failed attempts (logins) in the deployment's window: refused without being checked.
 * `retryAfterSeconds` is when the next attempt may be made (an HTTP surface's `Retry-After`).
 */
export class TooManyAttempts extends Schema.TaggedError<TooManyAttempts>()("TooManyAttempts", {
  retryAfterSeconds: Schema.Number,
  message: Schema.String
}) {}

export type DomainError = InvalidInput | NotFound | AlreadyExists | Forbidden | Unauthenticated | TooLarge | TooManyAttempts

/** Helpers that build the common domain errors with readable messages. */
export const notFound = (entity: EntityName, id: string): NotFound =>
  new NotFound({ entity, id, message: `${entity} ${id} not found` })

export const invalid = (field: string, message: string): InvalidInput => new InvalidInput({ field, message })
