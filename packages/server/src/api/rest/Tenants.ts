/**
 * Tenants (REST): RAGFlow's teams, `GET /api/v1/tenants` (the caller's teams),
 * `GET|POST|DELETE /api/v1/tenants/{tenant_id}/users` (members; invite `{email}`; remove
 * `{user_id}`) and `PATCH /api/v1/tenants/{tenant_id}` (accept an invitation), over `Tenants`, as
 * `tenant_api.py` answers them (`{ code, message: "success", data }`).
 *
 * Roles are `owner`, `normal` and `invite`. Core decides who may do what: members list a team's
 * members; only the owner invites and removes others, a member managing the team gets RAGFlow's
 * answer (109 `no authorization`); anyone but the owner may leave (remove themselves). A team the
 * caller is not in answers 102, like one that does not exist.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint } from "@effect/platform"
import { type Forbidden, Tenants } from "@ragkit/core"
import { Clock, Effect, Schema } from "effect"
import * as Group from "../Group.js"
import { MemberView, memberView, TeamView, teamView } from "../seed/Tenants.js"
import * as Rest from "./Rest.js"
import { Authentication } from "./RestAuth.js"
import { missing } from "./Users.js"

/** The profile an invitation answers with, as RAGFlow's. */
const Invitee = Schema.Struct({ id: Schema.String, avatar: Schema.String, email: Schema.String, nickname: Schema.String })

const TenantPath = Schema.Struct({ tenant_id: Schema.String })

/** A member (not the owner) managing the team: RAGFlow answers 109 `no authorization`. */
const noAuthorization = (e: Forbidden): Effect.Effect<never, Forbidden | Rest.RestFailure> =>
  e.message.startsWith("only the owner") ? Rest.fail(Rest.Codes.authentication, "no authorization") : Effect.fail(e)

export const group = Rest.group("restTenants")
  .add(HttpApiEndpoint.get("list", "/api/v1/tenants").addSuccess(Rest.Reply(Rest.Ok(Schema.Array(TeamView)))))
  .add(HttpApiEndpoint.get("members", "/api/v1/tenants/:tenant_id/users").setPath(TenantPath).addSuccess(Rest.Reply(Rest.Ok(Schema.Array(MemberView)))))
  .add(
    HttpApiEndpoint.post("invite", "/api/v1/tenants/:tenant_id/users")
      .setPath(TenantPath)
      .setPayload(Schema.Struct(Group.loose("email")))
      .addSuccess(Rest.Reply(Rest.Ok(Invitee)))
  )
  .add(
    HttpApiEndpoint.del("remove", "/api/v1/tenants/:tenant_id/users")
      .setPath(TenantPath)
      .setPayload(Schema.Struct(Group.loose("user_id")))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Boolean)))
  )
  .add(HttpApiEndpoint.patch("accept", "/api/v1/tenants/:tenant_id").setPath(TenantPath).addSuccess(Rest.Reply(Rest.Ok(Schema.Boolean))))
  .middleware(Authentication)

const Api = HttpApi.make("ragkit").add(group)

export const live = HttpApiBuilder.group(Api, "restTenants", (handlers) =>
  Effect.gen(function* () {
    const tenants = yield* Tenants.Tenants
    return handlers
      .handle("list", () =>
        Rest.respond(Effect.gen(function* () {
          const teams = yield* tenants.listForUser(yield* Rest.caller, {})
          const now = yield* Clock.currentTimeMillis
          return Rest.okWithMessage(teams.map((team) => teamView(team, now)))
        })))
      .handle("members", ({ path }) =>
        Rest.respond(Effect.gen(function* () {
          const request = yield* Rest.decode(Tenants.TenantRequest, { tenant_id: path.tenant_id })
          const members = yield* tenants.members(yield* Rest.caller, request)
          return Rest.okWithMessage(members.map(memberView))
        })))
      .handle("invite", ({ path, payload }) =>
        Rest.respond(Effect.gen(function* () {
          yield* missing(payload, "email")
          const request = yield* Rest.decode(Tenants.InviteRequest, { tenant_id: path.tenant_id, email: payload.email })
          const user = yield* tenants.invite(yield* Rest.caller, request).pipe(Effect.catchTag("Forbidden", noAuthorization))
          return Rest.okWithMessage({ id: user.id, avatar: user.avatar, email: user.email, nickname: user.nickname })
        })))
      .handle("remove", ({ path, payload }) =>
        Rest.respond(Effect.gen(function* () {
          yield* missing(payload, "user_id")
          const request = yield* Rest.decode(Tenants.RemoveMemberRequest, { tenant_id: path.tenant_id, user_id: payload.user_id })
          yield* tenants.removeMember(yield* Rest.caller, request).pipe(Effect.catchTag("Forbidden", noAuthorization))
          return Rest.okWithMessage(true)
        })))
      .handle("accept", ({ path }) =>
        Rest.respond(Effect.gen(function* () {
          const request = yield* Rest.decode(Tenants.TenantRequest, { tenant_id: path.tenant_id })
          yield* tenants.acceptInvite(yield* Rest.caller, request)
          return Rest.okWithMessage(true)
        })))
  }))
