/**
 * RAGFlow's REST team routes: the owner invites, the invitee accepts, members are listed, the
 * owner removes a member and a member leaves; a member managing the team gets RAGFlow's 109 `no
 * authorization`; another tenant's team is 102 like an unknown one; bad fields are 101.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Account, memoryEngine, type SeedServer, startSeedServer } from "../support/seedServer.js"

let server: SeedServer
let owner: Account
let member: Account
let third: Account
let stranger: Account

beforeAll(async () => {
  server = await startSeedServer(memoryEngine({ users: { passwordCost: 2 ** 10 } }))
  ;[owner, member, third, stranger] = await Promise.all(
    ["rest-team-owner", "rest-team-member", "rest-team-third", "rest-team-stranger"].map((n) => server.account(`${n}@example.com`))
  )
})
afterAll(() => server.close())

const tenant = (a: Account) => a.caller.tenantId
const roleOf = async (who: Account, of: Account) => {
  const teams = (await server.request("GET", "/api/v1/tenants", { token: who.apiKey })).body.data as Array<{ tenant_id: string; role: string }>
  return teams.find((t) => t.tenant_id === tenant(of))?.role
}

describe("REST tenants", () => {
  it("invites, accepts, lists and removes as the owner; a member lists, may not manage, may leave", async () => {
    const invited = await server.request("POST", `/api/v1/tenants/${tenant(owner)}/users`, { token: owner.apiKey, json: { email: member.email } })
    expect(invited.body).toEqual({
      code: 0,
      message: "success",
      data: { id: member.caller.userId, email: member.email, nickname: "rest-team-member", avatar: expect.any(String) }
    })
    expect(await roleOf(member, owner)).toBe("invite")
    const accepted = await server.request("PATCH", `/api/v1/tenants/${tenant(owner)}`, { token: member.session })
    expect(accepted.body).toEqual({ code: 0, message: "success", data: true })
    expect(await roleOf(member, owner)).toBe("normal")
    expect(await roleOf(owner, owner)).toBe("owner")

    const members = await server.request("GET", `/api/v1/tenants/${tenant(owner)}/users`, { token: member.apiKey })
    expect([members.body.code, members.body.message]).toEqual([0, "success"])
    expect((members.body.data as Array<{ user_id: string; role: string }>).find((m) => m.user_id === member.caller.userId)?.role).toBe("normal")

    // A member managing the team: RAGFlow's `no authorization` (109).
    const byMember = await server.request("POST", `/api/v1/tenants/${tenant(owner)}/users`, { token: member.apiKey, json: { email: third.email } })
    expect(byMember.body).toEqual({ code: 109, message: "no authorization" })
    await server.request("POST", `/api/v1/tenants/${tenant(owner)}/users`, { token: owner.apiKey, json: { email: third.email } })
    const removeByMember = await server.request("DELETE", `/api/v1/tenants/${tenant(owner)}/users`, { token: member.apiKey, json: { user_id: third.caller.userId } })
    expect(removeByMember.body).toEqual({ code: 109, message: "no authorization" })
    expect(await roleOf(third, owner)).toBe("invite")

    const again = await server.request("POST", `/api/v1/tenants/${tenant(owner)}/users`, { token: owner.apiKey, json: { email: member.email } })
    expect(again.body.code).toBe(102)
    const unknownUser = await server.request("POST", `/api/v1/tenants/${tenant(owner)}/users`, { token: owner.apiKey, json: { email: "nobody-here@example.com" } })
    expect(unknownUser.body.code).toBe(102)

    const removed = await server.request("DELETE", `/api/v1/tenants/${tenant(owner)}/users`, { token: owner.apiKey, json: { user_id: third.caller.userId } })
    expect(removed.body).toEqual({ code: 0, message: "success", data: true })
    expect(await roleOf(third, owner)).toBeUndefined()
    const left = await server.request("DELETE", `/api/v1/tenants/${tenant(owner)}/users`, { token: member.apiKey, json: { user_id: member.caller.userId } })
    expect(left.body).toEqual({ code: 0, message: "success", data: true })
    expect(await roleOf(member, owner)).toBeUndefined()
  })

  it("answers another tenant's team and unknown ids as unknown (102)", async () => {
    const foreign = tenant(owner)
    for (
      const [method, path, json] of [
        ["GET", `/api/v1/tenants/${foreign}/users`, undefined],
        ["POST", `/api/v1/tenants/${foreign}/users`, { email: third.email }],
        ["DELETE", `/api/v1/tenants/${foreign}/users`, { user_id: owner.caller.userId }],
        ["PATCH", `/api/v1/tenants/${foreign}`, undefined],
        ["GET", `/api/v1/tenants/${"f".repeat(32)}/users`, undefined]
      ] as const
    ) {
      const reply = await server.request(method, path, { token: stranger.apiKey, ...(json === undefined ? {} : { json }) })
      expect([reply.status, reply.body.code], `${method} ${path}`).toEqual([200, 102])
    }
  })

  it("refuses missing and wrong-type fields (101 naming them), the wrong content type (101) and bad credentials (401)", async () => {
    const path = `/api/v1/tenants/${tenant(owner)}/users`
    const noEmail = await server.request("POST", path, { token: owner.apiKey, json: {} })
    expect(noEmail.body).toEqual({ code: 101, message: "required argument are missing: email; " })
    const badEmail = await server.request("POST", path, { token: owner.apiKey, json: { email: 3 } })
    expect(badEmail.body.code).toBe(101)
    expect(badEmail.body.message).toMatch(/^email/)
    const noUser = await server.request("DELETE", path, { token: owner.apiKey, json: {} })
    expect(noUser.body).toEqual({ code: 101, message: "required argument are missing: user_id; " })
    const badUser = await server.request("DELETE", path, { token: owner.apiKey, json: { user_id: ["x"] } })
    expect(badUser.body.code).toBe(101)
    expect(badUser.body.message).toMatch(/^user_id/)
    const text = await server.request("POST", path, { token: owner.apiKey, body: "email", headers: { "content-type": "text/plain" } })
    expect([text.body.code, text.body.message]).toEqual([101, "Unsupported content type: Expected application/json, got text/plain"])
    const none = await server.request("GET", "/api/v1/tenants")
    expect([none.status, none.body.code]).toEqual([401, 401])
  })
})
