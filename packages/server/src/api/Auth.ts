/**
 * Who is calling: `Authorization: Bearer <api key>`, or the session token that `user/login`
 * returned, with or without `Bearer`. The middleware turns it into the `CurrentCaller`, or refuses
 * the request with 401: code 401 when there are no credentials, 109 when they are not valid.
 *
 * Credentials that may only chat (a dialog-scoped key, or a key's `beta`, `ApiTokens.Scope`) pass
 * only `ChatAuthentication`, which the dialog-reading and conversation routes use; every other
 * route refuses them with 403. Core keeps such a caller within its dialog (`Caller.dialogId`).
 */
import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { ApiTokens, type Caller, Users } from "@ragkit/core"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import { Codes } from "./Envelope.js"
import * as Errors from "./Errors.js"

export interface Credentials {
  readonly caller: Caller
  /** What an API key reaches; absent for a login session. */
  readonly scope: ApiTokens.Scope | undefined
  /** The token as the client presented it (without `Bearer`), for `user/info`'s `access_token`. */
  readonly token: Redacted.Redacted<string>
}

export class CurrentCaller extends Context.Tag("@ragkit/server/CurrentCaller")<CurrentCaller, Credentials>() {}

export const security = { authorization: HttpApiSecurity.apiKey({ key: "Authorization", in: "header" }) }
const failure = Schema.Union(Errors.Unauthorized, Errors.Forbidden, Errors.Internal)

/** Any credentials with full access. */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("@ragkit/server/Authentication", {
  failure,
  provides: CurrentCaller,
  security
}) {}

/** Any credentials, including those that may only chat. */
export class ChatAuthentication extends HttpApiMiddleware.Tag<ChatAuthentication>()("@ragkit/server/ChatAuthentication", {
  failure,
  provides: CurrentCaller,
  security
}) {}

/** The token of an `Authorization` header: without `Bearer `, trimmed. */
export const tokenOf = (header: string): string => header.trim().replace(/^Bearer\s+/i, "").trim()

/**
 * The credentials behind a presented token (without `Bearer`): an API key, a login session, or a
 * key's `beta`. Fails with core's `Unauthenticated` when they are none of these.
 */
export const credentialsOf = (users: Users.UsersService, apiTokens: ApiTokens.ApiTokensService) => (token: string) => {
  const presented = Redacted.make(token)
  const byKey = Effect.map(apiTokens.authenticate({ secret: token }), (r): Credentials => ({ caller: r.caller, scope: r.scope, token: presented }))
  const bySession = Effect.map(users.authenticate({ token }), (caller): Credentials => ({ caller, scope: undefined, token: presented }))
  // An API key says what it is; anything else is a session token, or else a key's `beta`.
  return token.startsWith(ApiTokens.SECRET_PREFIX)
    ? byKey
    : Effect.catchTag(bySession, "Unauthenticated", () => byKey)
}

/** Whether credentials reach every route, not only the chat routes. */
export const hasFullAccess = (credentials: Credentials): boolean => credentials.scope === undefined || credentials.scope.access === "all"

const authenticate = (users: Users.UsersService, apiTokens: ApiTokens.ApiTokensService, allowChat: boolean) =>
(header: Redacted.Redacted<string>): Effect.Effect<Credentials, Errors.ApiError> => {
  const token = tokenOf(Redacted.value(header))
  if (token === "") return Effect.fail(Errors.unauthorized("Unauthorized: send Authorization: Bearer <api key or session token>", Codes.unauthorized))
  return credentialsOf(users, apiTokens)(token).pipe(
    Effect.catchTag("Unauthenticated", () => Effect.fail(Errors.unauthorized("Authentication error: API key or session token is invalid"))),
    Effect.filterOrFail(
      (credentials) => allowChat || hasFullAccess(credentials),
      () => Errors.forbidden("this API key may only chat: use a key made without a dialog")
    ),
    Errors.respond
  )
}

/** A middleware's implementation over the engine's users and API keys. */
const checker = (allowChat: boolean) =>
  Effect.gen(function* () {
    const check = authenticate(yield* Users.Users, yield* ApiTokens.ApiTokens, allowChat)
    return { authorization: check }
  })

/** Both middlewares, over the engine's users and API keys. */
export const layer = Layer.mergeAll(
  Layer.effect(Authentication, checker(false)),
  Layer.effect(ChatAuthentication, checker(true))
)
