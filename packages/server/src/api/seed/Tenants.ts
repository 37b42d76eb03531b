/**
 * Tenants (teams): `/api/v1/tenants/<tenant_id>/user/list|user|user/<user_id>`, and RAGFlow's
 * `GET /api/v1/tenants/list` (the caller's teams) and `PUT /api/v1/tenants/agree/<tenant_id>`
 * (accepting an invitation), over `Tenants`.
 *
 * Core decides who may do what: members (owner or normal) list a team's members; only the owner
 * invites and removes others (403 for a normal member); anyone but the owner may leave (remove
 * themselves); a team the caller is not in is 404, like one that does not exist.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint } from "@effect/platform"
import { MemberRole, Tenants, TenantMember, Users } from "@ragkit/core"
import { Clock, Effect, Schema } from "effect"
import { Authentication } from "../Auth.js"
import { Ok, ok } from "../Envelope.js"
import * as Errors from "../Errors.js"
import * as Group from "../Group.js"

/** A member as the seed lists it: the membership, the member's profile and `delta_seconds`. */
export const MemberView = Schema.Struct({
  ...TenantMember.fields,
  nickname: Schema.String,
  email: Schema.String,
  avatar: Schema.String,
  is_active: Schema.String,
  is_superuser: Schema.Boolean,
  delta_seconds: Schema.Number
})

export const memberView = (m: Tenants.MemberProfile): typeof MemberView.Type => ({
  ...m.member,
  nickname: m.user.nickname,
  email: m.user.email,
  avatar: m.user.avatar,
  is_active: m.user.is_active,
  is_superuser: m.user.is_superuser,
  delta_seconds: m.delta_seconds
})

/** A team of the caller (`tenants/list`): the tenant, the caller's role in it and the membership's dates. */
export const TeamView = Schema.Struct({
  tenant_id: Schema.String,
  name: Schema.String,
  role: MemberRole,
  invited_by: Schema.String,
  status: Schema.String,
  create_time: Schema.Number,
  create_date: Schema.String,
  update_time: Schema.Number,
  update_date: Schema.String,
  /** Whole seconds since the membership last changed (an invitation, its acceptance). */
  delta_seconds: Schema.Number
})

/** A team of the caller as `TeamView`, `now` in epoch milliseconds. */
export const teamView = ({ member, role, tenant }: Tenants.ListForUserResult[number], now: number): typeof TeamView.Type => ({
  tenant_id: tenant.id,
  name: tenant.name,
  role,
  invited_by: member.invited_by,
  status: member.status,
  create_time: member.create_time,
  create_date: member.create_date,
  update_time: member.update_time,
  update_date: member.update_date,
  delta_seconds: Math.max(0, Math.floor((now - member.update_time) / 1000))
})

/** The profile an invitation answers with, as RAGFlow's. */
const Invitee = Schema.Struct({ id: Schema.String, avatar: Schema.String, email: Schema.String, nickname: Schema.String })

const TenantPath = Schema.Struct({ tenant_id: Schema.String })

export const group = Group.make("tenants")
  .add(HttpApiEndpoint.get("teams", "/api/v1/tenants/list").addSuccess(Ok(Schema.Array(TeamView))))
  .add(HttpApiEndpoint.get("members", "/api/v1/tenants/:tenant_id/user/list").setPath(TenantPath).addSuccess(Ok(Schema.Array(MemberView))))
  .add(
    HttpApiEndpoint.post("invite", "/api/v1/tenants/:tenant_id/user")
      .setPath(TenantPath)
      .setPayload(Schema.Struct({ email: Schema.optional(Schema.Unknown) }))
      .addSuccess(Ok(Invitee))
  )
  .add(
    HttpApiEndpoint.del("remove", "/api/v1/tenants/:tenant_id/user/:user_id")
      .setPath(Schema.Struct({ tenant_id: Schema.String, user_id: Schema.String }))
      .addSuccess(Ok(Schema.Boolean))
  )
  .add(HttpApiEndpoint.put("agree", "/api/v1/tenants/agree/:tenant_id").setPath(TenantPath).addSuccess(Ok(Schema.Boolean)))
  .middleware(Authentication)

const Api = HttpApi.make("ragkit").add(group)

export const live = HttpApiBuilder.group(Api, "tenants", (handlers) =>
  Effect.gen(function* () {
    const tenants = yield* Tenants.Tenants
    return handlers
      .handle("teams", () =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const teams = yield* Errors.respond(tenants.listForUser(caller, {}))
          const now = yield* Clock.currentTimeMillis
          return ok(teams.map((team) => teamView(team, now)))
        }))
      .handle("members", ({ path }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Tenants.TenantRequest, { tenant_id: path.tenant_id })
          const members = yield* Errors.respond(tenants.members(caller, request))
          return ok(members.map(memberView))
        }))
      .handle("invite", ({ path, payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Tenants.InviteRequest, { tenant_id: path.tenant_id, email: payload.email })
          const user: Users.PublicUser = yield* Errors.respond(tenants.invite(caller, request))
          return ok({ id: user.id, avatar: user.avatar, email: user.email, nickname: user.nickname })
        }))
      .handle("remove", ({ path }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Tenants.RemoveMemberRequest, { tenant_id: path.tenant_id, user_id: path.user_id })
          yield* Errors.respond(tenants.removeMember(caller, request))
          return ok(true)
        }))
      .handle("agree", ({ path }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Tenants.TenantRequest, { tenant_id: path.tenant_id })
          yield* Errors.respond(tenants.acceptInvite(caller, request))
          return ok(true)
        }))
  }))
