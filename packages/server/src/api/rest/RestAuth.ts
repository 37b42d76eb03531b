/**
 * Who calls a REST route: `Authorization: Bearer <api key>` (or the bare key; `Bearer` in any case),
 * or a login session's token. Missing or invalid credentials, and credentials that may only chat
 * (a dialog-scoped key, a `beta`), are refused as RAGFlow refuses them: HTTP 401 with
 * `{ "code": 401, "message": "<Unauthorized '401: Unauthorized'>", "data": null }`.
 */
import { HttpApiMiddleware, HttpApiSchema } from "@effect/platform"
import { ApiTokens, Users } from "@ragkit/core"
import { Effect, Layer, Redacted, Schema } from "effect"
import { credentialsOf, CurrentCaller, hasFullAccess, security, tokenOf } from "../Auth.js"

/** RAGFlow's answer to a request without valid credentials. */
export class Unauthorized extends Schema.Class<Unauthorized>("RagflowUnauthorized")(
  { code: Schema.Literal(401), message: Schema.String, data: Schema.Null },
  HttpApiSchema.annotations({ status: 401 })
) {}

export const unauthorized = new Unauthorized({ code: 401, message: "<Unauthorized '401: Unauthorized'>", data: null })

/** Credentials with full access (an API key or a login session). */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("@ragkit/server/RestAuthentication", {
  failure: Unauthorized,
  provides: CurrentCaller,
  security
}) {}

/** The middleware over the engine's users and API keys. */
export const layer = Layer.effect(
  Authentication,
  Effect.gen(function* () {
    const credentials = credentialsOf(yield* Users.Users, yield* ApiTokens.ApiTokens)
    return {
      authorization: (header: Redacted.Redacted<string>) => {
        const token = tokenOf(Redacted.value(header))
        if (token === "") return Effect.fail(unauthorized)
        return credentials(token).pipe(
          Effect.filterOrFail(hasFullAccess, () => unauthorized),
          Effect.catchTag("Unauthenticated", () => Effect.fail(unauthorized)),
          // The store failing is a fault, answered by the boundary (code 100, logged), not a refusal.
          Effect.catchTag("StoreError", Effect.die)
        )
      }
    }
  })
)
