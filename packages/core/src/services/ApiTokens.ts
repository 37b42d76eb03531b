/**
 * ApiTokens: a tenant's API keys (`Authorization: Bearer ragkit-...`). A key is shown once, when it
 * is made; the store keeps its SHA-256 and a short prefix to tell keys apart in lists.
 */
import { Clock, Context, Effect, Layer, Option } from "effect"
import { Caller } from "../domain/Caller.js"
import { type InvalidInput, NotFound, notFound, type StoreError, Unauthenticated } from "../domain/Errors.js"
import { type ApiTokenId, type DialogId, isHex32, randomHex32 } from "../domain/Ids.js"
import { ApiToken } from "../domain/Records.js"
import { newStamps } from "../domain/Time.js"
import { RecordStore } from "../ports/RecordStore.js"
import { ownRecord } from "./internal/access.js"
import { randomToken, sha256Hex } from "./internal/secrets.js"
import * as validate from "./internal/validate.js"

export interface CreateApiTokenInput {
  /** Scopes the key to one dialog of the tenant (embedded chat). */
  readonly dialogId?: DialogId | undefined
  /** Where the key is used (`dialog`, `agent`, ...), free text. */
  readonly source?: string | undefined
}

export interface CreatedApiToken {
  readonly token: ApiToken
  /** The key itself. Shown here only; it can't be recovered later. */
  readonly secret: string
}

export interface AuthenticatedApiToken {
  readonly caller: Caller
  readonly token: ApiToken
}

export interface ApiTokensService {
  readonly create: (caller: Caller, input?: CreateApiTokenInput) => Effect.Effect<CreatedApiToken, InvalidInput | NotFound | StoreError>
  /** The caller's tenant's keys, newest first. */
  readonly list: (caller: Caller) => Effect.Effect<ReadonlyArray<ApiToken>, StoreError>
  /** Revokes a key of the caller's tenant, named by its id or by the key itself. */
  readonly remove: (caller: Caller, idOrSecret: string) => Effect.Effect<void, NotFound | StoreError>
  /** The caller a key acts as: its tenant, and the user who made it. */
  readonly authenticate: (secret: string) => Effect.Effect<AuthenticatedApiToken, Unauthenticated | StoreError>
}

export class ApiTokens extends Context.Tag("@ragkit/core/ApiTokens")<ApiTokens, ApiTokensService>() {}

export const SECRET_PREFIX = "ragkit-"
/** `last_used_time` is written at most this often per key. */
const LAST_USED_RESOLUTION_MS = 60_000
const BAD_KEY = "Invalid API key"

/** What lists show of a key: its first 12 characters. */
export const displayPrefix = (secret: string): string => `${secret.slice(0, 12)}…`

export const make = Effect.gen(function* () {
  const store = yield* RecordStore

  const create = Effect.fn("ApiTokens.create")(function* (caller: Caller, input: CreateApiTokenInput = {}) {
    let dialogId: DialogId | null = null
    if (input.dialogId !== undefined && input.dialogId !== null) {
      const id = yield* validate.id<DialogId>("dialog_id", input.dialogId)
      dialogId = (yield* ownRecord(store.dialogs, "Dialog", caller, id)).id
    }
    const source =
      input.source === undefined || input.source === null ? null : yield* validate.name("source", input.source, 64)
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
        source,
        beta: null,
        last_used_time: null,
        ...stamps
      })
    )
    return { token, secret }
  })

  const list = Effect.fn("ApiTokens.list")(function* (caller: Caller) {
    const page = yield* store.apiTokens.find({ where: { tenant_id: caller.tenantId }, orderBy: "create_time", desc: true })
    return page.items
  })

  const remove = Effect.fn("ApiTokens.remove")(function* (caller: Caller, idOrSecret: string) {
    if (typeof idOrSecret !== "string" || idOrSecret.length === 0) {
      return yield* Effect.fail(notFound("ApiToken", String(idOrSecret)))
    }
    const byId = isHex32(idOrSecret) ? yield* store.apiTokens.get(idOrSecret) : Option.none<ApiToken>()
    const found = Option.isSome(byId) ? byId : yield* store.apiTokens.findFirst({ token_hash: sha256Hex(idOrSecret) })
    if (Option.isNone(found) || found.value.tenant_id !== caller.tenantId) {
      // Never echo a key back, not even in an error.
      const shown = isHex32(idOrSecret) ? idOrSecret : displayPrefix(idOrSecret)
      return yield* Effect.fail(new NotFound({ entity: "ApiToken", id: shown, message: `API token ${shown} not found` }))
    }
    yield* store.apiTokens.remove([found.value.id])
  })

  const authenticate = Effect.fn("ApiTokens.authenticate")(function* (secret: string) {
    if (typeof secret !== "string" || secret.length === 0 || secret.length > 512) {
      return yield* Effect.fail(new Unauthenticated({ message: BAD_KEY }))
    }
    const found = yield* store.apiTokens.findFirst({ token_hash: sha256Hex(secret) })
    if (Option.isNone(found)) return yield* Effect.fail(new Unauthenticated({ message: BAD_KEY }))
    let token = found.value
    const now = yield* Clock.currentTimeMillis
    const stale = (t: ApiToken) => t.last_used_time === null || now - t.last_used_time >= LAST_USED_RESOLUTION_MS
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
