import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Option, TestClock } from "effect"
import { Caller } from "../../src/domain/Caller.js"
import { randomHex32, type TenantId } from "../../src/domain/Ids.js"
import * as RecordStore from "../../src/ports/RecordStore.js"
import { decoding } from "../../src/RagClient.js"
import * as Tenants from "../../src/services/Tenants.js"
import * as Users from "../../src/services/Users.js"

const TestLayer = Layer.provideMerge(
  // A cheap password hash: these tests sign up many users (Users.test checks the default cost).
  Layer.mergeAll(Users.layer({ passwordCost: 1024 }), Tenants.layer),
  RecordStore.layerMemory
)

const service = Effect.map(Tenants.Tenants, (tenants) => decoding(tenants, Tenants.Operations))

const freshEmail = () => `user-${randomHex32().slice(0, 10)}@example.com`

/** Registers a user and returns the caller acting in their own tenant. */
const signUp = (nickname: string) =>
  Effect.gen(function* () {
    const users = decoding(yield* Users.Users, Users.Operations)
    const email = freshEmail()
    const user = yield* users.register({ email, nickname, password: "password" })
    const caller = new Caller({ tenantId: user.id as string as TenantId, userId: user.id })
    return { user, email, caller, tenantId: caller.tenantId }
  })

layer(TestLayer)("Tenants", (it) => {
  it.effect("a new user belongs to their own tenant as owner", () =>
    Effect.gen(function* () {
      const tenants = yield* service
      const a = yield* signUp("Ann")
      const list = yield* tenants.listForUser(a.caller, {})
      expect(list.map((m) => [m.tenant.id, m.role])).toEqual([[a.tenantId, "owner"]])
      expect(list[0]!.tenant.name).toBe("Ann's Kingdom")
      expect((yield* tenants.get(a.caller, { tenant_id: a.tenantId })).id).toBe(a.tenantId)
      const members = yield* tenants.members(a.caller, { tenant_id: a.tenantId })
      expect(members.map((m) => [m.user.id, m.role])).toEqual([[a.user.id, "owner"]])
      expect(Object.keys(members[0]!.user)).not.toContain("password_hash")
    }))

  it.effect("invite, accept, and remove a member", () =>
    Effect.gen(function* () {
      const tenants = yield* service
      const owner = yield* signUp("Owner")
      const bob = yield* signUp("Bob")

      const invited = yield* tenants.invite(owner.caller, { tenant_id: owner.tenantId, email: ` ${bob.email.toUpperCase()} ` })
      expect(invited.id).toBe(bob.user.id)
      const bobRecord = Option.getOrThrow(yield* (yield* RecordStore.RecordStore).users.get(bob.user.id))
      expect(JSON.stringify(invited)).not.toContain(bobRecord.password_hash)
      expect(Object.keys(invited)).not.toContain("password_hash")

      // Invited, not yet in: Bob sees the invitation but not the team.
      const pending = yield* tenants.listForUser(bob.caller, {})
      expect(pending.find((m) => m.tenant.id === owner.tenantId)?.role).toBe("invite")
      expect(pending.find((m) => m.tenant.id === owner.tenantId)?.member.invited_by).toBe(owner.user.id)
      expect((yield* Effect.flip(tenants.members(bob.caller, { tenant_id: owner.tenantId })))._tag).toBe("NotFound")
      expect((yield* Effect.flip(tenants.get(bob.caller, { tenant_id: owner.tenantId })))._tag).toBe("NotFound")

      const again = yield* Effect.flip(tenants.invite(owner.caller, { tenant_id: owner.tenantId, email: bob.email }))
      expect(again._tag).toBe("AlreadyExists")

      const accepted = yield* tenants.acceptInvite(bob.caller, { tenant_id: owner.tenantId })
      expect(accepted.role).toBe("normal")
      const joined = yield* tenants.listForUser(bob.caller, {})
      expect(joined.find((m) => m.tenant.id === owner.tenantId)?.role).toBe("normal")
      expect((yield* tenants.get(bob.caller, { tenant_id: owner.tenantId })).name).toBe("Owner's Kingdom")
      const roster = yield* tenants.members(bob.caller, { tenant_id: owner.tenantId })
      expect(roster.map((m) => [m.user.id, m.role]).sort()).toEqual(
        [[owner.user.id, "owner"], [bob.user.id, "normal"]].sort()
      )
      // Accepting twice: there is no invitation any more.
      expect((yield* Effect.flip(tenants.acceptInvite(bob.caller, { tenant_id: owner.tenantId })))._tag).toBe("NotFound")
      // A member already in the team can't be invited again.
      expect((yield* Effect.flip(tenants.invite(owner.caller, { tenant_id: owner.tenantId, email: bob.email })))._tag).toBe("AlreadyExists")

      expect(yield* tenants.removeMember(owner.caller, { tenant_id: owner.tenantId, user_id: bob.user.id })).toBe(true)
      expect((yield* tenants.listForUser(bob.caller, {})).map((m) => m.tenant.id)).toEqual([bob.tenantId])
      expect((yield* Effect.flip(tenants.members(bob.caller, { tenant_id: owner.tenantId })))._tag).toBe("NotFound")
      expect((yield* Effect.flip(tenants.get(bob.caller, { tenant_id: owner.tenantId })))._tag).toBe("NotFound")
      expect((yield* Effect.flip(tenants.removeMember(owner.caller, { tenant_id: owner.tenantId, user_id: bob.user.id })))._tag).toBe("NotFound")
      expect((yield* tenants.members(owner.caller, { tenant_id: owner.tenantId })).map((m) => m.user.id)).toEqual([owner.user.id])
    }))

  it.effect("only the owner invites and removes; the owner can't be removed", () =>
    Effect.gen(function* () {
      const tenants = yield* service
      const owner = yield* signUp("Owner")
      const bob = yield* signUp("Bob")
      const carol = yield* signUp("Carol")
      yield* tenants.invite(owner.caller, { tenant_id: owner.tenantId, email: bob.email })
      yield* tenants.acceptInvite(bob.caller, { tenant_id: owner.tenantId })
      yield* tenants.invite(owner.caller, { tenant_id: owner.tenantId, email: carol.email })
      yield* tenants.acceptInvite(carol.caller, { tenant_id: owner.tenantId })

      const inviteByMember = yield* Effect.flip(tenants.invite(bob.caller, { tenant_id: owner.tenantId, email: freshEmail() }))
      expect(inviteByMember._tag).toBe("Forbidden")
      const removeByMember = yield* Effect.flip(tenants.removeMember(bob.caller, { tenant_id: owner.tenantId, user_id: carol.user.id }))
      expect(removeByMember._tag).toBe("Forbidden")
      const removeOwner = yield* Effect.flip(tenants.removeMember(bob.caller, { tenant_id: owner.tenantId, user_id: owner.user.id }))
      expect(removeOwner._tag).toBe("Forbidden")
      const ownerLeaves = yield* Effect.flip(tenants.removeMember(owner.caller, { tenant_id: owner.tenantId, user_id: owner.user.id }))
      expect(ownerLeaves._tag).toBe("Forbidden")
      expect((yield* tenants.members(owner.caller, { tenant_id: owner.tenantId })).length).toBe(3)

      // A member may leave on their own.
      expect(yield* tenants.removeMember(carol.caller, { tenant_id: owner.tenantId, user_id: carol.user.id })).toBe(true)
      expect((yield* tenants.members(owner.caller, { tenant_id: owner.tenantId })).map((m) => m.user.id).sort()).toEqual(
        [owner.user.id, bob.user.id].sort()
      )
    }))

  it.effect("an invitation can be declined", () =>
    Effect.gen(function* () {
      const tenants = yield* service
      const owner = yield* signUp("Owner")
      const bob = yield* signUp("Bob")
      yield* tenants.invite(owner.caller, { tenant_id: owner.tenantId, email: bob.email })
      expect(yield* tenants.removeMember(bob.caller, { tenant_id: owner.tenantId, user_id: bob.user.id })).toBe(true)
      expect((yield* Effect.flip(tenants.acceptInvite(bob.caller, { tenant_id: owner.tenantId })))._tag).toBe("NotFound")
    }))

  it.effect("inviting an unknown or malformed address fails", () =>
    Effect.gen(function* () {
      const tenants = yield* service
      const owner = yield* signUp("Owner")
      const unknown = yield* Effect.flip(tenants.invite(owner.caller, { tenant_id: owner.tenantId, email: "nobody-here@example.com" }))
      expect(unknown._tag).toBe("NotFound")
      if (unknown._tag === "NotFound") {
        expect(unknown.entity).toBe("User")
        expect(unknown.id).toBe("nobody-here@example.com")
      }
      const malformed = yield* Effect.flip(tenants.invite(owner.caller, { tenant_id: owner.tenantId, email: "not an email" }))
      expect(malformed).toMatchObject({ _tag: "InvalidInput", field: "email" })
    }))

  it.effect("another tenant's ids are not found", () =>
    Effect.gen(function* () {
      const tenants = yield* service
      const owner = yield* signUp("Owner")
      const bob = yield* signUp("Bob")
      const stranger = yield* signUp("Stranger")
      yield* tenants.invite(owner.caller, { tenant_id: owner.tenantId, email: bob.email })
      yield* tenants.acceptInvite(bob.caller, { tenant_id: owner.tenantId })

      expect((yield* Effect.flip(tenants.members(stranger.caller, { tenant_id: owner.tenantId })))._tag).toBe("NotFound")
      expect((yield* Effect.flip(tenants.get(stranger.caller, { tenant_id: owner.tenantId })))._tag).toBe("NotFound")
      expect((yield* Effect.flip(tenants.invite(stranger.caller, { tenant_id: owner.tenantId, email: bob.email })))._tag).toBe("NotFound")
      expect((yield* Effect.flip(tenants.removeMember(stranger.caller, { tenant_id: owner.tenantId, user_id: bob.user.id })))._tag).toBe("NotFound")
      expect((yield* Effect.flip(tenants.acceptInvite(stranger.caller, { tenant_id: owner.tenantId })))._tag).toBe("NotFound")
      expect((yield* Effect.flip(tenants.removeMember(stranger.caller, { tenant_id: owner.tenantId, user_id: stranger.user.id })))._tag).toBe("NotFound")
      // Nothing changed for the team.
      expect((yield* tenants.members(owner.caller, { tenant_id: owner.tenantId })).length).toBe(2)

      const nowhere = randomHex32() as TenantId
      expect((yield* Effect.flip(tenants.get(owner.caller, { tenant_id: nowhere })))._tag).toBe("NotFound")
      expect((yield* Effect.flip(tenants.members(owner.caller, { tenant_id: nowhere })))._tag).toBe("NotFound")
      const junk = yield* Effect.flip(tenants.members(owner.caller, { tenant_id: "junk" }))
      expect(junk).toMatchObject({ _tag: "InvalidInput", field: "tenant_id", message: "tenant_id is not a valid id" })
      expect(
        (yield* Effect.flip(tenants.removeMember(owner.caller, { tenant_id: owner.tenantId, user_id: randomHex32() })))._tag
      ).toBe("NotFound")
    }))

  it.effect("member lists carry delta_seconds: whole seconds since each member's user record changed", () =>
    Effect.gen(function* () {
      const tenants = yield* service
      const users = decoding(yield* Users.Users, Users.Operations)
      const owner = yield* signUp("Owner")
      yield* TestClock.adjust("90 seconds")
      const bob = yield* signUp("Bob")
      yield* tenants.invite(owner.caller, { tenant_id: owner.tenantId, email: bob.email })
      yield* tenants.acceptInvite(bob.caller, { tenant_id: owner.tenantId })
      yield* TestClock.adjust("2500 millis")
      const before = yield* tenants.members(owner.caller, { tenant_id: owner.tenantId })
      expect(before.map((m) => [m.user.nickname, m.delta_seconds])).toEqual([["Owner", 92], ["Bob", 2]])
      // A login updates the user record: Bob was seen just now.
      yield* users.login({ email: bob.email, password: "password" })
      const after = yield* tenants.members(owner.caller, { tenant_id: owner.tenantId })
      expect(after.map((m) => m.delta_seconds)).toEqual([92, 0])
    }))
})
