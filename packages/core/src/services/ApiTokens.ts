/**
 * ApiTokens: a tenant's API keys (`Authorization: Bearer ragkit-...`). A key is shown once, when it
 * is made; the store keeps its SHA-256 and a short prefix to tell keys apart in lists.
 *
 * Each key also has a `beta`, as RAGFlow's `api_token.beta`: a second credential (32 characters,
 * no `ragkit-` prefix) meant for an embedded chat widget, i.e. for a web page anyone can read. It
 * is therefore shown in lists (as RAGFlow does) and it may only chat. What each credential reaches
 * (`AuthenticateResult.scope`):
 *
 * | credential | dialogs | routes (the server enforces `access`) |
 * |---|---|---|
 * | a key without `dialog_id` | every dialog of its tenant | every route (`access: "all"`) |
 * | a key with `dialog_id` | that dialog only (`Caller.dialogId`) | chat only (`access: "chat"`) |
 * | a `beta` | its key's dialog, or every dialog of the tenant when the key has none | chat only |
 *
 * "Chat" is reading a dialog (`dialogs/get`, `dialogs/list` showing only what the caller sees) and
 * working with its conversations (`conversations/set|get|completion|delete_msg|thumbup`). Core
 * enforces the dialog: a scoped caller's services report every other dialog and its conversations
 * as not found. The server enforces the routes.
 */
import { Clock, Context, Effect, Layer, Option, Schema, Struct } from "effect"
import { Caller } from "../domain/Caller.js"
import { Forbidden, NotFound, type StoreError, Unauthenticated } from "../domain/Errors.js"
import * as Fields from "../domain/Fields.js"
import { type ApiTokenId, DialogId, isHex32, randomHex32 } from "../domain/Ids.js"
import { ApiToken } from "../domain/Records.js"
import { newStamps } from "../domain/Time.js"
import { type Condition, RecordStore } from "../ports/RecordStore.js"
import { ownRecord } from "./internal/access.js"
import { lastUseIsStale, randomToken, sha256Hex } from "./internal/secrets.js"

// ---------------------------------------------------------------------------------------------
// Requests and results

/** Keys are 50 characters; anything much longer is not one. */
const SECRET_MAX = 512

export const CreateRequest = Schema.Struct({
  /** Scopes the key to one dialog of the tenant (embedded chat); none when absent or null. */
  dialog_id: Schema.optional(Schema.NullOr(DialogId)),
  /** Where the key is used (`dialog`, `agent`, ...), free text. */
  source: Schema.optional(Schema.NullOr(Fields.Name(64)))
})
export type CreateRequest = typeof CreateRequest.Type

/**
 * A key as lists and results show it: everything but its hash. `id` is what `remove` takes (with
 * the key itself); `token_prefix` tells keys apart; `beta` is the key's embed credential.
 */
export const PublicApiToken = Schema.Struct({ ...Struct.omit(ApiToken.fields, "token_hash", "beta"), beta: Schema.String })
export type PublicApiToken = typeof PublicApiToken.Type

export const CreateResult = Schema.Struct({
  token: PublicApiToken,
  /** The key itself. Shown here only; it can't be recovered later. */
  secret: Schema.String
})
export type CreateResult = typeof CreateResult.Type

export const ListRequest = Schema.Struct({})
export type ListRequest = typeof ListRequest.Type

/** The tenant's keys, newest first: their ids, prefixes and betas, never the keys or their hashes. */
export const ListResult = Schema.Array(PublicApiToken)
export type ListResult = typeof ListResult.Type

export const RemoveRequest = Schema.Struct({
  /** The key's id, or the key itself. */
  token: Fields.Text(SECRET_MAX)
})
export type RemoveRequest = typeof RemoveRequest.Type

/**
 * A key (`ragkit-...`) or a key's `beta`. Any string: one that can't be either is refused like an
 * unknown one (`Unauthenticated`).
 */
export const AuthenticateRequest = Schema.Struct({ secret: Fields.String })
export type AuthenticateRequest = typeof AuthenticateRequest.Type

