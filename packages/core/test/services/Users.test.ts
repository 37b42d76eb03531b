import { createHash } from "node:crypto"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Caller } from "../../src/domain/Caller.js"
import { randomHex32, type TenantId, type UserId } from "../../src/domain/Ids.js"
import { User } from "../../src/domain/Records.js"
import * as RecordStore from "../../src/ports/RecordStore.js"
import { decoding } from "../../src/RagClient.js"
import * as Users from "../../src/services/Users.js"

const TestLayer = Layer.provideMerge(Users.layer(), RecordStore.layerMemory)

const service = Effect.map(Users.Users, (users) => decoding(users, Users.Operations))

const freshEmail = () => `user-${randomHex32().slice(0, 10)}@example.com`
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex")
const callerOf = (user: { readonly id: UserId }) => new Caller({ tenantId: user.id as string as TenantId, userId: user.id })

/** The stored record, hashes included. */
const stored = (id: UserId) => Effect.flatMap(RecordStore.RecordStore, (store) => Effect.map(store.users.get(id), Option.getOrThrow))

/** A new user (password `password`), logged in. */
const signedIn = Effect.gen(function* () {
  const users = yield* service
  const email = freshEmail()
  const registered = yield* users.register({ email, nickname: "nick", password: "password" })
  const { user, token } = yield* users.login({ email, password: "password" })
  return { email, registered, user, token, caller: callerOf(user) }
})

const counts = Effect.gen(function* () {
  const store = yield* RecordStore.RecordStore
  return {
    users: yield* store.users.count({}),
    tenants: yield* store.tenants.count({}),
    members: yield* store.members.count({})
  }
})

