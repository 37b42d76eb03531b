/**
 * Tenants: the teams a user belongs to. Every user owns one tenant (made at sign-up); its owner
 * invites other users, who join once they accept (RAGFlow's `user_tenant` roles: `owner`,
 * `invite`, `normal`). A tenant the caller is not in is reported as not found.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { Caller } from "../domain/Caller.js"
import {
  AlreadyExists,
  Forbidden,
  type InvalidInput,
  NotFound,
  notFound,
  type StoreError
} from "../domain/Errors.js"
import { isHex32, randomHex32, type TenantId, type TenantMemberId, type UserId } from "../domain/Ids.js"
import { type MemberRole, type Tenant, TenantMember } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import { RecordStore } from "../ports/RecordStore.js"
import * as validate from "./internal/validate.js"
import { type PublicUser, publicUser } from "./Users.js"

/** A tenant the user is in, and how. */
export interface Membership {
  readonly tenant: Tenant
  readonly role: MemberRole
  readonly member: TenantMember
}

/** A member of a tenant with their public profile. */
export interface MemberProfile {
  readonly member: TenantMember
  readonly role: MemberRole
  readonly user: PublicUser
}

export interface TenantsService {
  /** The tenants the caller belongs to (own, joined, invited to), oldest first. */
  readonly listForUser: (caller: Caller) => Effect.Effect<ReadonlyArray<Membership>, StoreError>
  /** Members of a tenant the caller has joined (owner or normal), oldest first. */
  readonly members: (caller: Caller, tenantId: TenantId) => Effect.Effect<ReadonlyArray<MemberProfile>, NotFound | StoreError>
  /** The owner invites a registered user by e-mail; returns the invitee's public profile. */
  readonly invite: (
    caller: Caller,
    tenantId: TenantId,
    email: string
  ) => Effect.Effect<PublicUser, InvalidInput | NotFound | Forbidden | AlreadyExists | StoreError>
  /** The caller accepts an invitation and becomes a normal member. */
  readonly acceptInvite: (caller: Caller, tenantId: TenantId) => Effect.Effect<TenantMember, NotFound | StoreError>
  /** The owner removes a member, or a member leaves (declines, when invited). The owner stays. */
  readonly removeMember: (
    caller: Caller,
    tenantId: TenantId,
    userId: UserId
  ) => Effect.Effect<boolean, NotFound | Forbidden | StoreError>
  readonly get: (tenantId: TenantId) => Effect.Effect<Tenant, NotFound | StoreError>
}

export class Tenants extends Context.Tag("@ragkit/core/Tenants")<Tenants, TenantsService>() {}

