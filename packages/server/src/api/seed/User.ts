/**
 * Users: `/api/v1/user/login|register|logout|info|setting`, over `Users`.
 *
 * - `login` and `register` need no credentials; they answer the user's fields with `access_token`
 *   (a new login session) in `data` and in the `Authorization` response header, as RAGFlow does.
 *   Failed logins are limited per account and per client address (core's `Users.login` gets the
 *   connection's address): past a limit, 429 with `Retry-After`.
 * - Passwords (`password`, and `new_password` of `setting`) arrive as `Passwords` reads them: as
 *   sent, or RSA-encrypted as RAGFlow's web client sends them when the deployment configures a
 *   private key (`auth.rsaPrivateKeyFile`, from `ServerConfig`; without `ServerConfig`, as sent).
 *   A login with a password that can't be read fails like a wrong password (and counts as a failed
 *   login); `register` and `setting` refuse an unreadable password with the same message as a
 *   password that is not valid, so nothing tells the two apart.
 * - `info` is the caller's user with `access_token` = the token the caller presented.
 * - `setting` changes nickname, avatar, language, timezone, color_schema, and the password
 *   (`password` the current one, `new_password` the next; a new password ends every session).
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpServerResponse } from "@effect/platform"
import { Users } from "@ragkit/core"
import { Effect, Option, Redacted, Schema } from "effect"
import { ServerConfig } from "../../Config.js"
import { Authentication, CurrentCaller } from "../Auth.js"
import { Ok, ok } from "../Envelope.js"
import * as Errors from "../Errors.js"
import * as Group from "../Group.js"
import * as Passwords from "../Passwords.js"

/** A user as the seed shows it: core's public fields and the session token. */
export const UserView = Schema.Struct({ ...Users.PublicUser.fields, access_token: Schema.String })

/** Sets the session token in the `Authorization` header too (RAGFlow's `construct_response`). */
export const withSession = (user: Users.PublicUser, token: string, message: string) =>
  HttpServerResponse.unsafeJson(
    { code: 0, message, data: { ...user, access_token: token } },
    { headers: { authorization: token, "access-control-expose-headers": "Authorization" } }
  )

/** A field that must be a string to be read as a password; the seed's 400 otherwise. */
const passwordText = (field: string, value: unknown) =>
  value === undefined
    ? Effect.fail(Errors.badRequest(`${field} is required`))
    : typeof value === "string"
    ? Effect.succeed(value)
    : Effect.fail(Errors.badRequest(`${field} must be a string`))

/** The profile fields a user changes (`setting`, REST's `PATCH /users/me`), as sent. */
export const profileOf = (payload: { readonly [K in "nickname" | "avatar" | "language" | "timezone" | "color_schema"]?: unknown }) => ({
  nickname: payload.nickname,
  avatar: payload.avatar,
  language: payload.language,
  timezone: payload.timezone,
  color_schema: payload.color_schema
})

/** One message for a new password that can't be read and one that is not valid. */
const badNewPassword = (field: string) => Errors.badRequest(`${field} can't be read, or is not 8 to 1024 characters`)

export const group = Group.make("user")
  .add(
    HttpApiEndpoint.post("login", "/api/v1/user/login")
      .setPayload(Schema.Struct({ email: Schema.optional(Schema.Unknown), password: Schema.optional(Schema.Unknown) }))
      .addSuccess(Ok(UserView))
      .addError(Errors.TooManyRequests)
  )
  .add(
    HttpApiEndpoint.post("register", "/api/v1/user/register")
      .setPayload(
        Schema.Struct({
          email: Schema.optional(Schema.Unknown),
          nickname: Schema.optional(Schema.Unknown),
          password: Schema.optional(Schema.Unknown)
        })
      )
      .addSuccess(Ok(UserView))
      .addError(Errors.TooManyRequests)
  )
  .add(HttpApiEndpoint.get("logout", "/api/v1/user/logout").addSuccess(Ok(Schema.Boolean)).middleware(Authentication))
  .add(HttpApiEndpoint.get("info", "/api/v1/user/info").addSuccess(Ok(UserView)).middleware(Authentication))
  .add(
    HttpApiEndpoint.post("setting", "/api/v1/user/setting")
      .setPayload(
        Schema.Struct({
          nickname: Schema.optional(Schema.Unknown),
          avatar: Schema.optional(Schema.Unknown),
          language: Schema.optional(Schema.Unknown),
          timezone: Schema.optional(Schema.Unknown),
          color_schema: Schema.optional(Schema.Unknown),
          password: Schema.optional(Schema.Unknown),
          new_password: Schema.optional(Schema.Unknown)
        })
      )
      .addSuccess(Ok(Schema.Boolean))
      .middleware(Authentication)
  )

