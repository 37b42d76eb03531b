import { createHash } from "node:crypto"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Option, TestClock } from "effect"
import { Caller } from "../../src/domain/Caller.js"
import { randomHex32, type TenantId, type UserId } from "../../src/domain/Ids.js"
import * as RecordStore from "../../src/ports/RecordStore.js"
import { decoding } from "../../src/RagClient.js"
import * as ApiTokens from "../../src/services/ApiTokens.js"
import { aDialog } from "../../src/testing/Records.js"

const TestLayer = Layer.provideMerge(ApiTokens.layer, RecordStore.layerMemory)

const service = Effect.map(ApiTokens.ApiTokens, (tokens) => decoding(tokens, ApiTokens.Operations))

const aCaller = () => new Caller({ tenantId: randomHex32() as TenantId, userId: randomHex32() as UserId })
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex")

layer(TestLayer)("ApiTokens", (it) => {
  it.effect("a new key authenticates as its tenant and creator", () =>
    Effect.gen(function* () {
      const tokens = yield* service
      const caller = aCaller()
      const { token, secret } = yield* tokens.create(caller, { source: "dialog" })
      expect(secret).toMatch(/^ragkit-[A-Za-z0-9_-]{43}$/)
      expect(token.tenant_id).toBe(caller.tenantId)
      expect(token.created_by).toBe(caller.userId)
      expect(token.source).toBe("dialog")
      expect(token.token_prefix).toBe(`${secret.slice(0, 12)}…`)

      const auth = yield* tokens.authenticate({ secret })
      expect(auth.caller.tenantId).toBe(caller.tenantId)
      expect(auth.caller.userId).toBe(caller.userId)
      expect(auth.token.id).toBe(token.id)
    }))

  it.effect("the key is not stored in clear", () =>
    Effect.gen(function* () {
      const tokens = yield* service
      const store = yield* RecordStore.RecordStore
      const { token, secret } = yield* tokens.create(aCaller(), {})
      const stored = Option.getOrThrow(yield* store.apiTokens.get(token.id))
      const json = JSON.stringify(stored)
      expect(json).not.toContain(secret)
      expect(json).not.toContain(secret.slice("ragkit-".length))
      expect(stored.token_hash).toBe(sha256(secret))
      // Every key is different.
      const other = yield* tokens.create(aCaller(), {})
      expect(other.secret).not.toBe(secret)
    }))

  it.effect("removing a key by its secret or its id revokes it", () =>
    Effect.gen(function* () {
      const tokens = yield* service
      const caller = aCaller()
      const bySecret = yield* tokens.create(caller, {})
      const byId = yield* tokens.create(caller, {})

      yield* tokens.remove(caller, { token: bySecret.secret })
      expect((yield* Effect.flip(tokens.authenticate({ secret: bySecret.secret })))._tag).toBe("Unauthenticated")
      yield* tokens.authenticate({ secret: byId.secret })

      yield* tokens.remove(caller, { token: byId.token.id })
      expect((yield* Effect.flip(tokens.authenticate({ secret: byId.secret })))._tag).toBe("Unauthenticated")
      expect(yield* tokens.list(caller, {})).toEqual([])

      const again = yield* Effect.flip(tokens.remove(caller, { token: bySecret.secret }))
      expect(again._tag).toBe("NotFound")
      // The error never repeats the key.
      expect(JSON.stringify(again)).not.toContain(bySecret.secret)
      expect((yield* Effect.flip(tokens.remove(caller, { token: byId.token.id })))._tag).toBe("NotFound")
    }))

  it.effect("one tenant's keys are invisible to another", () =>
    Effect.gen(function* () {
      const tokens = yield* service
      const a = aCaller()
      const b = aCaller()
      const key = yield* tokens.create(a, {})
      expect(yield* tokens.list(b, {})).toEqual([])
      expect((yield* Effect.flip(tokens.remove(b, { token: key.token.id })))._tag).toBe("NotFound")
      expect((yield* Effect.flip(tokens.remove(b, { token: key.secret })))._tag).toBe("NotFound")
      // Still A's and still working.
      expect((yield* tokens.list(a, {})).map((t) => t.id)).toEqual([key.token.id])
      expect((yield* tokens.authenticate({ secret: key.secret })).caller.tenantId).toBe(a.tenantId)
    }))

  it.effect("the list is newest first and never shows the secret", () =>
    Effect.gen(function* () {
      const tokens = yield* service
      const caller = aCaller()
      const first = yield* tokens.create(caller, {})
      yield* TestClock.adjust("1 second")
      const second = yield* tokens.create(caller, {})
      yield* TestClock.adjust("1 second")
      const third = yield* tokens.create(caller, {})
      const list = yield* tokens.list(caller, {})
      expect(list.map((t) => t.id)).toEqual([third.token.id, second.token.id, first.token.id])
      const json = JSON.stringify(list)
      for (const { secret } of [first, second, third]) expect(json).not.toContain(secret)
    }))

  it.effect("last_used_time is written at most once a minute", () =>
    Effect.gen(function* () {
      const tokens = yield* service
      const store = yield* RecordStore.RecordStore
      const { token, secret } = yield* tokens.create(aCaller(), {})
      expect(token.last_used_time).toBeNull()
      const lastUsed = Effect.map(store.apiTokens.get(token.id), (t) => Option.getOrThrow(t).last_used_time)

      yield* TestClock.adjust("10 minutes")
      yield* tokens.authenticate({ secret })
      const firstUse = yield* lastUsed
      expect(firstUse).not.toBeNull()

      yield* TestClock.adjust("30 seconds")
      yield* tokens.authenticate({ secret })
      expect(yield* lastUsed).toBe(firstUse)

      yield* TestClock.adjust("31 seconds")
      const auth = yield* tokens.authenticate({ secret })
      expect(yield* lastUsed).toBe(firstUse! + 61_000)
      expect(auth.token.last_used_time).toBe(firstUse! + 61_000)
    }))

  it.effect("a key can be scoped to one of the tenant's dialogs", () =>
    Effect.gen(function* () {
      const tokens = yield* service
      const store = yield* RecordStore.RecordStore
      const caller = aCaller()
      const mine = yield* store.dialogs.insert(aDialog({ tenant_id: caller.tenantId }))
      const theirs = yield* store.dialogs.insert(aDialog())

      const scoped = yield* tokens.create(caller, { dialog_id: mine.id })
      expect((yield* tokens.create(caller, { dialog_id: null })).token.dialog_id).toBeNull()
      expect(scoped.token.dialog_id).toBe(mine.id)
      expect((yield* Effect.flip(tokens.create(caller, { dialog_id: theirs.id })))._tag).toBe("NotFound")
      expect(yield* Effect.flip(tokens.create(caller, { dialog_id: "junk" }))).toMatchObject({ _tag: "InvalidInput", field: "dialog_id" })
      expect((yield* tokens.list(caller, {})).length).toBe(2)
    }))

  it.effect("bad input is refused with the field named, never repeating a key", () =>
    Effect.gen(function* () {
      const tokens = yield* service
      const caller = aCaller()
      for (const source of ["s".repeat(65), "   "]) {
        expect(yield* Effect.flip(tokens.create(caller, { source }))).toMatchObject({ _tag: "InvalidInput", field: "source" })
      }
      const long = `ragkit-${"k".repeat(600)}`
      const error = yield* Effect.flip(tokens.remove(caller, { token: long }))
      expect(error).toMatchObject({ _tag: "InvalidInput", field: "token" })
      expect(JSON.stringify(error)).not.toContain("k".repeat(20))
      expect(yield* tokens.list(caller, {})).toEqual([])
    }))

  it.effect("unknown and malformed keys are refused", () =>
    Effect.gen(function* () {
      const tokens = yield* service
      for (const secret of ["", "ragkit-", `ragkit-${"A".repeat(43)}`, "x".repeat(10_000)]) {
        expect(yield* Effect.flip(tokens.authenticate({ secret }))).toMatchObject({ _tag: "Unauthenticated", message: "Invalid API key" })
      }
    }))
})
