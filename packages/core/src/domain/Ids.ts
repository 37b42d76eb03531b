/**
 * Branded identifiers. Every record id is a 32-character lower-case hex string, as RAGFlow's.
 */
import { Schema } from "effect"

const Hex32 = Schema.String.annotations({ message: () => ({ message: "must be a string", override: true }) }).pipe(
  Schema.pattern(/^[0-9a-f]{32}$/, { message: () => "is not a valid id" })
)

export const TenantId = Hex32.pipe(Schema.brand("TenantId"))
export type TenantId = typeof TenantId.Type
export const UserId = Hex32.pipe(Schema.brand("UserId"))
export type UserId = typeof UserId.Type
export const TenantMemberId = Hex32.pipe(Schema.brand("TenantMemberId"))
export type TenantMemberId = typeof TenantMemberId.Type
export const ApiTokenId = Hex32.pipe(Schema.brand("ApiTokenId"))
export type ApiTokenId = typeof ApiTokenId.Type
export const ModelProviderId = Hex32.pipe(Schema.brand("ModelProviderId"))
export type ModelProviderId = typeof ModelProviderId.Type
export const ModelId = Hex32.pipe(Schema.brand("ModelId"))
export type ModelId = typeof ModelId.Type
export const KnowledgeBaseId = Hex32.pipe(Schema.brand("KnowledgeBaseId"))
export type KnowledgeBaseId = typeof KnowledgeBaseId.Type
export const DocumentId = Hex32.pipe(Schema.brand("DocumentId"))
export type DocumentId = typeof DocumentId.Type
export const ChunkId = Hex32.pipe(Schema.brand("ChunkId"))
export type ChunkId = typeof ChunkId.Type
export const DialogId = Hex32.pipe(Schema.brand("DialogId"))
export type DialogId = typeof DialogId.Type
export const ConversationId = Hex32.pipe(Schema.brand("ConversationId"))
export type ConversationId = typeof ConversationId.Type
export const MessageId = Hex32.pipe(Schema.brand("MessageId"))
export type MessageId = typeof MessageId.Type
export const TaskId = Hex32.pipe(Schema.brand("TaskId"))
export type TaskId = typeof TaskId.Type
export const SessionId = Hex32.pipe(Schema.brand("SessionId"))
export type SessionId = typeof SessionId.Type
export const LoginFailureId = Hex32.pipe(Schema.brand("LoginFailureId"))
export type LoginFailureId = typeof LoginFailureId.Type

/** A fresh random 32-hex id (a UUID v4 without dashes, as RAGFlow's `get_uuid`). */
export const randomHex32 = (): string => globalThis.crypto.randomUUID().replace(/-/g, "")

/** Is this string shaped like an id? Used to reject junk before touching a store. */
export const isHex32 = (s: unknown): s is string => typeof s === "string" && /^[0-9a-f]{32}$/.test(s)