const Api = HttpApi.make("ragkit").add(group)

/** The deployment's passwords: RSA-encrypted when `ServerConfig` names a private key, else as sent. */
export const deploymentPasswords = Effect.flatMap(Effect.serviceOption(ServerConfig), (config) =>
  Option.match(Option.flatMap(config, (c) => Option.map(c.auth.rsaPrivateKey, (pem) => ({ pem, passphrase: c.auth.rsaPassphrase }))), {
    onNone: () => Effect.succeed(Passwords.plain),
    // The config checked the key and its passphrase when it was loaded.
    onSome: ({ passphrase, pem }) =>
      Effect.orDie(Passwords.make({ privateKeyPem: Redacted.value(pem), passphrase: Option.getOrUndefined(Option.map(passphrase, Redacted.value)) }))
  }))

export const live = HttpApiBuilder.group(Api, "user", (handlers) =>
  Effect.gen(function* () {
    const users = yield* Users.Users
    const passwords = yield* deploymentPasswords

    return handlers
      .handle("login", ({ payload, request }) =>
        Effect.gen(function* () {
          const sent = yield* Group.decode(Users.LoginRequest, { email: payload.email, password: payload.password })
          // Unreadable: checked against a password nobody sent, so it fails (and counts) like a wrong one.
          const password = Option.getOrElse(passwords.read(sent.password), Passwords.unguessable)
          const login = yield* users.login({ email: sent.email, password }, { address: Option.getOrUndefined(request.remoteAddress) }).pipe(
            Effect.catchTag("TooManyAttempts", (e) =>
              Effect.succeed(
                HttpServerResponse.unsafeJson(
                  { code: 109, message: e.message, data: null },
                  { status: 429, headers: { "retry-after": String(e.retryAfterSeconds) } }
                )
              )),
            Errors.respond
          )
          return HttpServerResponse.isServerResponse(login) ? login : withSession(login.user, login.token, "Welcome back!")
        }))
      .handle("register", ({ payload }) =>
        Effect.gen(function* () {
          const sent = yield* passwordText("password", payload.password)
          const password = passwords.read(sent)
          if (Option.isNone(password)) return yield* Effect.fail(badNewPassword("password"))
          const registration = yield* Group.decode(Users.RegisterRequest, { email: payload.email, nickname: payload.nickname, password: password.value }).pipe(
            Effect.mapError((e) => (passwords.encrypted && e.message.startsWith("password") ? badNewPassword("password") : e))
          )
          const user = yield* Errors.respond(users.register(registration))
          // Signed up and signed in, as RAGFlow does: with the password just set, no guess (so no address).
          const login = yield* Errors.respond(users.login({ email: user.email, password: registration.password }))
          return withSession(login.user, login.token, `${user.nickname}, welcome aboard!`)
        }))
      .handle("logout", () =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          yield* Errors.respond(users.logout(caller, {}))
          return ok(true)
        }))
      .handle("info", () =>
        Effect.gen(function* () {
          const { caller, token } = yield* CurrentCaller
          const user = yield* Errors.respond(users.get(caller, {}))
          return ok({ ...user, access_token: Redacted.value(token) })
        }))
      .handle("setting", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          let password: { current: string; next: string } | undefined
          if (payload.new_password !== undefined && payload.new_password !== null && payload.new_password !== "") {
            const current = yield* passwordText("password", payload.password)
            const next = passwords.read(yield* passwordText("new_password", payload.new_password))
            if (Option.isNone(next)) return yield* Effect.fail(badNewPassword("new_password"))
            // An unreadable current password is checked like a wrong one: the same answer.
            password = { current: Option.getOrElse(passwords.read(current), Passwords.unguessable), next: next.value }
          }
          const request = yield* Group.decode(
            Users.UpdateRequest,
            Group.defined({ ...profileOf(payload), password })
          ).pipe(
            Effect.mapError((e) =>
              e.message.startsWith("password.next")
                ? passwords.encrypted ? badNewPassword("new_password") : Errors.badRequest(e.message.replace(/^password\.next/, "new_password"))
                : e
            )
          )
          yield* Errors.respond(users.update(caller, request))
          return ok(true)
        }))
  }))
