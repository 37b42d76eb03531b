/**
 * Tenants: the teams a user belongs to. Every user owns one tenant (made at sign-up); its owner
 * invites other users, who join once they accept (RAGFlow's `user_tenant` roles: `owner`,
 * `invite`, `normal`). A tenant the caller is not in is reported as not found.
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import type { Caller } from "../domain/Caller.js"
import { AlreadyExists, Forbidden, NotFound, notFound, type StoreError } from "../domain/Errors.js"
import * as Fields from "../domain/Fields.js"
import { randomHex32, TenantId, type TenantMemberId, UserId } from "../domain/Ids.js"
import { MemberRole, Tenant, TenantMember } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import { RecordStore } from "../ports/RecordStore.js"
import { PublicUser, publicUser } from "./Users.js"

// ---------------------------------------------------------------------------------------------
// Requests and results

export const ListForUserRequest = Schema.Struct({})
export type ListForUserRequest = typeof ListForUserRequest.Type

/** A tenant the user is in, and how. */
export const Membership = Schema.Struct({ tenant: Tenant, role: MemberRole, member: TenantMember })
export type Membership = typeof Membership.Type

export const ListForUserResult = Schema.Array(Membership)
export type ListForUserResult = typeof ListForUserResult.Type

/** One tenant (team): whose members to list, whose invitation to accept, which tenant to show. */
export const TenantRequest = Schema.Struct({ tenant_id: TenantId })
export type TenantRequest = typeof TenantRequest.Type

/**
 * A member of a tenant with their public profile. `delta_seconds`, as RAGFlow's member lists: whole
 * seconds since the member's user record last changed (`user.update_time`), which a login, a
 * profile change or a password change sets; so, roughly, how long ago the member was last seen.
 */
export const MemberProfile = Schema.Struct({ member: TenantMember, role: MemberRole, user: PublicUser, delta_seconds: Schema.Number })
export type MemberProfile = typeof MemberProfile.Type

export const MembersResult = Schema.Array(MemberProfile)
export type MembersResult = typeof MembersResult.Type

export const InviteRequest = Schema.Struct({ tenant_id: TenantId, email: Fields.Email })
export type InviteRequest = typeof InviteRequest.Type

export const RemoveMemberRequest = Schema.Struct({ tenant_id: TenantId, user_id: UserId })
export type RemoveMemberRequest = typeof RemoveMemberRequest.Type

/** Each method's request and result, for the surfaces that decode what callers send. */
export const Operations = {
  listForUser: Fields.operation(ListForUserRequest, ListForUserResult),
  members: Fields.operation(TenantRequest, MembersResult),
  invite: Fields.operation(InviteRequest, PublicUser),
  acceptInvite: Fields.operation(TenantRequest, TenantMember),
  removeMember: Fields.operation(RemoveMemberRequest, Schema.Boolean),
  get: Fields.operation(TenantRequest, Tenant)
}

// ---------------------------------------------------------------------------------------------
// The service

export interface TenantsService {
  /** The tenants the caller belongs to (own, joined, invited to), oldest first. */
  readonly listForUser: (caller: Caller, request: ListForUserRequest) => Effect.Effect<ListForUserResult, StoreError>
  /** Members of a tenant the caller has joined (owner or normal), oldest first. */
  readonly members: (caller: Caller, request: TenantRequest) => Effect.Effect<MembersResult, NotFound | StoreError>
  /** The owner invites a registered user by e-mail; returns the invitee's public profile. */
  readonly invite: (
    caller: Caller,
    request: InviteRequest
  ) => Effect.Effect<PublicUser, NotFound | Forbidden | AlreadyExists | StoreError>
  /** The caller accepts an invitation and becomes a normal member. */
  readonly acceptInvite: (caller: Caller, request: TenantRequest) => Effect.Effect<TenantMember, NotFound | StoreError>
  /** The owner removes a member, or a member leaves (declines, when invited). The owner stays. */
  readonly removeMember: (
    caller: Caller,
    request: RemoveMemberRequest
  ) => Effect.Effect<boolean, NotFound | Forbidden | StoreError>
  /** A tenant the caller has joined (owner or normal); any other is not found. */
  readonly get: (caller: Caller, request: TenantRequest) => Effect.Effect<Tenant, NotFound | StoreError>
}

