import { createHash } from "node:crypto"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer, Option, TestClock } from "effect"
import { Caller } from "../../src/domain/Caller.js"
import { randomHex32, type TenantId, type UserId } from "../../src/domain/Ids.js"
import { User } from "../../src/domain/Records.js"
import * as RecordStore from "../../src/ports/RecordStore.js"
import { decoding } from "../../src/RagClient.js"
import * as Users from "../../src/services/Users.js"
import { DEFAULT_PASSWORD_COST, passwords } from "../../src/services/internal/secrets.js"

/** A cheap password hash keeps the many sign-ups fast; "the default password cost" test runs the real one. */
const COST = 1024
const TestLayer = Layer.provideMerge(Users.layer({ passwordCost: COST }), RecordStore.layerMemory)

const service = Effect.map(Users.Users, (users) => decoding(users, Users.Operations))

const freshEmail = () => `user-${randomHex32().slice(0, 10)}@example.com`
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex")
const callerOf = (user: { readonly id: UserId }) => new Caller({ tenantId: user.id as string as TenantId, userId: user.id })

/** The stored record, hashes included. */
const stored = (id: UserId) => Effect.flatMap(RecordStore.RecordStore, (store) => Effect.map(store.users.get(id), Option.getOrThrow))

/** The user's stored sessions. */
const sessionsOf = (id: UserId) =>
  Effect.flatMap(RecordStore.RecordStore, (store) => Effect.map(store.sessions.find({ where: { user_id: id } }), (page) => page.items))