layer(TestLayer)("Users", (it) => {
  it.effect("register, login and authenticate round trip", () =>
    Effect.gen(function* () {
      const users = yield* service
      const store = yield* RecordStore.RecordStore
      const email = freshEmail()
      const user = yield* users.register({ email: `  ${email.toUpperCase()} `, nickname: " Ada ", password: "correct horse" })
      expect(user.email).toBe(email)
      expect(user.nickname).toBe("Ada")
      expect((yield* stored(user.id)).access_token_hash).toBeNull()

      const tenant = yield* store.tenants.get(user.id)
      expect(Option.getOrThrow(tenant).name).toBe("Ada's Kingdom")
      const owner = yield* store.members.findFirst({ tenant_id: user.id, user_id: user.id })
      expect(Option.getOrThrow(owner).role).toBe("owner")
      expect(Option.getOrThrow(owner).invited_by).toBe(user.id)

      const { token, user: loggedIn } = yield* users.login({ email: email.toUpperCase(), password: "correct horse" })
      expect(loggedIn.id).toBe(user.id)
      expect(loggedIn.last_login_time).not.toBeNull()
      expect(Buffer.from(token, "base64url")).toHaveLength(32)
      // Only the token's SHA-256 is stored.
      const record = yield* stored(user.id)
      expect(record.access_token_hash).toBe(sha256(token))
      expect(JSON.stringify(record)).not.toContain(token)

      const caller = yield* users.authenticate({ token })
      expect(caller.userId).toBe(user.id)
      expect(caller.tenantId).toBe(user.id)
      expect((yield* users.get(caller, {})).email).toBe(email)
    }))

  it.effect("users are returned without the password hash and the session hash", () =>
    Effect.gen(function* () {
      const users = yield* service
      const { registered, user, caller } = yield* signedIn
      const record = yield* stored(user.id)
      for (const shown of [registered, user, yield* users.get(caller, {}), yield* users.update(caller, { nickname: "n" })]) {
        expect(shown.id).toBe(record.id)
        expect(Object.keys(shown)).not.toContain("password_hash")
        expect(Object.keys(shown)).not.toContain("access_token_hash")
        expect(JSON.stringify(shown)).not.toContain(record.password_hash)
        expect(JSON.stringify(shown)).not.toContain(record.access_token_hash!)
      }
    }))

  it.effect("a duplicate e-mail is refused whatever its case, and nothing is written", () =>
    Effect.gen(function* () {
      const users = yield* service
      const email = freshEmail()
      yield* users.register({ email, nickname: "first", password: "password-1" })
      const before = yield* counts
      const error = yield* Effect.flip(users.register({ email: ` ${email.toUpperCase()}`, nickname: "second", password: "password-2" }))
      expect(error._tag).toBe("AlreadyExists")
      if (error._tag === "AlreadyExists") {
        expect(error.entity).toBe("User")
        expect(error.field).toBe("email")
      }
      expect(yield* counts).toEqual(before)
      // The first account is untouched: its password still works.
      yield* users.login({ email, password: "password-1" })
    }))

  it.effect("bad input is refused with the field named, and nothing is written", () =>
    Effect.gen(function* () {
      const users = yield* service
      const before = yield* counts
      const cases: ReadonlyArray<[typeof Users.RegisterRequest.Encoded, string]> = [
        [{ email: freshEmail(), nickname: "", password: "password" }, "nickname"],
        [{ email: freshEmail(), nickname: "   ", password: "password" }, "nickname"],
        [{ email: freshEmail(), nickname: "x".repeat(101), password: "password" }, "nickname"],
        [{ email: "not-an-email", nickname: "nick", password: "password" }, "email"],
        [{ email: "a@b", nickname: "nick", password: "password" }, "email"],
        [{ email: "two words@example.com", nickname: "nick", password: "password" }, "email"],
        [{ email: `${"a".repeat(250)}@example.com`, nickname: "nick", password: "password" }, "email"],
        [{ email: freshEmail(), nickname: "nick", password: "short12" }, "password"],
        [{ email: freshEmail(), nickname: "nick", password: "x".repeat(1025) }, "password"],
        [{ email: freshEmail(), nickname: "nick", password: 12345678 as never }, "password"],
        [{ email: freshEmail(), nickname: "nick" } as never, "password"]
      ]
      for (const [input, field] of cases) {
        const error = yield* Effect.flip(users.register(input))
        expect(error, JSON.stringify(input).slice(0, 80)).toMatchObject({ _tag: "InvalidInput", field })
      }
      const short = yield* Effect.flip(users.register({ email: freshEmail(), nickname: "nick", password: "short12" }))
      expect(short.message).toBe("password must be at least 8 characters")
      expect(yield* counts).toEqual(before)
      // The limits themselves are accepted.
      const ok = yield* users.register({ email: freshEmail(), nickname: "x".repeat(100), password: "12345678" })
      expect(ok.nickname).toHaveLength(100)
      yield* users.register({ email: freshEmail(), nickname: "nick", password: "p".repeat(1024) })
    }))

  it.effect("a wrong password and an unknown e-mail fail alike", () =>
    Effect.gen(function* () {
      const users = yield* service
      const email = freshEmail()
      yield* users.register({ email, nickname: "nick", password: "right password" })
      const wrong = yield* Effect.flip(users.login({ email, password: "wrong password" }))
      const unknown = yield* Effect.flip(users.login({ email: freshEmail(), password: "right password" }))
      expect(wrong._tag).toBe("Unauthenticated")
      expect(unknown._tag).toBe("Unauthenticated")
      expect(wrong.message).toBe("Email and password do not match")
      expect(unknown.message).toBe(wrong.message)
      // Addresses and passwords that can't be right fail the same way, not as bad input.
      for (const attempt of [
        { email: "not an address", password: "right password" },
        { email: "", password: "" },
        { email, password: "x".repeat(1025) }
      ]) {
        const error = yield* Effect.flip(users.login(attempt))
        expect(error).toMatchObject({ _tag: "Unauthenticated", message: "Email and password do not match" })
      }
    }))

  it.effect("logout invalidates the session token", () =>
    Effect.gen(function* () {
      const users = yield* service
      const { user, token, caller } = yield* signedIn
      yield* users.authenticate({ token })
      yield* users.logout(caller, {})
      expect((yield* Effect.flip(users.authenticate({ token })))._tag).toBe("Unauthenticated")
      expect((yield* stored(user.id)).access_token_hash).toBeNull()
    }))

  it.effect("logging in again ends the previous session", () =>
    Effect.gen(function* () {
      const users = yield* service
      const email = freshEmail()
      yield* users.register({ email, nickname: "nick", password: "password" })
      const first = yield* users.login({ email, password: "password" })
      const second = yield* users.login({ email, password: "password" })
      expect(second.token).not.toBe(first.token)
      expect((yield* Effect.flip(users.authenticate({ token: first.token })))._tag).toBe("Unauthenticated")
      expect((yield* users.authenticate({ token: second.token })).userId).toBe(first.user.id)
    }))

  it.effect("junk tokens are refused as unauthenticated, not as bad input", () =>
    Effect.gen(function* () {
      const users = yield* service
      for (const token of ["", "nope", "x".repeat(10_000)]) {
        expect(yield* Effect.flip(users.authenticate({ token }))).toMatchObject({
          _tag: "Unauthenticated",
          message: "Invalid or expired session"
        })
      }
    }))

  it.effect("passwords are stored as salted scrypt hashes", () =>
    Effect.gen(function* () {
      const users = yield* service
      const a = yield* stored((yield* users.register({ email: freshEmail(), nickname: "a", password: "same password" })).id)
      const b = yield* stored((yield* users.register({ email: freshEmail(), nickname: "b", password: "same password" })).id)
      expect(a.password_hash).not.toContain("same password")
      expect(a.password_hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
      expect(a.password_hash).not.toBe(b.password_hash)
    }))

  it.effect("a disabled account can't log in and its session stops working", () =>
    Effect.gen(function* () {
      const users = yield* service
      const store = yield* RecordStore.RecordStore
      const { email, user, token } = yield* signedIn
      yield* store.users.modify(user.id, (u) => Effect.succeed(new User({ ...u, is_active: "0" })))
      expect(yield* Effect.flip(users.login({ email, password: "password" }))).toMatchObject({
        _tag: "Unauthenticated",
        message: "This account has been disabled"
      })
      expect((yield* Effect.flip(users.authenticate({ token })))._tag).toBe("Unauthenticated")
    }))

  it.effect("update changes the profile and the password, checking the current one", () =>
    Effect.gen(function* () {
      const users = yield* service
      const email = freshEmail()
      const user = yield* users.register({ email, nickname: "old", password: "first password" })
      const caller = callerOf(user)

      const updated = yield* users.update(caller, { nickname: "new", color_schema: "Dark", language: "Chinese" })
      expect(updated.nickname).toBe("new")
      expect(updated.color_schema).toBe("Dark")
      expect((yield* users.get(caller, {})).language).toBe("Chinese")

      const refused: ReadonlyArray<[typeof Users.UpdateRequest.Encoded, string]> = [
        [{ color_schema: "Purple" as never }, "color_schema"],
        [{ nickname: "" }, "nickname"],
        [{ avatar: "x".repeat(2_000_001) }, "avatar"],
        [{ language: " " }, "language"],
        [{ timezone: "t".repeat(65) }, "timezone"]
      ]
      for (const [input, field] of refused) {
        expect(yield* Effect.flip(users.update(caller, input))).toMatchObject({ _tag: "InvalidInput", field })
      }
      const unchanged = yield* users.get(caller, {})
      expect([unchanged.nickname, unchanged.color_schema, unchanged.avatar]).toEqual(["new", "Dark", ""])

      const wrong = yield* Effect.flip(users.update(caller, { password: { current: "not it at all", next: "second password" } }))
      expect(wrong).toMatchObject({ _tag: "InvalidInput", field: "password", message: "current password is wrong" })
      const tooLong = yield* Effect.flip(users.update(caller, { password: { current: "x".repeat(1025), next: "second password" } }))
      expect(tooLong).toMatchObject({ _tag: "InvalidInput", field: "password", message: "current password is wrong" })
      const tooShort = yield* Effect.flip(users.update(caller, { password: { current: "first password", next: "short" } }))
      expect(tooShort).toMatchObject({ _tag: "InvalidInput", field: "password.next" })
      yield* users.login({ email, password: "first password" })

      yield* users.update(caller, { password: { current: "first password", next: "second password" } })
      expect((yield* Effect.flip(users.login({ email, password: "first password" })))._tag).toBe("Unauthenticated")
      yield* users.login({ email, password: "second password" })
    }))

  it.effect("unknown users are not found", () =>
    Effect.gen(function* () {
      const users = yield* service
      const id = randomHex32() as UserId
      const ghost = callerOf({ id })
      expect((yield* Effect.flip(users.get(ghost, {})))._tag).toBe("NotFound")
      expect((yield* Effect.flip(users.logout(ghost, {})))._tag).toBe("NotFound")
      expect((yield* Effect.flip(users.update(ghost, { nickname: "x" })))._tag).toBe("NotFound")
    }))
})

describe("publicUser", () => {
  it.effect("leaves out the password hash and the session hash", () =>
    Effect.gen(function* () {
      const { email, user: loggedIn } = yield* signedIn
      const user = yield* stored(loggedIn.id)
      const shown = Users.publicUser(user)
      expect(shown.email).toBe(email)
      expect(shown.id).toBe(user.id)
      expect(JSON.stringify(shown)).not.toContain("password_hash")
      expect(JSON.stringify(shown)).not.toContain(user.access_token_hash!)
      expect(JSON.stringify(shown)).not.toContain(user.password_hash)
    }).pipe(Effect.provide(TestLayer)))
})