export class Tenants extends Context.Tag("@ragkit/core/Tenants")<Tenants, TenantsService>() {}

export const make = Effect.gen(function* () {
  const store = yield* RecordStore

  /** The membership of `userId` in `tenantId`, any role. */
  const membership = (tenantId: TenantId, userId: UserId) => store.members.findFirst({ tenant_id: tenantId, user_id: userId })

  /** The caller's joined membership (owner or normal); otherwise the tenant does not exist for them. */
  const joined = (caller: Caller, tenantId: TenantId) =>
    Effect.flatMap(membership(tenantId, caller.userId), (m) =>
      Option.isSome(m) && m.value.role !== "invite" && m.value.status === "1"
        ? Effect.succeed(m.value)
        : Effect.fail(notFound("Tenant", tenantId))
    )

  const get = Effect.fn("Tenants.get")(function* (caller: Caller, request: TenantRequest) {
    yield* joined(caller, request.tenant_id)
    const tenant = yield* store.tenants.get(request.tenant_id)
    if (Option.isNone(tenant)) return yield* Effect.fail(notFound("Tenant", request.tenant_id))
    return tenant.value
  })

  const listForUser = Effect.fn("Tenants.listForUser")(function* (caller: Caller, _request: ListForUserRequest) {
    const page = yield* store.members.find({ where: { user_id: caller.userId, status: "1" }, orderBy: "create_time" })
    const tenants = yield* store.tenants.getMany(page.items.map((m) => m.tenant_id))
    const byId = new Map(tenants.map((t) => [t.id, t] as const))
    return page.items.flatMap((member): Array<Membership> => {
      const tenant = byId.get(member.tenant_id)
      return tenant === undefined ? [] : [{ tenant, role: member.role, member }]
    })
  })

  const members = Effect.fn("Tenants.members")(function* (caller: Caller, request: TenantRequest) {
    yield* joined(caller, request.tenant_id)
    const page = yield* store.members.find({ where: { tenant_id: request.tenant_id, status: "1" }, orderBy: "create_time" })
    const users = yield* store.users.getMany(page.items.map((m) => m.user_id))
    const byId = new Map(users.map((u) => [u.id, u] as const))
    const now = yield* Clock.currentTimeMillis
    return page.items.flatMap((member): Array<MemberProfile> => {
      const user = byId.get(member.user_id)
      if (user === undefined) return []
      const delta_seconds = Math.max(0, Math.floor((now - user.update_time) / 1000))
      return [{ member, role: member.role, user: publicUser(user), delta_seconds }]
    })
  })

  const invite = Effect.fn("Tenants.invite")(function* (caller: Caller, request: InviteRequest) {
    const { tenant_id: tenantId, email } = request
    const mine = yield* joined(caller, tenantId)
    if (mine.role !== "owner") {
      return yield* Effect.fail(new Forbidden({ message: "only the owner of a team can invite members" }))
    }
    const invitee = yield* store.users.findFirst({ email })
    if (Option.isNone(invitee)) {
      return yield* Effect.fail(new NotFound({ entity: "User", id: email, message: `no user with e-mail ${email}` }))
    }
    const taken = () =>
      new AlreadyExists({
        entity: "TenantMember",
        field: "email",
        value: email,
        message: `${email} is already a member of this team or invited to it`
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

  const acceptInvite = Effect.fn("Tenants.acceptInvite")(function* (caller: Caller, request: TenantRequest) {
    const tenantId = request.tenant_id
    const noInvitation = new NotFound({ entity: "TenantMember", id: tenantId, message: `no invitation to team ${tenantId}` })
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

  const removeMember = Effect.fn("Tenants.removeMember")(function* (caller: Caller, request: RemoveMemberRequest) {
    const { tenant_id: tenantId, user_id: userId } = request
    if (userId === caller.userId) {
      // Leaving (or declining an invitation): any role but owner.
      const mine = yield* membership(tenantId, caller.userId)
      if (Option.isNone(mine)) return yield* Effect.fail(notFound("Tenant", tenantId))
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
    if (Option.isNone(target)) return yield* Effect.fail(notFound("TenantMember", userId))
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
