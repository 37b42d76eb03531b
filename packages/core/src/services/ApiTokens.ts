/**
 * ApiTokens: a tenant's API keys (`Authorization: Bearer ragkit-...`). A key is shown once, when it
 * is made; the store keeps its SHA-256 and a short prefix to tell keys apart in lists.
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { Caller } from "../domain/Caller.js"
import { NotFound, type StoreError, Unauthenticated } from "../domain/Errors.js"
import * as Fields from "../domain/Fields.js"
import { type ApiTokenId, DialogId, isHex32, randomHex32 } from "../domain/Ids.js"
import { ApiToken } from "../domain/Records.js"
import { newStamps } from "../domain/Time.js"
import { RecordStore } from "../ports/RecordStore.js"
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

export const CreateResult = Schema.Struct({
  token: ApiToken,
  /** The key itself. Shown here only; it can't be recovered later. */
  secret: Schema.String
})
export type CreateResult = typeof CreateResult.Type

export const ListRequest = Schema.Struct({})
export type ListRequest = typeof ListRequest.Type

/** The tenant's keys, newest first: their prefixes, never the keys. */
export const ListResult = Schema.Array(ApiToken)
export type ListResult = typeof ListResult.Type

export const RemoveRequest = Schema.Struct({
  /** The key's id, or the key itself. */
  token: Fields.Text(SECRET_MAX)
})
export type RemoveRequest = typeof RemoveRequest.Type

/** Any string: a key that can't be one is refused like an unknown one (`Unauthenticated`). */
export const AuthenticateRequest = Schema.Struct({ secret: Fields.String })
export type AuthenticateRequest = typeof AuthenticateRequest.Type

export const AuthenticateResult = Schema.Struct({ caller: Caller, token: ApiToken })
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
  readonly create: (caller: Caller, request: CreateRequest) => Effect.Effect<CreateResult, NotFound | StoreError>
  /** The caller's tenant's keys, newest first. */
  readonly list: (caller: Caller, request: ListRequest) => Effect.Effect<ListResult, StoreError>
  /** Revokes a key of the caller's tenant, named by its id or by the key itself. */
  readonly remove: (caller: Caller, request: RemoveRequest) => Effect.Effect<void, NotFound | StoreError>
  /** The caller a key acts as: its tenant, and the user who made it. */
  readonly authenticate: (request: AuthenticateRequest) => Effect.Effect<AuthenticateResult, Unauthenticated | StoreError>
}

export class ApiTokens extends Context.Tag("@ragkit/core/ApiTokens")<ApiTokens, ApiTokensService>() {}

export const SECRET_PREFIX = "ragkit-"
const BAD_KEY = "Invalid API key"

/** What lists show of a key: its first 12 characters. */
export const displayPrefix = (secret: string): string => `${secret.slice(0, 12)}…`

export const make = Effect.gen(function* () {
  const store = yield* RecordStore

  const create = Effect.fn("ApiTokens.create")(function* (caller: Caller, request: CreateRequest) {
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
        beta: null,
        last_used_time: null,
        ...stamps
      })
    )
    return { token, secret }
  })

  const list = Effect.fn("ApiTokens.list")(function* (caller: Caller, _request: ListRequest) {
    const page = yield* store.apiTokens.find({ where: { tenant_id: caller.tenantId }, orderBy: "create_time", desc: true })
    return page.items
  })

  const remove = Effect.fn("ApiTokens.remove")(function* (caller: Caller, request: RemoveRequest) {
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
    const found = yield* store.apiTokens.findFirst({ token_hash: sha256Hex(secret) })
    if (Option.isNone(found)) return yield* Effect.fail(new Unauthenticated({ message: BAD_KEY }))
    let token = found.value
    const now = yield* Clock.currentTimeMillis
    const stale = (t: ApiToken) => lastUseIsStale(t.last_used_time, now)
    if (stale(token)) {
      // `last_used_time` only; `update_time` tracks changes to the key, not its use.
      const updated = yield* store.apiTokens.modify(token.id, (current) =>
        Effect.succeed(stale(current) ? new ApiToken({ ...current, last_used_time: now }) : current)
      )
      if (Option.isNone(updated)) return yield* Effect.fail(new Unauthenticated({ message: BAD_KEY }))
      token = updated.value
    }
    return { caller: new Caller({ tenantId: token.tenant_id, userId: token.created_by }), token }
  })

  return ApiTokens.of({ create, list, remove, authenticate })
})

/** Requires `RecordStore`. */
export const layer = Layer.effect(ApiTokens, make)
