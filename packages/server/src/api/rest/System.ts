/**
 * System (REST): API keys at `/api/v1/system/tokens` (POST makes one, GET lists them) and
 * `DELETE /api/v1/system/tokens/{token}`. `ping`, `healthz`, `version` and `status` are the seed's
 * routes at the same paths (`seed/System.ts`).
 *
 * A new key is shown once, in `token`; a listed key shows its `id` in `token`, never the key or its
 * hash; `DELETE` takes either. Another tenant's key is code 102, as an unknown one.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint } from "@effect/platform"
import { ApiTokens } from "@ragkit/core"
import { Effect, Schema } from "effect"
import { TokenView } from "../seed/System.js"
import * as Rest from "./Rest.js"
import { Authentication } from "./RestAuth.js"

export const group = Rest.group("restSystem")
  .add(HttpApiEndpoint.post("createToken", "/api/v1/system/tokens").addSuccess(Rest.Reply(Rest.Ok(TokenView))))
  .add(HttpApiEndpoint.get("listTokens", "/api/v1/system/tokens").addSuccess(Rest.Reply(Rest.Ok(Schema.Array(TokenView)))))
  .add(
    HttpApiEndpoint.del("removeToken", "/api/v1/system/tokens/:token")
      .setPath(Schema.Struct({ token: Schema.String }))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Boolean)))
  )
  .middleware(Authentication)

const Api = HttpApi.make("ragkit").add(group)

export const live = HttpApiBuilder.group(Api, "restSystem", (handlers) =>
  Effect.gen(function* () {
    const tokens = yield* ApiTokens.ApiTokens
    return handlers
      .handle("createToken", () =>
        Rest.respond(Effect.gen(function* () {
          const created = yield* tokens.create(yield* Rest.caller, {})
          return Rest.okWithMessage({ ...created.token, token: created.secret })
        })))
      .handle("listTokens", () =>
        Rest.respond(Effect.gen(function* () {
          const list = yield* tokens.list(yield* Rest.caller, {})
          return Rest.okWithMessage(list.map((t) => ({ ...t, token: t.id })))
        })))
      .handle("removeToken", ({ path }) =>
        Rest.respond(Effect.gen(function* () {
          const request = yield* Rest.decode(ApiTokens.RemoveRequest, { token: path.token })
          yield* tokens.remove(yield* Rest.caller, request)
          return Rest.okWithMessage(true)
        })))
  }))