/** What a credential may reach (see the table at the top of this module). */
export const Scope = Schema.Struct({
  /** `key`: the API key itself; `beta`: the key's embed credential. */
  credential: Schema.Literal("key", "beta"),
  /** The one dialog the caller reaches (also `Caller.dialogId`), or null for every dialog of its tenant. */
  dialog_id: Schema.NullOr(DialogId),
  /** `all`: every route of its tenant; `chat`: reading dialogs and their conversations only. */
  access: Schema.Literal("all", "chat")
})
export type Scope = typeof Scope.Type

export const AuthenticateResult = Schema.Struct({ caller: Caller, token: PublicApiToken, scope: Scope })
export type AuthenticateResult = typeof AuthenticateResult.Type

/** Each method's request and result, for the surfaces that decode what callers send. */
export const Operations = {
  create: Fields.operation(CreateRequest, CreateResult),
  list: Fields.operation(ListRequest, ListResult),
  remove: Fields.operation(RemoveRequest, Schema.Void),
  authenticate: Fields.anonymous(AuthenticateRequest, AuthenticateResult)
}

// ---------------------------------------------------------------------------------------------
// The service

export interface ApiTokensService {
  /** `Forbidden` for a dialog-scoped caller: a key made for one dialog makes no keys. */
  readonly create: (caller: Caller, request: CreateRequest) => Effect.Effect<CreateResult, Forbidden | NotFound | StoreError>
  /** The caller's tenant's keys, newest first (a dialog-scoped caller: the keys of its dialog). */
  readonly list: (caller: Caller, request: ListRequest) => Effect.Effect<ListResult, StoreError>
  /**
   * Revokes a key of the caller's tenant, named by its id (as lists show it) or by the key itself.
   * `Forbidden` for a dialog-scoped caller.
   */
  readonly remove: (caller: Caller, request: RemoveRequest) => Effect.Effect<void, Forbidden | NotFound | StoreError>
  /**
   * The caller a key or a beta acts as (its tenant, the user who made the key, the key's dialog
   * scope) and what it may reach.
   */
  readonly authenticate: (request: AuthenticateRequest) => Effect.Effect<AuthenticateResult, Unauthenticated | StoreError>
}

export class ApiTokens extends Context.Tag("@ragkit/core/ApiTokens")<ApiTokens, ApiTokensService>() {}

export const SECRET_PREFIX = "ragkit-"
const BAD_KEY = "Invalid API key"

/** What lists show of a key: its first 12 characters. */
export const displayPrefix = (secret: string): string => `${secret.slice(0, 12)}…`

/** Length of a beta: 32 characters of base64url, as RAGFlow's. */
export const BETA_LENGTH = 32
const newBeta = () => randomToken(24)

/** A key as results show it. Services give it a beta first (keys made before betas existed get one). */
const publicToken = (token: ApiToken): PublicApiToken => {
  const { token_hash: _hash, ...shown } = token
  return { ...shown, beta: token.beta ?? "" }
}

const scopedRefused = new Forbidden({ message: "a key made for one dialog can't manage API keys" })

