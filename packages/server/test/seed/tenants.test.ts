import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Account, memoryEngine, type SeedServer, startSeedServer } from "../support/seedServer.js"

const MEMBER_FIELDS = ["id", "tenant_id", "user_id", "invited_by", "role", "status", "create_time", "create_date", "update_time", "update_date", "delta_seconds"]

let server: SeedServer
let owner: Account
let member: Account
let outsider: Account
let stranger: Account

beforeAll(async () => {
  server = await startSeedServer(memoryEngine({ users: { passwordCost: 2 ** 10 } }))
  ;[owner, member, outsider, stranger] = await Promise.all(
    ["team-owner@example.com", "team-member@example.com", "team-outsider@example.com", "team-stranger@example.com"].map(server.account)
  )
}, 60_000)
afterAll(() => server.close())

const team = () => owner.caller.tenantId
const membersOf = async (token: string) => {
  const reply = await server.request("GET", `/api/v1/tenants/${team()}/user/list`, { token })
  return reply.body.data as Array<Record<string, unknown>>
}

describe("/api/v1/tenants", () => {
  it("the owner invites, the invitee sees the team and agrees, members are listed with the documented fields", async () => {
    const invited = await server.request("POST", `/api/v1/tenants/${team()}/user`, { token: owner.session, json: { email: member.email } })
    expect(invited.status).toBe(200)
    expect(invited.body).toEqual({ code: 0, message: "success", data: { id: member.caller.userId, avatar: "", email: member.email, nickname: "team-member" } })

    const teams = await server.request("GET", "/api/v1/tenants/list", { token: member.apiKey })
    expect(teams.status).toBe(200)
    const byTenant = new Map((teams.body.data as Array<{ tenant_id: string }>).map((t) => [t.tenant_id, t]))
    expect(byTenant.get(member.caller.tenantId)).toMatchObject({ role: "owner", name: "team-member's Kingdom" })
    expect(byTenant.get(team())).toMatchObject({ role: "invite", name: "team-owner's Kingdom", invited_by: owner.caller.userId, status: "1" })
    for (const field of ["tenant_id", "name", "role", "invited_by", "status", "create_time", "create_date", "update_time", "update_date", "delta_seconds"]) {
      expect(byTenant.get(team())).toHaveProperty(field)
    }
    // Invited is not joined: the team's members are not the invitee's to see yet.
    const early = await server.request("GET", `/api/v1/tenants/${team()}/user/list`, { token: member.apiKey })
    expect([early.status, early.body.code]).toEqual([404, 102])

    const agreed = await server.request("PUT", `/api/v1/tenants/agree/${team()}`, { token: member.session })
    expect(agreed.body).toEqual({ code: 0, message: "success", data: true })
    const twice = await server.request("PUT", `/api/v1/tenants/agree/${team()}`, { token: member.session })
    expect([twice.status, twice.body.code]).toEqual([404, 102])

    const listed = await server.request("GET", `/api/v1/tenants/${team()}/user/list`, { token: owner.apiKey })
    expect(listed.status).toBe(200)
    for (const entry of listed.body.data) {
      for (const field of MEMBER_FIELDS) expect(entry).toHaveProperty(field)
      expect(entry.tenant_id).toBe(team())
      expect(Number.isInteger(entry.delta_seconds) && entry.delta_seconds >= 0).toBe(true)
      expect(entry).not.toHaveProperty("password_hash")
    }
    const roles = Object.fromEntries(listed.body.data.map((e: { user_id: string; role: string }) => [e.user_id, e.role]))
    expect(roles).toEqual({ [owner.caller.userId]: "owner", [member.caller.userId]: "normal" })
    expect(listed.body.data.find((e: { user_id: string }) => e.user_id === member.caller.userId)).toMatchObject({ email: member.email, nickname: "team-member", invited_by: owner.caller.userId })
    // A member sees the list too.
    expect((await membersOf(member.session)).length).toBe(2)
  })

  it("a normal member may not invite or remove others (403), only leave; the owner removes and can't be removed", async () => {
    const memberInvites = await server.request("POST", `/api/v1/tenants/${team()}/user`, { token: member.apiKey, json: { email: outsider.email } })
    expect([memberInvites.status, memberInvites.body.code]).toEqual([403, 109])
    expect((await membersOf(owner.apiKey)).map((e) => e.user_id)).not.toContain(outsider.caller.userId)

    await server.request("POST", `/api/v1/tenants/${team()}/user`, { token: owner.apiKey, json: { email: outsider.email } })
    const invitedTwice = await server.request("POST", `/api/v1/tenants/${team()}/user`, { token: owner.apiKey, json: { email: outsider.email } })
    expect([invitedTwice.status, invitedTwice.body.code]).toEqual([400, 102])
    const memberRemoves = await server.request("DELETE", `/api/v1/tenants/${team()}/user/${outsider.caller.userId}`, { token: member.apiKey })
    expect([memberRemoves.status, memberRemoves.body.code]).toEqual([403, 109])
    const ownerOut = await server.request("DELETE", `/api/v1/tenants/${team()}/user/${owner.caller.userId}`, { token: member.apiKey })
    expect(ownerOut.status).toBe(403)
    const selfOut = await server.request("DELETE", `/api/v1/tenants/${team()}/user/${owner.caller.userId}`, { token: owner.apiKey })
    expect([selfOut.status, selfOut.body.code]).toEqual([403, 109])
    // The outsider's invitation is still there: the owner removes it.
    const teams = await server.request("GET", "/api/v1/tenants/list", { token: outsider.apiKey })
    expect(teams.body.data.map((t: { tenant_id: string }) => t.tenant_id)).toContain(team())
    const removed = await server.request("DELETE", `/api/v1/tenants/${team()}/user/${outsider.caller.userId}`, { token: owner.apiKey })
    expect(removed.body).toEqual({ code: 0, message: "success", data: true })
    const after = await server.request("GET", "/api/v1/tenants/list", { token: outsider.apiKey })
    expect(after.body.data.map((t: { tenant_id: string }) => t.tenant_id)).not.toContain(team())
    const again = await server.request("DELETE", `/api/v1/tenants/${team()}/user/${outsider.caller.userId}`, { token: owner.apiKey })
    expect([again.status, again.body.code]).toEqual([404, 102])

    // A member leaves.
    const leaves = await server.request("DELETE", `/api/v1/tenants/${team()}/user/${member.caller.userId}`, { token: member.apiKey })
    expect(leaves.body.data).toBe(true)
    expect((await membersOf(owner.apiKey)).map((e) => e.user_id)).toEqual([owner.caller.userId])
    // Back in for the next test.
    await server.request("POST", `/api/v1/tenants/${team()}/user`, { token: owner.apiKey, json: { email: member.email } })
    await server.request("PUT", `/api/v1/tenants/agree/${team()}`, { token: member.apiKey })
  })

  it("another tenant's team is 404 on every route and stays unchanged", async () => {
    const before = await membersOf(owner.apiKey)
    expect(before.length).toBe(2)
    const list = await server.request("GET", `/api/v1/tenants/${team()}/user/list`, { token: stranger.apiKey })
    expect([list.status, list.body.code, list.body.data]).toEqual([404, 102, null])
    const invite = await server.request("POST", `/api/v1/tenants/${team()}/user`, { token: stranger.apiKey, json: { email: outsider.email } })
    expect([invite.status, invite.body.code]).toEqual([404, 102])
    const remove = await server.request("DELETE", `/api/v1/tenants/${team()}/user/${member.caller.userId}`, { token: stranger.apiKey })
    expect([remove.status, remove.body.code]).toEqual([404, 102])
    const agree = await server.request("PUT", `/api/v1/tenants/agree/${team()}`, { token: stranger.apiKey })
    expect([agree.status, agree.body.code]).toEqual([404, 102])
    expect(await membersOf(owner.apiKey)).toEqual(before)
    const strangerTeams = await server.request("GET", "/api/v1/tenants/list", { token: stranger.apiKey })
    expect(strangerTeams.body.data.map((t: { tenant_id: string }) => t.tenant_id)).toEqual([stranger.caller.tenantId])
  })

  it("400 naming the field, 404 for an unknown invitee, 401 without credentials", async () => {
    const noEmail = await server.request("POST", `/api/v1/tenants/${team()}/user`, { token: owner.apiKey, json: {} })
    expect([noEmail.status, noEmail.body]).toEqual([400, { code: 101, message: "email is required", data: null }])
    const badEmail = await server.request("POST", `/api/v1/tenants/${team()}/user`, { token: owner.apiKey, json: { email: "nope" } })
    expect([badEmail.status, badEmail.body.code]).toEqual([400, 101])
    expect(badEmail.body.message).toMatch(/^email/)
    const badTenant = await server.request("GET", "/api/v1/tenants/not-an-id/user/list", { token: owner.apiKey })
    expect([badTenant.status, badTenant.body.code]).toEqual([400, 101])
    expect(badTenant.body.message).toMatch(/^tenant_id/)
    const badUser = await server.request("DELETE", `/api/v1/tenants/${team()}/user/not-an-id`, { token: owner.apiKey })
    expect([badUser.status, badUser.body.code]).toEqual([400, 101])
    expect(badUser.body.message).toMatch(/^user_id/)
    const unknown = await server.request("POST", `/api/v1/tenants/${team()}/user`, { token: owner.apiKey, json: { email: "ghost@example.com" } })
    expect([unknown.status, unknown.body.code]).toEqual([404, 102])
    for (const [method, path] of [["GET", "/api/v1/tenants/list"], ["GET", `/api/v1/tenants/${team()}/user/list`], ["PUT", `/api/v1/tenants/agree/${team()}`], ["DELETE", `/api/v1/tenants/${team()}/user/${member.caller.userId}`]] as const) {
      const reply = await server.request(method, path)
      expect([path, reply.status, reply.body.code]).toEqual([path, 401, 401])
    }
    expect((await membersOf(owner.apiKey)).length).toBe(2)
  })
})
