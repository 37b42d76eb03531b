import { createHash } from "node:crypto"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Caller } from "../../src/domain/Caller.js"
import { randomHex32, type TenantId, type UserId } from "../../src/domain/Ids.js"
import { User } from "../../src/domain/Records.js"
import * as RecordStore from "../../src/ports/RecordStore.js"
import * as Users from "../../src/services/Users.js"

const TestLayer = Layer.provideMerge(Users.layer(), RecordStore.layerMemory)

const freshEmail = () => `user-${randomHex32().slice(0, 10)}@example.com`
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex")

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
      const users = yield* Users.Users
      const store = yield* RecordStore.RecordStore
      const email = freshEmail()
      const user = yield* users.register({ email: `  ${email.toUpperCase()} `, nickname: " Ada ", password: "correct horse" })
      expect(user.email).toBe(email)
      expect(user.nickname).toBe("Ada")
      expect(user.access_token_hash).toBeNull()

      const tenant = yield* store.tenants.get(user.id)
      expect(Option.getOrThrow(tenant).name).toBe("Ada's Kingdom")
      const owner = yield* store.members.findFirst({ tenant_id: user.id, user_id: user.id })
      expect(Option.getOrThrow(owner).role).toBe("owner")
      expect(Option.getOrThrow(owner).invited_by).toBe(user.id)

      const { token, user: loggedIn } = yield* users.login(email.toUpperCase(), "correct horse")
      expect(loggedIn.id).toBe(user.id)
      expect(loggedIn.last_login_time).not.toBeNull()
      expect(Buffer.from(token, "base64url")).toHaveLength(32)
      // Only the token's SHA-256 is stored.
      const stored = Option.getOrThrow(yield* store.users.get(user.id))
      expect(stored.access_token_hash).toBe(sha256(token))
      expect(JSON.stringify(stored)).not.toContain(token)

      const caller = yield* users.authenticate(token)
      expect(caller.userId).toBe(user.id)
      expect(caller.tenantId).toBe(user.id)
      expect((yield* users.get(user.id)).email).toBe(email)
    }))

  it.effect("a duplicate e-mail is refused whatever its case, and nothing is written", () =>
    Effect.gen(function* () {
      const users = yield* Users.Users
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
      yield* users.login(email, "password-1")
    }))

  it.effect("bad input is refused with the field named, and nothing is written", () =>
    Effect.gen(function* () {
      const users = yield* Users.Users
      const before = yield* counts
      const cases: ReadonlyArray<[Users.RegisterInput, string]> = [
        [{ email: freshEmail(), nickname: "", password: "password" }, "nickname"],
        [{ email: freshEmail(), nickname: "   ", password: "password" }, "nickname"],
        [{ email: freshEmail(), nickname: "x".repeat(101), password: "password" }, "nickname"],
        [{ email: "not-an-email", nickname: "nick", password: "password" }, "email"],
        [{ email: "a@b", nickname: "nick", password: "password" }, "email"],
        [{ email: "two words@example.com", nickname: "nick", password: "password" }, "email"],
        [{ email: `${"a".repeat(250)}@example.com`, nickname: "nick", password: "password" }, "email"],
        [{ email: freshEmail(), nickname: "nick", password: "short12" }, "password"],
        [{ email: freshEmail(), nickname: "nick", password: "x".repeat(1025) }, "password"]
      ]
      for (const [input, field] of cases) {
        const error = yield* Effect.flip(users.register(input))
        expect(error._tag, JSON.stringify(input).slice(0, 80)).toBe("InvalidInput")
        if (error._tag === "InvalidInput") expect(error.field).toBe(field)
      }
      expect(yield* counts).toEqual(before)
      // The limits themselves are accepted.
      const ok = yield* users.register({ email: freshEmail(), nickname: "x".repeat(100), password: "12345678" })
      expect(ok.nickname).toHaveLength(100)
    }))

  it.effect("a wrong password and an unknown e-mail fail alike", () =>
    Effect.gen(function* () {
      const users = yield* Users.Users
      const email = freshEmail()
      yield* users.register({ email, nickname: "nick", password: "right password" })
      const wrong = yield* Effect.flip(users.login(email, "wrong password"))
      const unknown = yield* Effect.flip(users.login(freshEmail(), "right password"))
      expect(wrong._tag).toBe("Unauthenticated")
      expect(unknown._tag).toBe("Unauthenticated")
      expect(wrong.message).toBe("Email and password do not match")
      expect(unknown.message).toBe(wrong.message)
    }))

  it.effect("logout invalidates the session token", () =>
    Effect.gen(function* () {
      const users = yield* Users.Users
      const email = freshEmail()
      const user = yield* users.register({ email, nickname: "nick", password: "password" })
      const { token } = yield* users.login(email, "password")
      yield* users.authenticate(token)
      yield* users.logout(user.id)
      expect((yield* Effect.flip(users.authenticate(token)))._tag).toBe("Unauthenticated")
      expect((yield* users.get(user.id)).access_token_hash).toBeNull()
    }))

  it.effect("logging in again ends the previous session", () =>
    Effect.gen(function* () {
      const users = yield* Users.Users
      const email = freshEmail()
      yield* users.register({ email, nickname: "nick", password: "password" })
      const first = yield* users.login(email, "password")
      const second = yield* users.login(email, "password")
      expect(second.token).not.toBe(first.token)
      expect((yield* Effect.flip(users.authenticate(first.token)))._tag).toBe("Unauthenticated")
      expect((yield* users.authenticate(second.token)).userId).toBe(first.user.id)
    }))

  it.effect("junk tokens are refused", () =>
    Effect.gen(function* () {
      const users = yield* Users.Users
      for (const token of ["", "nope", "x".repeat(10_000)]) {
        expect((yield* Effect.flip(users.authenticate(token)))._tag).toBe("Unauthenticated")
      }
    }))

  it.effect("passwords are stored as salted scrypt hashes", () =>
    Effect.gen(function* () {
      const users = yield* Users.Users
      const a = yield* users.register({ email: freshEmail(), nickname: "a", password: "same password" })
      const b = yield* users.register({ email: freshEmail(), nickname: "b", password: "same password" })
      expect(a.password_hash).not.toContain("same password")
      expect(a.password_hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
      expect(a.password_hash).not.toBe(b.password_hash)
    }))

  it.effect("a disabled account can't log in and its session stops working", () =>
    Effect.gen(function* () {
      const users = yield* Users.Users
      const store = yield* RecordStore.RecordStore
      const email = freshEmail()
      const user = yield* users.register({ email, nickname: "nick", password: "password" })
      const { token } = yield* users.login(email, "password")
      yield* store.users.modify(user.id, (u) => Effect.succeed(new User({ ...u, is_active: "0" })))
      expect((yield* Effect.flip(users.login(email, "password")))._tag).toBe("Unauthenticated")
      expect((yield* Effect.flip(users.authenticate(token)))._tag).toBe("Unauthenticated")
    }))

  it.effect("update changes the profile and the password, checking the current one", () =>
    Effect.gen(function* () {
      const users = yield* Users.Users
      const email = freshEmail()
      const user = yield* users.register({ email, nickname: "old", password: "first password" })
      const caller = new Caller({ tenantId: user.id as string as TenantId, userId: user.id })

      const updated = yield* users.update(caller, { nickname: "new", color_schema: "Dark", language: "Chinese" })
      expect(updated.nickname).toBe("new")
      expect(updated.color_schema).toBe("Dark")
      expect((yield* users.get(user.id)).language).toBe("Chinese")

      const badSchema = yield* Effect.flip(users.update(caller, { color_schema: "Purple" }))
      expect(badSchema._tag).toBe("InvalidInput")
      const emptyName = yield* Effect.flip(users.update(caller, { nickname: "" }))
      expect(emptyName._tag).toBe("InvalidInput")
      expect((yield* users.get(user.id)).nickname).toBe("new")

      const wrong = yield* Effect.flip(users.update(caller, { password: { current: "not it at all", next: "second password" } }))
      expect(wrong._tag).toBe("InvalidInput")
      if (wrong._tag === "InvalidInput") {
        expect(wrong.field).toBe("password")
        expect(wrong.message).toBe("current password is wrong")
      }
      const tooShort = yield* Effect.flip(users.update(caller, { password: { current: "first password", next: "short" } }))
      expect(tooShort._tag).toBe("InvalidInput")
      yield* users.login(email, "first password")

      yield* users.update(caller, { password: { current: "first password", next: "second password" } })
      expect((yield* Effect.flip(users.login(email, "first password")))._tag).toBe("Unauthenticated")
      yield* users.login(email, "second password")
    }))

  it.effect("unknown users are not found", () =>
    Effect.gen(function* () {
      const users = yield* Users.Users
      const id = randomHex32() as UserId
      expect((yield* Effect.flip(users.get(id)))._tag).toBe("NotFound")
      expect((yield* Effect.flip(users.get("junk" as UserId)))._tag).toBe("NotFound")
      expect((yield* Effect.flip(users.logout(id)))._tag).toBe("NotFound")
      const ghost = new Caller({ tenantId: id as string as TenantId, userId: id })
      expect((yield* Effect.flip(users.update(ghost, { nickname: "x" })))._tag).toBe("NotFound")
    }))
})

describe("publicUser", () => {
  it.effect("leaves out the password hash and the session hash", () =>
    Effect.gen(function* () {
      const users = yield* Users.Users
      const email = freshEmail()
      yield* users.register({ email, nickname: "nick", password: "password" })
      const { user } = yield* users.login(email, "password")
      const shown = Users.publicUser(user)
      expect(shown.email).toBe(email)
      expect(shown.id).toBe(user.id)
      expect(JSON.stringify(shown)).not.toContain("password_hash")
      expect(JSON.stringify(shown)).not.toContain(user.access_token_hash!)
      expect(JSON.stringify(shown)).not.toContain(user.password_hash)
    }).pipe(Effect.provide(TestLayer)))
})