const refused = (users: Effect.Effect.Success<typeof service>, token: string) =>
  Effect.map(Effect.flip(users.authenticate({ token })), (e) => e._tag)

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
      expect(yield* sessionsOf(user.id)).toEqual([])

      const tenant = yield* store.tenants.get(user.id)
      expect(Option.getOrThrow(tenant).name).toBe("Ada's Kingdom")
      const owner = yield* store.members.findFirst({ tenant_id: user.id, user_id: user.id })
      expect(Option.getOrThrow(owner).role).toBe("owner")
      expect(Option.getOrThrow(owner).invited_by).toBe(user.id)

      const { token, user: loggedIn, expire_time } = yield* users.login({ email: email.toUpperCase(), password: "correct horse" })
      expect(loggedIn.id).toBe(user.id)
      expect(loggedIn.last_login_time).not.toBeNull()
      expect(Buffer.from(token, "base64url")).toHaveLength(32)
      // Only the token's SHA-256 is stored, in a session record of its own.
      const [session, ...others] = yield* sessionsOf(user.id)
      expect(others).toEqual([])
      expect(session!.token_hash).toBe(sha256(token))
      expect(session!.expire_time).toBe(expire_time)
      expect(JSON.stringify(session)).not.toContain(token)
      expect(JSON.stringify(yield* stored(user.id))).not.toContain(token)

      const caller = yield* users.authenticate({ token })
      expect(caller.userId).toBe(user.id)
      expect(caller.tenantId).toBe(user.id)
      expect(caller.sessionId).toBe(session!.id)
      expect((yield* users.get(caller, {})).email).toBe(email)
    }))

  it.effect("users are returned without the password hash and the session hash", () =>
    Effect.gen(function* () {
      const users = yield* service
      const { registered, user, caller, token } = yield* signedIn
      const record = yield* stored(user.id)
      const [session] = yield* sessionsOf(user.id)
      for (const shown of [registered, user, yield* users.get(caller, {}), yield* users.update(caller, { nickname: "n" })]) {
        expect(shown.id).toBe(record.id)
        expect(Object.keys(shown)).not.toContain("password_hash")
        expect(JSON.stringify(shown)).not.toContain(record.password_hash)
        expect(JSON.stringify(shown)).not.toContain(session!.token_hash)
        expect(JSON.stringify(shown)).not.toContain(token)
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

  it.effect("a second login does not end the first: each device keeps its session", () =>
    Effect.gen(function* () {
      const users = yield* service
      const email = freshEmail()
      yield* users.register({ email, nickname: "nick", password: "password" })
      const first = yield* users.login({ email, password: "password" })
      const second = yield* users.login({ email, password: "password" })
      expect(second.token).not.toBe(first.token)
      const a = yield* users.authenticate({ token: first.token })
      const b = yield* users.authenticate({ token: second.token })
      expect([a.userId, b.userId]).toEqual([first.user.id, first.user.id])
      expect(a.sessionId).not.toBe(b.sessionId)
    }))

  it.effect("logout ends the caller's session only", () =>
    Effect.gen(function* () {
      const users = yield* service
      const { email, user, token } = yield* signedIn
      const other = yield* users.login({ email, password: "password" })
      const caller = yield* users.authenticate({ token })
      yield* users.logout(caller, {})
      expect(yield* refused(users, token)).toBe("Unauthenticated")
      expect((yield* users.authenticate({ token: other.token })).userId).toBe(user.id)
      expect((yield* sessionsOf(user.id)).map((s) => s.token_hash)).toEqual([sha256(other.token)])
      // Ended once: a second logout of it finds nothing, and a caller without a session has none to end.
      expect(yield* Effect.flip(users.logout(caller, {}))).toMatchObject({ _tag: "NotFound", entity: "Session" })
      expect(yield* Effect.flip(users.logout(callerOf(user), {}))).toMatchObject({ _tag: "NotFound", entity: "Session" })
    }))

  it.effect("a caller can't end another user's session", () =>
    Effect.gen(function* () {
      const users = yield* service
      const a = yield* signedIn
      const b = yield* signedIn
      const bCaller = yield* users.authenticate({ token: b.token })
      const forged = new Caller({ tenantId: a.caller.tenantId, userId: a.caller.userId, sessionId: bCaller.sessionId! })
      expect(yield* Effect.flip(users.logout(forged, {}))).toMatchObject({ _tag: "NotFound", entity: "Session" })
      yield* users.authenticate({ token: b.token })
    }))

  it.effect("a session expires after the deployment's lifetime (7 days by default); an expired one is removed", () =>
    Effect.gen(function* () {
      const users = yield* service
      const { email, user, token } = yield* signedIn
      const { expire_time } = (yield* sessionsOf(user.id))[0]!
      expect(expire_time - (yield* stored(user.id)).last_login_time!).toBe(7 * 24 * 3600_000)
      yield* TestClock.adjust(7 * 24 * 3600_000 - 1)
      yield* users.authenticate({ token })
      yield* TestClock.adjust(1)
      expect(yield* Effect.flip(users.authenticate({ token }))).toMatchObject({ _tag: "Unauthenticated", message: "Invalid or expired session" })
      expect(yield* sessionsOf(user.id)).toEqual([])
      // A login ends the user's other expired sessions too.
      const again = yield* users.login({ email, password: "password" })
      yield* TestClock.adjust("8 days")
      const fresh = yield* users.login({ email, password: "password" })
      expect((yield* sessionsOf(user.id)).map((s) => s.token_hash)).toEqual([sha256(fresh.token)])
      expect(yield* refused(users, again.token)).toBe("Unauthenticated")
    }))

  it.effect("the session lifetime is a deployment option", () =>
    Effect.gen(function* () {
      const users = yield* service
      const { token } = yield* signedIn
      yield* TestClock.adjust("59 minutes")
      yield* users.authenticate({ token })
      yield* TestClock.adjust("1 minute")
      expect(yield* refused(users, token)).toBe("Unauthenticated")
    }).pipe(Effect.provide(Layer.provideMerge(Users.layer({ passwordCost: COST, sessionLifetime: "1 hour" }), RecordStore.layerMemory))))

  it.effect("a session's last use is recorded, at most once a minute", () =>
    Effect.gen(function* () {
      const users = yield* service
      const { user, token } = yield* signedIn
      const lastUsed = Effect.map(sessionsOf(user.id), ([s]) => s!.last_used_time)
      expect(yield* lastUsed).toBeNull()
      yield* TestClock.adjust("5 seconds")
      yield* users.authenticate({ token })
      const first = yield* lastUsed
      expect(first).not.toBeNull()
      yield* TestClock.adjust("30 seconds")
      yield* users.authenticate({ token })
      expect(yield* lastUsed).toBe(first)
      yield* TestClock.adjust("30 seconds")
      yield* users.authenticate({ token })
      expect(yield* lastUsed).toBe(first! + 60_000)
    }))

  it.effect(`a user holds at most ${Users.MAX_SESSIONS} sessions: a login beyond ends the oldest`, () =>
    Effect.gen(function* () {
      const users = yield* service
      const { email, user, token: oldest } = yield* signedIn
      const tokens: Array<string> = []
      for (let i = 0; i < Users.MAX_SESSIONS; i++) {
        yield* TestClock.adjust(1)
        tokens.push((yield* users.login({ email, password: "password" })).token)
      }
      expect((yield* sessionsOf(user.id)).length).toBe(Users.MAX_SESSIONS)
      expect(yield* refused(users, oldest)).toBe("Unauthenticated")
      yield* users.authenticate({ token: tokens[0]! })
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

  it.effect("passwords are stored as salted scrypt hashes at the deployment's cost", () =>
    Effect.gen(function* () {
      const users = yield* service
      const a = yield* stored((yield* users.register({ email: freshEmail(), nickname: "a", password: "same password" })).id)
      const b = yield* stored((yield* users.register({ email: freshEmail(), nickname: "b", password: "same password" })).id)
      expect(a.password_hash).not.toContain("same password")
      expect(a.password_hash).toMatch(new RegExp(`^scrypt\\$${COST}\\$8\\$1\\$[A-Za-z0-9+/=]+\\$[A-Za-z0-9+/=]+$`))
      expect(a.password_hash).not.toBe(b.password_hash)
      // The decoy an unknown e-mail is checked against costs as much as a real hash.
      expect(passwords(COST).decoy).toMatch(new RegExp(`^scrypt\\$${COST}\\$8\\$1\\$`))
    }))

  it.effect("a hash made at a smaller cost is replaced at the next successful login, not at a failed one", () =>
    Effect.gen(function* () {
      const users = yield* service
      const store = yield* RecordStore.RecordStore
      const { email, user } = yield* signedIn
      const cheap = yield* passwords(COST / 2).hash("password")
      yield* store.users.modify(user.id, (u) => Effect.succeed(new User({ ...u, password_hash: cheap })))
      yield* Effect.flip(users.login({ email, password: "not the password" }))
      expect((yield* stored(user.id)).password_hash).toBe(cheap)
      yield* users.login({ email, password: "password" })
      const upgraded = (yield* stored(user.id)).password_hash
      expect(upgraded).toMatch(new RegExp(`^scrypt\\$${COST}\\$8\\$1\\$`))
      yield* users.login({ email, password: "password" })
      expect((yield* stored(user.id)).password_hash).toBe(upgraded)
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

  it.effect("a new password ends every session of the user, the one making the change included", () =>
    Effect.gen(function* () {
      const users = yield* service
      const { email, user, token } = yield* signedIn
      const phone = yield* users.login({ email, password: "password" })
      const bystander = yield* signedIn
      const caller = yield* users.authenticate({ token })
      // A profile change ends nothing.
      yield* users.update(caller, { nickname: "still here" })
      yield* users.authenticate({ token: phone.token })
      yield* users.update(caller, { password: { current: "password", next: "new password" } })
      expect(yield* refused(users, token)).toBe("Unauthenticated")
      expect(yield* refused(users, phone.token)).toBe("Unauthenticated")
      expect(yield* sessionsOf(user.id)).toEqual([])
      yield* users.authenticate({ token: bystander.token })
      const again = yield* users.login({ email, password: "new password" })
      yield* users.authenticate({ token: again.token })
    }))

  it.effect("unknown users are not found", () =>
    Effect.gen(function* () {
      const users = yield* service
      const id = randomHex32() as UserId
      const ghost = callerOf({ id })
      expect((yield* Effect.flip(users.get(ghost, {})))._tag).toBe("NotFound")
      expect((yield* Effect.flip(users.logout(ghost, {})))._tag).toBe("NotFound")
      const ghostSession = new Caller({ tenantId: ghost.tenantId, userId: ghost.userId, sessionId: randomHex32() as never })
      expect((yield* Effect.flip(users.logout(ghostSession, {})))._tag).toBe("NotFound")
      expect((yield* Effect.flip(users.update(ghost, { nickname: "x" })))._tag).toBe("NotFound")
    }))
})

describe("publicUser", () => {
  it.effect("leaves out the password hash", () =>
    Effect.gen(function* () {
      const { email, user: loggedIn } = yield* signedIn
      const user = yield* stored(loggedIn.id)
      const shown = Users.publicUser(user)
      expect(shown.email).toBe(email)
      expect(shown.id).toBe(user.id)
      expect(JSON.stringify(shown)).not.toContain("password_hash")
      expect(JSON.stringify(shown)).not.toContain(user.password_hash)
    }).pipe(Effect.provide(TestLayer)))
})

describe("the default password cost", () => {
  it.live("is scrypt N = 2^17 (OWASP), for new hashes, upgrades and the decoy", () =>
    Effect.gen(function* () {
      expect(DEFAULT_PASSWORD_COST).toBe(2 ** 17)
      const users = yield* service
      const email = freshEmail()
      const user = yield* users.register({ email, nickname: "nick", password: "password" })
      expect((yield* stored(user.id)).password_hash).toMatch(/^scrypt\$131072\$8\$1\$/)
      yield* users.login({ email, password: "password" })
      expect(passwords().decoy).toMatch(/^scrypt\$131072\$8\$1\$/)
    }).pipe(Effect.provide(Layer.provideMerge(Users.layer(), RecordStore.layerMemory))), 30_000)
})
