/** The failed-login limits of `Users.login` and closed registration. */
import { expect, it, layer } from "@effect/vitest"
import { Clock, Effect, Exit, Layer, TestClock } from "effect"
import { randomHex32 } from "../../src/domain/Ids.js"
import * as RecordStore from "../../src/ports/RecordStore.js"
import { decoding } from "../../src/RagClient.js"
import * as Users from "../../src/services/Users.js"

const COST = 1024
const limits: Users.LoginLimits = { account: { attempts: 3, window: "1 minute" }, address: { attempts: 5, window: "2 minutes" } }

const TestLayer = Layer.provideMerge(Layer.effect(Users.Users, Users.make({ passwordCost: COST, loginLimits: limits })), RecordStore.layerMemory)

const freshEmail = () => `login-${randomHex32().slice(0, 10)}@example.com`

/** A second process: another `Users` over the same store. */
const otherProcess = Users.make({ passwordCost: COST, loginLimits: limits })

const tagOf = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.exit(effect), (exit) => (Exit.isSuccess(exit) ? "ok" : Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error._tag : "defect"))

const registered = Effect.gen(function* () {
  const users = yield* Users.Users
  const email = freshEmail()
  yield* users.register({ email, nickname: "nick", password: "password" })
  return { users, email }
})

layer(TestLayer)("Users: failed logins", (it) => {
  it.effect("an account is refused after its failures, with a retry time, until the window passes", () =>
    Effect.gen(function* () {
      const { users, email } = yield* registered
      for (let i = 0; i < 3; i++) expect(yield* tagOf(users.login({ email, password: "wrong-one" }))).toBe("Unauthenticated")
      yield* TestClock.adjust("20 seconds")
      // The right password is refused too: it is not even checked.
      const limited = yield* Effect.flip(users.login({ email: ` ${email.toUpperCase()} `, password: "password" }))
      expect(limited).toMatchObject({ _tag: "TooManyAttempts", retryAfterSeconds: 40 })
      expect(limited.message).toMatch(/try again in 40 seconds/)
      // Limited attempts are not counted: the limit lifts when the first failure is a minute old.
      yield* TestClock.adjust("39 seconds")
      expect(yield* tagOf(users.login({ email, password: "password" }))).toBe("TooManyAttempts")
      yield* TestClock.adjust("1 second")
      expect((yield* users.login({ email, password: "password" })).user.email).toBe(email)
    }))

  it.effect("a successful login clears the account's failures", () =>
    Effect.gen(function* () {
      const { users, email } = yield* registered
      for (let i = 0; i < 2; i++) yield* tagOf(users.login({ email, password: "wrong-one" }))
      yield* users.login({ email, password: "password" })
      for (let i = 0; i < 2; i++) yield* tagOf(users.login({ email, password: "wrong-one" }))
      expect(yield* tagOf(users.login({ email, password: "password" }))).toBe("ok")
    }))

  it.effect("an address is refused after its failures over any accounts; other addresses go on", () =>
    Effect.gen(function* () {
      const { users, email } = yield* registered
      const address = `10.0.${Math.floor(Math.random() * 250)}.7`
      // Unknown accounts count as failures too, per address and per (would-be) account.
      for (let i = 0; i < 5; i++) {
        expect(yield* tagOf(users.login({ email: freshEmail(), password: "guess" }, { address }))).toBe("Unauthenticated")
      }
      expect(yield* tagOf(users.login({ email, password: "password" }, { address: ` ${address} ` }))).toBe("TooManyAttempts")
      expect(yield* tagOf(users.login({ email, password: "password" }, { address: "10.9.9.9" }))).toBe("ok")
      // Without an address only the account's limit applies.
      expect(yield* tagOf(users.login({ email, password: "password" }))).toBe("ok")
      yield* TestClock.adjust("2 minutes")
      expect(yield* tagOf(users.login({ email, password: "password" }, { address }))).toBe("ok")
    }))

  it.effect("the limit is shared by every process on the store, which keeps neither e-mail nor address in clear", () =>
    Effect.gen(function* () {
      const { users, email } = yield* registered
      const other = yield* otherProcess
      const store = yield* RecordStore.RecordStore
      const address = "192.0.2.55"
      yield* tagOf(users.login({ email, password: "wrong-one" }, { address }))
      yield* tagOf(other.login({ email, password: "wrong-one" }, { address }))
      yield* tagOf(users.login({ email, password: "wrong-one" }, { address }))
      expect(yield* tagOf(other.login({ email, password: "password" }, { address }))).toBe("TooManyAttempts")
      const rows = JSON.stringify((yield* store.loginFailures.find({})).items)
      expect(rows).not.toContain(email)
      expect(rows).not.toContain(address)
      // Failures past the longest window are removed as new ones come.
      yield* TestClock.adjust("3 minutes")
      yield* tagOf(users.login({ email: freshEmail(), password: "wrong-one" }))
      const now = yield* Clock.currentTimeMillis
      expect((yield* store.loginFailures.find({})).items.every((f) => f.create_time > now - 120_000)).toBe(true)
    }))
})

it.effect("limits can be turned off, and a bad limit fails when the layer is built", () =>
  Effect.gen(function* () {
    const users = yield* Effect.provide(
      Users.make({ passwordCost: COST, loginLimits: { account: false, address: false } }),
      RecordStore.layerMemory
    )
    const email = freshEmail()
    for (let i = 0; i < 12; i++) yield* tagOf(users.login({ email, password: "wrong-one" }, { address: "10.0.0.1" }))
    expect(yield* tagOf(users.login({ email, password: "wrong-one" }, { address: "10.0.0.1" }))).toBe("Unauthenticated")
    const bad = yield* Effect.exit(Effect.provide(Users.make({ loginLimits: { account: { attempts: 0, window: "1 minute" } } }), RecordStore.layerMemory))
    expect(Exit.isFailure(bad) && String(bad.cause)).toMatch(/loginLimits\.account/)
  }))

it.effect("closed registration refuses sign-up with RAGFlow's message; open is the default", () =>
  Effect.gen(function* () {
    const closed = decoding(
      yield* Effect.provide(Users.make({ passwordCost: COST, registration: "closed" }), RecordStore.layerMemory),
      Users.Operations
    )
    const request = { email: freshEmail(), nickname: "nick", password: "password" }
    expect(yield* Effect.flip(closed.register(request))).toMatchObject({ _tag: "Forbidden", message: "User registration is disabled!" })
    // The host's own sign-up (an administrator's command) is still allowed.
    const service = yield* Effect.provide(Users.make({ passwordCost: COST, registration: "closed" }), RecordStore.layerMemory)
    expect((yield* service.register({ ...request, email: freshEmail() }, { byHost: true })).nickname).toBe("nick")
    const open = yield* Effect.provide(Users.make({ passwordCost: COST }), RecordStore.layerMemory)
    expect((yield* open.register(request)).email).toBe(request.email)
  }))