export const make = Effect.gen(function* () {
  const store = yield* RecordStore

  /** The membership of `userId` in `tenantId`, any role. */
  const membership = (tenantId: TenantId, userId: UserId) =>
    isHex32(tenantId) && isHex32(userId)
      ? store.members.findFirst({ tenant_id: tenantId, user_id: userId })
      : Effect.succeed(Option.none<TenantMember>())

  /** The caller's joined membership (owner or normal); otherwise the tenant does not exist for them. */
  const joined = (caller: Caller, tenantId: TenantId) =>
    Effect.flatMap(membership(tenantId, caller.userId), (m) =>
      Option.isSome(m) && m.value.role !== "invite" && m.value.status === "1"
        ? Effect.succeed(m.value)
        : Effect.fail(notFound("Tenant", String(tenantId)))
    )

  const get = Effect.fn("Tenants.get")(function* (tenantId: TenantId) {
    if (!isHex32(tenantId)) return yield* Effect.fail(notFound("Tenant", String(tenantId)))
    const tenant = yield* store.tenants.get(tenantId)
    if (Option.isNone(tenant)) return yield* Effect.fail(notFound("Tenant", tenantId))
    return tenant.value
  })

  const listForUser = Effect.fn("Tenants.listForUser")(function* (caller: Caller) {
    const page = yield* store.members.find({ where: { user_id: caller.userId, status: "1" }, orderBy: "create_time" })
    const tenants = yield* store.tenants.getMany(page.items.map((m) => m.tenant_id))
    const byId = new Map(tenants.map((t) => [t.id, t] as const))
    return page.items.flatMap((member): Array<Membership> => {
      const tenant = byId.get(member.tenant_id)
      return tenant === undefined ? [] : [{ tenant, role: member.role, member }]
    })
  })

  const members = Effect.fn("Tenants.members")(function* (caller: Caller, tenantId: TenantId) {
    yield* joined(caller, tenantId)
    const page = yield* store.members.find({ where: { tenant_id: tenantId, status: "1" }, orderBy: "create_time" })
    const users = yield* store.users.getMany(page.items.map((m) => m.user_id))
    const byId = new Map(users.map((u) => [u.id, u] as const))
    return page.items.flatMap((member): Array<MemberProfile> => {
      const user = byId.get(member.user_id)
      return user === undefined ? [] : [{ member, role: member.role, user: publicUser(user) }]
    })
  })

  const invite = Effect.fn("Tenants.invite")(function* (caller: Caller, tenantId: TenantId, email: string) {
    const mine = yield* joined(caller, tenantId)
    if (mine.role !== "owner") {
      return yield* Effect.fail(new Forbidden({ message: "only the owner of a team can invite members" }))
    }
    const address = yield* validate.email("email", email)
    const invitee = yield* store.users.findFirst({ email: address })
    if (Option.isNone(invitee)) {
      return yield* Effect.fail(new NotFound({ entity: "User", id: address, message: `no user with e-mail ${address}` }))
    }
    const taken = () =>
      new AlreadyExists({
        entity: "TenantMember",
        field: "email",
        value: address,
        message: `${address} is already a member of this team or invited to it`
      })
    if (Option.isSome(yield* membership(tenantId, invitee.value.id))) return yield* Effect.fail(taken())
    const stamps = yield* newStamps
    yield* store.members
      .insert(
        new TenantMember({
          id: randomHex32() as TenantMemberId,
          tenant_id: tenantId,
          user_id: invitee.value.id,
          invited_by: caller.userId,
          role: "invite",
          status: "1",
          ...stamps
        })
      )
      .pipe(Effect.catchIf((e) => e.reason === "Conflict", () => Effect.fail(taken())))
    return publicUser(invitee.value)
  })

  const acceptInvite = Effect.fn("Tenants.acceptInvite")(function* (caller: Caller, tenantId: TenantId) {
    const noInvitation = new NotFound({
      entity: "TenantMember",
      id: String(tenantId),
      message: `no invitation to team ${String(tenantId)}`
    })
    const invitation = yield* membership(tenantId, caller.userId)
    if (Option.isNone(invitation) || invitation.value.role !== "invite") return yield* Effect.fail(noInvitation)
    const now = yield* touched
    const accepted = yield* store.members.modify(invitation.value.id, (current) =>
      current.role === "invite"
        ? Effect.succeed(new TenantMember({ ...current, role: "normal", ...now }))
        : Effect.fail(noInvitation)
    )
    if (Option.isNone(accepted)) return yield* Effect.fail(noInvitation)
    return accepted.value
  })

  const removeMember = Effect.fn("Tenants.removeMember")(function* (caller: Caller, tenantId: TenantId, userId: UserId) {
    const memberNotFound = notFound("TenantMember", String(userId))
    if (userId === caller.userId) {
      // Leaving (or declining an invitation): any role but owner.
      const mine = yield* membership(tenantId, caller.userId)
      if (Option.isNone(mine)) return yield* Effect.fail(notFound("Tenant", String(tenantId)))
      if (mine.value.role === "owner") {
        return yield* Effect.fail(new Forbidden({ message: "the owner can't leave their own team" }))
      }
      yield* store.members.remove([mine.value.id])
      return true
    }
    const mine = yield* joined(caller, tenantId)
    if (mine.role !== "owner") {
      return yield* Effect.fail(new Forbidden({ message: "only the owner of a team can remove members" }))
    }
    const target = yield* membership(tenantId, userId)
    if (Option.isNone(target)) return yield* Effect.fail(memberNotFound)
    if (target.value.role === "owner") {
      return yield* Effect.fail(new Forbidden({ message: "the owner of a team can't be removed" }))
    }
    yield* store.members.remove([target.value.id])
    return true
  })

  return Tenants.of({ listForUser, members, invite, acceptInvite, removeMember, get })
})

/** Requires `RecordStore`. */
export const layer = Layer.effect(Tenants, make)
