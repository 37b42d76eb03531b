/**
 * System: `/api/v1/system/version|status|new_token|token_list` and `DELETE /api/v1/system/token/<token>`
 * (seed), and the probes `ping` and `healthz` (RAGFlow's), which need no credentials.
 *
 * - `status` is core's `System.status` in RAGFlow's shape: each check's `elapsed` is text in
 *   milliseconds with one decimal (`"1.5"`); `redis` is `not_used`; `task_queue` (the queue's depth)
 *   is ragkit's addition.
 * - `new_token` answers the key itself in `token`, the only time it is shown, with its `beta` and
 *   `id`. `token_list` never shows a key or its hash: each entry's `token` is the key's `id`, which
 *   `DELETE /system/token/<token>` takes (as it takes the key itself), beside `token_prefix` and
 *   `beta`. Keys are the caller's tenant's; another tenant's key is 404.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiSchema, HttpServerResponse } from "@effect/platform"
import { ApiTokens, RecordStore, System } from "@ragkit/core"
import { Effect, Schema } from "effect"
import { Authentication } from "../Auth.js"
import { Ok, ok } from "../Envelope.js"
import * as Errors from "../Errors.js"
import * as Group from "../Group.js"

/** The server's version (the packages are versioned together). */
export const version = "0.0.0"

/** A check of `status` as RAGFlow shows it: `elapsed` as text, milliseconds with one decimal. */
const checkFields = { status: Schema.String, elapsed: Schema.String, error: Schema.optional(Schema.String) }

export const StatusView = Schema.Struct({
  doc_engine: Schema.Struct({ type: Schema.String, ...checkFields }),
  storage: Schema.Struct({ storage: Schema.String, ...checkFields }),
  database: Schema.Struct({ database: Schema.String, ...checkFields }),
  redis: Schema.Struct({ status: Schema.String, elapsed: Schema.String }),
  task_queue: Schema.Struct({ ...checkFields, queued: Schema.Number, running: Schema.Number }),
  task_executor_heartbeats: System.StatusResult.fields.task_executor_heartbeats
})

const elapsedText = <C extends { readonly elapsed: number }>(check: C) => ({ ...check, elapsed: check.elapsed.toFixed(1) })

/** A key as `new_token` and `token_list` show it: `token` is the key (once, at creation) or its id. */
export const TokenView = Schema.Struct({ ...ApiTokens.PublicApiToken.fields, token: Schema.String })

const Health = Schema.Struct({ db: Schema.Literal("ok", "nok"), status: Schema.Literal("ok", "nok") })

export const group = Group.make("system")
  .add(HttpApiEndpoint.get("ping", "/api/v1/system/ping").addSuccess(HttpApiSchema.Text()))
  .add(HttpApiEndpoint.get("healthz", "/api/v1/system/healthz").addSuccess(Health).addError(Health, { status: 500 }))
  .add(HttpApiEndpoint.get("version", "/api/v1/system/version").addSuccess(Ok(Schema.String)).middleware(Authentication))
  .add(HttpApiEndpoint.get("status", "/api/v1/system/status").addSuccess(Ok(StatusView)).middleware(Authentication))
  .add(HttpApiEndpoint.post("newToken", "/api/v1/system/new_token").addSuccess(Ok(TokenView)).middleware(Authentication))
  .add(HttpApiEndpoint.get("tokenList", "/api/v1/system/token_list").addSuccess(Ok(Schema.Array(TokenView))).middleware(Authentication))
  .add(
    HttpApiEndpoint.del("removeToken", "/api/v1/system/token/:token")
      .setPath(Schema.Struct({ token: Schema.String }))
      .addSuccess(Ok(Schema.Boolean))
      .middleware(Authentication)
  )

const Api = HttpApi.make("ragkit").add(group)

export const live = HttpApiBuilder.group(Api, "system", (handlers) =>
  Effect.gen(function* () {
    const store = yield* RecordStore.RecordStore
    const system = yield* System.System
    const tokens = yield* ApiTokens.ApiTokens
    return handlers
      .handle("ping", () => Effect.succeed("pong"))
      .handle("healthz", () =>
        Effect.gen(function* () {
          const db = yield* store.tenants.count({}).pipe(
            Effect.as("ok" as const),
            Effect.catchAll(() => Effect.succeed("nok" as const))
          )
          const body = { db, status: db }
          return db === "ok" ? body : HttpServerResponse.unsafeJson(body, { status: 500 })
        }))
      .handle("version", () => Effect.succeed(ok(version)))
      .handle("status", () =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const status = yield* system.status(caller, {})
          return ok({
            doc_engine: elapsedText(status.doc_engine),
            storage: elapsedText(status.storage),
            database: elapsedText(status.database),
            redis: elapsedText(status.redis),
            task_queue: elapsedText(status.task_queue),
            task_executor_heartbeats: status.task_executor_heartbeats
          })
        }))
      .handle("newToken", () =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const created = yield* Errors.respond(tokens.create(caller, {}))
          return ok({ ...created.token, token: created.secret })
        }))
      .handle("tokenList", () =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const list = yield* Errors.respond(tokens.list(caller, {}))
          return ok(list.map((t) => ({ ...t, token: t.id })))
        }))
      .handle("removeToken", ({ path }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(ApiTokens.RemoveRequest, { token: path.token })
          yield* Errors.respond(tokens.remove(caller, request))
          return ok(true)
        }))
  }))
