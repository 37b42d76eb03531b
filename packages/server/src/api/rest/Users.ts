/**
 * Users (REST): `POST /api/v1/users` (sign up), `POST /api/v1/auth/login`, `POST /api/v1/auth/logout`,
 * `GET` and `PATCH /api/v1/users/me`, over `Users`, as RAGFlow's `user_api.py` answers them
 * (`{ code, message: "success", data }`).
 *
 * - Sign-up and login need no credentials; they answer the user with `access_token` (a new login
 *   session) in `data` and in the `Authorization` response header, as RAGFlow does. A missing field
 *   is RAGFlow's 101 (`required argument are missing: ...`), a field core refuses is 101 naming it;
 *   closed registration and an e-mail already taken are RAGFlow's 103.
 * - A failed login is 109 (a wrong e-mail or password alike, and past the failed-login limits:
 *   the seed's 429 is an HTTP status RAGFlow's clients do not expect).
 * - Passwords are read as the seed reads them (`Passwords`, `seed/User.ts`): as sent, or
 *   RSA-encrypted when the deployment configures a private key (`auth.rsaPrivateKeyFile`).
 * - `PATCH /users/me` changes nickname, avatar, language, timezone, color_schema, and the password
 *   (`password` the current one, `new_password` the next; a wrong current one is RAGFlow's 109
 *   `Password error!`; a new password ends every session, as RAGFlow logs the user out).
 * - `GET /users/me` is the caller's user (no token in it).
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint } from "@effect/platform"
import { Users } from "@ragkit/core"
import { Effect, Option, Schema } from "effect"
import * as Group from "../Group.js"
import * as Passwords from "../Passwords.js"
import { deploymentPasswords, profileOf, UserView, withSession } from "../seed/User.js"
import * as Rest from "./Rest.js"
import { Authentication } from "./RestAuth.js"

/** RAGFlow's `validate_request` answer when required fields are absent. */
export const missing = (payload: Record<string, unknown>, ...fields: ReadonlyArray<string>) => {
  const absent = fields.filter((f) => payload[f] === undefined)
  return absent.length === 0 ? Effect.void : Rest.argument(`required argument are missing: ${absent.join(",")}; `)
}

/** One message for a new password that can't be read and one that is not valid (nothing tells them apart). */
const badNewPassword = (field: string) => Rest.argument(`${field} can't be read, or is not 8 to 1024 characters`)

/** A field that must be a string to be read as a password. */
const passwordText = (field: string, value: unknown) =>
  typeof value === "string" ? Effect.succeed(value) : Rest.argument(`${field} must be a string`)

export const group = Rest.group("restUsers")
  .add(
    HttpApiEndpoint.post("register", "/api/v1/users")
      .setPayload(Schema.Struct(Group.loose("email", "nickname", "password")))
      .addSuccess(Rest.Reply(Rest.Ok(UserView)))
  )
  .add(
    HttpApiEndpoint.post("login", "/api/v1/auth/login")
      .setPayload(Schema.Struct(Group.loose("email", "password")))
      .addSuccess(Rest.Reply(Rest.Ok(UserView)))
  )
  .add(HttpApiEndpoint.post("logout", "/api/v1/auth/logout").addSuccess(Rest.Reply(Rest.Ok(Schema.Boolean))).middleware(Authentication))
  .add(HttpApiEndpoint.get("me", "/api/v1/users/me").addSuccess(Rest.Reply(Rest.Ok(Users.PublicUser))).middleware(Authentication))
  .add(
    HttpApiEndpoint.patch("updateMe", "/api/v1/users/me")
      .setPayload(Schema.Struct(Group.loose("nickname", "avatar", "language", "timezone", "color_schema", "password", "new_password")))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Boolean)))
      .middleware(Authentication)
  )

const Api = HttpApi.make("ragkit").add(group)

export const live = HttpApiBuilder.group(Api, "restUsers", (handlers) =>
  Effect.gen(function* () {
    const users = yield* Users.Users
    const passwords = yield* deploymentPasswords

    return handlers
      .handle("register", ({ payload }) =>
        Rest.respond(Effect.gen(function* () {
          yield* missing(payload, "nickname", "email", "password")
          const password = passwords.read(yield* passwordText("password", payload.password))
          if (Option.isNone(password)) return yield* badNewPassword("password")
          const registration = yield* Rest.decode(Users.RegisterRequest, { email: payload.email, nickname: payload.nickname, password: password.value }).pipe(
            Effect.catchIf((e) => passwords.encrypted && e.message.startsWith("password"), () => badNewPassword("password"))
          )
          const user = yield* users.register(registration).pipe(
            Effect.catchTags({
              Forbidden: (e) => Rest.fail(Rest.Codes.operating, e.message),
              AlreadyExists: () => Rest.fail(Rest.Codes.operating, `Email: ${registration.email} has already registered!`)
            })
          )
          // Signed up and signed in, as RAGFlow does: with the password just set.
          const login = yield* users.login({ email: user.email, password: registration.password })
          return withSession(login.user, login.token, `${user.nickname}, welcome aboard!`)
        })))
      .handle("login", ({ payload, request }) =>
        Rest.respond(Effect.gen(function* () {
          const sent = yield* Rest.decode(Users.LoginRequest, { email: payload.email, password: payload.password })
          // Unreadable: checked against a password nobody sent, so it fails (and counts) like a wrong one.
          const password = Option.getOrElse(passwords.read(sent.password), Passwords.unguessable)
          const login = yield* users.login({ email: sent.email, password }, { address: Option.getOrUndefined(request.remoteAddress) })
          return withSession(login.user, login.token, "Welcome back!")
        })))
      .handle("logout", () =>
        Rest.respond(Effect.gen(function* () {
          yield* users.logout(yield* Rest.caller, {})
          return Rest.okWithMessage(true)
        })))
      .handle("me", () =>
        Rest.respond(Effect.gen(function* () {
          return Rest.okWithMessage(yield* users.get(yield* Rest.caller, {}))
        })))
      .handle("updateMe", ({ payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          let password: { current: string; next: string } | undefined
          const changing = payload.new_password !== undefined && payload.new_password !== null && payload.new_password !== ""
          if (changing) {
            if (payload.password === undefined || payload.password === null || payload.password === "") {
              return yield* Rest.argument("password (the current one) is required to set new_password")
            }
            const current = yield* passwordText("password", payload.password)
            const next = passwords.read(yield* passwordText("new_password", payload.new_password))
            if (Option.isNone(next)) return yield* badNewPassword("new_password")
            // An unreadable current password is checked like a wrong one: the same answer.
            password = { current: Option.getOrElse(passwords.read(current), Passwords.unguessable), next: next.value }
          }
          const request = yield* Rest.decode(Users.UpdateRequest, { ...profileOf(payload), password }).pipe(
            Effect.catchIf(
              (e) => e.message.startsWith("password.next"),
              (e) => passwords.encrypted ? badNewPassword("new_password") : Rest.argument(e.message.replace(/^password\.next/, "new_password"))
            )
          )
          yield* users.update(caller, request).pipe(
            Effect.catchIf(
              (e) => e._tag === "InvalidInput" && e.field === "password",
              () => Rest.fail(Rest.Codes.authentication, "Password error!")
            )
          )
          return Rest.okWithMessage(true)
        })))
  }))