export const make = Effect.gen(function* () {
  const store = yield* RecordStore

  const create = Effect.fn("ApiTokens.create")(function* (caller: Caller, request: CreateRequest) {
    if (caller.dialogId !== undefined) return yield* Effect.fail(scopedRefused)
    const dialogId =
      request.dialog_id === undefined || request.dialog_id === null
        ? null
        : (yield* ownRecord(store.dialogs, "Dialog", caller, request.dialog_id)).id
    const secret = `${SECRET_PREFIX}${randomToken(32)}`
    const stamps = yield* newStamps
    const token = yield* store.apiTokens.insert(
      new ApiToken({
        id: randomHex32() as ApiTokenId,
        tenant_id: caller.tenantId,
        created_by: caller.userId,
        token_hash: sha256Hex(secret),
        token_prefix: displayPrefix(secret),
        dialog_id: dialogId,
        source: request.source ?? null,
        beta: newBeta(),
        last_used_time: null,
        ...stamps
      })
    )
    return { token: publicToken(token), secret }
  })

  /** The key with a beta: a key made before betas existed gets one now, as RAGFlow's `token_list` does. */
  const withBeta = (token: ApiToken) =>
    token.beta !== null
      ? Effect.succeed(Option.some(token))
      : store.apiTokens.modify(token.id, (current) =>
          Effect.succeed(current.beta !== null ? current : new ApiToken({ ...current, beta: newBeta() }))
        )

  const list = Effect.fn("ApiTokens.list")(function* (caller: Caller, _request: ListRequest) {
    const where: Record<string, Condition> = { tenant_id: caller.tenantId }
    if (caller.dialogId !== undefined) where.dialog_id = caller.dialogId
    const page = yield* store.apiTokens.find({ where, orderBy: "create_time", desc: true })
    const tokens = yield* Effect.forEach(page.items, withBeta)
    return tokens.flatMap((t) => (Option.isSome(t) ? [publicToken(t.value)] : []))
  })

  const remove = Effect.fn("ApiTokens.remove")(function* (caller: Caller, request: RemoveRequest) {
    if (caller.dialogId !== undefined) return yield* Effect.fail(scopedRefused)
    const idOrSecret = request.token
    const byId = isHex32(idOrSecret) ? yield* store.apiTokens.get(idOrSecret) : Option.none<ApiToken>()
    const found = Option.isSome(byId) ? byId : yield* store.apiTokens.findFirst({ token_hash: sha256Hex(idOrSecret) })
    if (Option.isNone(found) || found.value.tenant_id !== caller.tenantId) {
      // Never echo a key back, not even in an error.
      const shown = isHex32(idOrSecret) ? idOrSecret : displayPrefix(idOrSecret)
      return yield* Effect.fail(new NotFound({ entity: "ApiToken", id: shown, message: `API token ${shown} not found` }))
    }
    yield* store.apiTokens.remove([found.value.id])
  })

  const authenticate = Effect.fn("ApiTokens.authenticate")(function* (request: AuthenticateRequest) {
    const { secret } = request
    if (secret.length === 0 || secret.length > SECRET_MAX) return yield* Effect.fail(new Unauthenticated({ message: BAD_KEY }))
    const isBeta = !secret.startsWith(SECRET_PREFIX)
    if (isBeta && secret.length !== BETA_LENGTH) return yield* Effect.fail(new Unauthenticated({ message: BAD_KEY }))
    const found = yield* store.apiTokens.findFirst(isBeta ? { beta: secret } : { token_hash: sha256Hex(secret) })
    if (Option.isNone(found)) return yield* Effect.fail(new Unauthenticated({ message: BAD_KEY }))
    let token = found.value
    const now = yield* Clock.currentTimeMillis
    // `last_used_time` only (`update_time` tracks changes to the key, not its use), and a beta for a
    // key made before betas existed.
    const due = (t: ApiToken) => lastUseIsStale(t.last_used_time, now) || t.beta === null
    if (due(token)) {
      const updated = yield* store.apiTokens.modify(token.id, (current) =>
        Effect.succeed(
          due(current)
            ? new ApiToken({
                ...current,
                last_used_time: lastUseIsStale(current.last_used_time, now) ? now : current.last_used_time,
                beta: current.beta ?? newBeta()
              })
            : current
        )
      )
      if (Option.isNone(updated)) return yield* Effect.fail(new Unauthenticated({ message: BAD_KEY }))
      token = updated.value
    }
    const dialogId = token.dialog_id ?? undefined
    const scope: Scope = {
      credential: isBeta ? "beta" : "key",
      dialog_id: token.dialog_id,
      access: isBeta || dialogId !== undefined ? "chat" : "all"
    }
    const caller = new Caller({ tenantId: token.tenant_id, userId: token.created_by, ...(dialogId === undefined ? {} : { dialogId }) })
    return { caller, token: publicToken(token), scope }
  })

  return ApiTokens.of({ create, list, remove, authenticate })
})

/** Requires `RecordStore`. */
export const layer = Layer.effect(ApiTokens, make)
