import { Duration } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type AccountServers, encrypt, startAccountServers } from "../support/accountServers.js"
import type { SeedServer } from "../support/seedServer.js"

/** Cheap hashes; failed logins limited to 3 per account and 12 per address. */
const users = {
  passwordCost: 2 ** 10,
  loginLimits: { account: { attempts: 3, window: Duration.minutes(15) }, address: { attempts: 12, window: Duration.minutes(15) } }
}

const USER_FIELDS = ["id", "email", "nickname", "avatar", "access_token", "last_login_time", "login_channel", "is_superuser", "is_active"]

let server: SeedServer
let rsa: SeedServer
let closed: SeedServer
let servers: AccountServers

beforeAll(async () => {
  servers = await startAccountServers(users)
  ;({ server, rsa, closed } = servers)
}, 60_000)
afterAll(() => servers.close())

describe("/api/v1/user", () => {
  it("registers and logs in with the session in data and in the Authorization header; info shows the presented token; logout ends the session", async () => {
    const registered = await server.request("POST", "/api/v1/user/register", { json: { email: "Ann@Example.com", nickname: "ann", password: "correct horse" } })
    expect(registered.status).toBe(200)
    expect(registered.body).toMatchObject({ code: 0, message: "ann, welcome aboard!", data: { email: "ann@example.com", nickname: "ann", login_channel: "password", is_superuser: false, is_active: "1" } })
    for (const field of USER_FIELDS) expect(registered.body.data).toHaveProperty(field)
    expect(registered.body.data).not.toHaveProperty("password_hash")
    expect(registered.headers.get("authorization")).toBe(registered.body.data.access_token)

    const again = await server.request("POST", "/api/v1/user/register", { json: { email: "ann@example.com", nickname: "ann", password: "correct horse" } })
    expect([again.status, again.body.code]).toEqual([400, 102])

    const login = await server.request("POST", "/api/v1/user/login", { json: { email: "ann@example.com", password: "correct horse" } })
    expect(login.status).toBe(200)
    expect(login.body).toMatchObject({ code: 0, message: "Welcome back!", data: { id: registered.body.data.id, email: "ann@example.com", nickname: "ann" } })
    for (const field of USER_FIELDS) expect(login.body.data).toHaveProperty(field)
    expect(typeof login.body.data.last_login_time).toBe("number")
    const session = login.body.data.access_token as string
    expect(login.headers.get("authorization")).toBe(session)
    expect(session).not.toBe(registered.body.data.access_token)

    const info = await server.request("GET", "/api/v1/user/info", { token: session })
    expect(info.status).toBe(200)
    for (const field of USER_FIELDS) expect(info.body.data).toHaveProperty(field)
    expect(info.body.data).toMatchObject({ id: registered.body.data.id, email: "ann@example.com", access_token: session })
    const byKey = await server.account("ann-key@example.com")
    const keyInfo = await server.request("GET", "/api/v1/user/info", { token: byKey.apiKey })
    expect(keyInfo.body.data).toMatchObject({ id: byKey.caller.userId, access_token: byKey.apiKey })

    const out = await server.request("GET", "/api/v1/user/logout", { token: session })
    expect(out.body).toEqual({ code: 0, message: "success", data: true })
    const ended = await server.request("GET", "/api/v1/user/info", { token: session })
    expect([ended.status, ended.body.code]).toEqual([401, 109])
    // Only that session: the one from sign-up goes on.
    const other = await server.request("GET", "/api/v1/user/info", { token: registered.body.data.access_token })
    expect(other.status).toBe(200)
    const none = await server.request("GET", "/api/v1/user/info")
    expect([none.status, none.body.code]).toEqual([401, 401])
  })

  it("refuses bad input with 400 naming the field", async () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ["/api/v1/user/register", { nickname: "x", password: "long enough" }, /^email is required$/],
      ["/api/v1/user/register", { email: "not-an-address", nickname: "x", password: "long enough" }, /^email/],
      ["/api/v1/user/register", { email: "x@example.com", password: "long enough" }, /^nickname is required$/],
      ["/api/v1/user/register", { email: "x@example.com", nickname: "x", password: "short" }, /^password/],
      ["/api/v1/user/register", { email: "x@example.com", nickname: "x" }, /^password is required$/],
      ["/api/v1/user/login", { password: "long enough" }, /^email is required$/],
      ["/api/v1/user/login", { email: "x@example.com", password: 12345678 }, /^password must be a string$/]
    ]
    for (const [path, json, message] of cases) {
      const reply = await server.request("POST", path, { json })
      expect([path, reply.status, reply.body.code]).toEqual([path, 400, 101])
      expect(reply.body.message).toMatch(message)
    }
    const me = await server.account("bad-input@example.com")
    const colour = await server.request("POST", "/api/v1/user/setting", { token: me.session, json: { color_schema: "Pink" } })
    expect([colour.status, colour.body.code]).toEqual([400, 101])
    expect(colour.body.message).toMatch(/^color_schema/)
    const short = await server.request("POST", "/api/v1/user/setting", { token: me.session, json: { password: "password", new_password: "short" } })
    expect([short.status, short.body.code]).toEqual([400, 101])
    expect(short.body.message).toMatch(/^new_password/)
    const unauth = await server.request("POST", "/api/v1/user/setting", { json: { nickname: "x" } })
    expect(unauth.status).toBe(401)
  })

  it("setting changes the profile and the password: every session ends, only the new password logs in", async () => {
    const me = await server.account("setter@example.com")
    const changed = await server.request("POST", "/api/v1/user/setting", {
      token: me.session,
      json: { nickname: "Setter", avatar: "data:image/png;base64,AAAA", language: "Chinese", timezone: "UTC+1\tEurope/Paris", color_schema: "Dark", email: "ignored@example.com" }
    })
    expect(changed.body).toEqual({ code: 0, message: "success", data: true })
    const info = await server.request("GET", "/api/v1/user/info", { token: me.session })
    expect(info.body.data).toMatchObject({ nickname: "Setter", avatar: "data:image/png;base64,AAAA", language: "Chinese", timezone: "UTC+1\tEurope/Paris", color_schema: "Dark", email: "setter@example.com" })

    const wrong = await server.request("POST", "/api/v1/user/setting", { token: me.session, json: { password: "not the password", new_password: "a new password" } })
    expect([wrong.status, wrong.body.code]).toEqual([400, 101])
    expect(wrong.body.message).toBe("current password is wrong")
    const stillOld = await server.request("POST", "/api/v1/user/login", { json: { email: me.email, password: "password" } })
    expect(stillOld.status).toBe(200)

    const ok = await server.request("POST", "/api/v1/user/setting", { token: me.session, json: { password: "password", new_password: "a new password" } })
    expect(ok.body.data).toBe(true)
    expect((await server.request("GET", "/api/v1/user/info", { token: me.session })).status).toBe(401)
    expect((await server.request("GET", "/api/v1/user/info", { token: stillOld.body.data.access_token })).status).toBe(401)
    // The API key is not a session: it goes on.
    expect((await server.request("GET", "/api/v1/user/info", { token: me.apiKey })).status).toBe(200)
    const old = await server.request("POST", "/api/v1/user/login", { json: { email: me.email, password: "password" } })
    expect([old.status, old.body.code]).toEqual([401, 109])
    const fresh = await server.request("POST", "/api/v1/user/login", { json: { email: me.email, password: "a new password" } })
    expect(fresh.status).toBe(200)
  })

  it("401 (109) for a wrong password or an unknown account; 429 with Retry-After past the account's limit, even with the right password", async () => {
    const me = await server.account("guessed@example.com")
    const unknown = await server.request("POST", "/api/v1/user/login", { json: { email: "nobody@example.com", password: "whatever1" } })
    expect([unknown.status, unknown.body.code]).toEqual([401, 109])
    for (let i = 0; i < 3; i++) {
      const wrong = await server.request("POST", "/api/v1/user/login", { json: { email: me.email, password: `wrong-${i}-guess` } })
      expect([wrong.status, wrong.body]).toEqual([401, { code: 109, message: "Email and password do not match", data: null }])
      expect(wrong.headers.get("authorization")).toBeNull()
    }
    const limited = await server.request("POST", "/api/v1/user/login", { json: { email: me.email, password: "password" } })
    expect([limited.status, limited.body.code, limited.body.data]).toEqual([429, 109, null])
    expect(limited.body.message).toMatch(/Too many failed logins/)
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(800)
    expect(limited.headers.get("authorization")).toBeNull()
    // Another account from the same address is not held out by this one's limit.
    const other = await server.account("not-guessed@example.com")
    const fine = await server.request("POST", "/api/v1/user/login", { json: { email: other.email, password: "password" } })
    expect(fine.status).toBe(200)
  })

  it("429 past the address's limit: failures on many accounts from one client hold out every account from it", async () => {
    const me = await server.account("innocent@example.com")
    let attempts = 0
    let last = await server.request("POST", "/api/v1/user/login", { json: { email: "spray-0@example.com", password: "guess-0-x" } })
    while (last.status === 401 && attempts < 20) {
      attempts++
      last = await server.request("POST", "/api/v1/user/login", { json: { email: `spray-${attempts}@example.com`, password: `guess-${attempts}-x` } })
    }
    // Every account's first failure: only the per-address limit (12) can stop them.
    expect(last.status).toBe(429)
    expect(attempts).toBeLessThanOrEqual(12)
    const right = await server.request("POST", "/api/v1/user/login", { json: { email: me.email, password: "password" } })
    expect([right.status, right.body.code]).toEqual([429, 109])
    // Sessions already open go on.
    expect((await server.request("GET", "/api/v1/user/info", { token: me.session })).status).toBe(200)
  })
})

describe("/api/v1/user with a private key configured", () => {
  it("takes passwords RSA-encrypted as RAGFlow's web client sends them, and refuses passwords sent in clear like wrong ones", async () => {
    const registered = await rsa.request("POST", "/api/v1/user/register", { json: { email: "rsa@example.com", nickname: "rsa", password: encrypt("secret words") } })
    expect(registered.status).toBe(200)
    expect(registered.headers.get("authorization")).toBe(registered.body.data.access_token)

    const login = await rsa.request("POST", "/api/v1/user/login", { json: { email: "rsa@example.com", password: encrypt("secret words") } })
    expect(login.status).toBe(200)
    expect(login.headers.get("authorization")).toBe(login.body.data.access_token)
    const clear = await rsa.request("POST", "/api/v1/user/login", { json: { email: "rsa@example.com", password: "secret words" } })
    expect([clear.status, clear.body]).toEqual([401, { code: 109, message: "Email and password do not match", data: null }])
    const wrong = await rsa.request("POST", "/api/v1/user/login", { json: { email: "rsa@example.com", password: encrypt("other words") } })
    expect([wrong.status, wrong.body]).toEqual([401, clear.body])

    // A password that can't be read and one that is too short get the same answer.
    const unreadable = await rsa.request("POST", "/api/v1/user/register", { json: { email: "rsa2@example.com", nickname: "rsa2", password: "in clear" } })
    const tooShort = await rsa.request("POST", "/api/v1/user/register", { json: { email: "rsa2@example.com", nickname: "rsa2", password: encrypt("short") } })
    expect([unreadable.status, unreadable.body.code]).toEqual([400, 101])
    expect(tooShort.body).toEqual(unreadable.body)

    const session = login.body.data.access_token
    const changed = await rsa.request("POST", "/api/v1/user/setting", { token: session, json: { password: encrypt("secret words"), new_password: encrypt("newer secret words") } })
    expect(changed.body).toEqual({ code: 0, message: "success", data: true })
    const after = await rsa.request("POST", "/api/v1/user/login", { json: { email: "rsa@example.com", password: encrypt("newer secret words") } })
    expect(after.status).toBe(200)
    const clearCurrent = await rsa.request("POST", "/api/v1/user/setting", { token: after.body.data.access_token, json: { password: "newer secret words", new_password: encrypt("third secret words") } })
    expect([clearCurrent.status, clearCurrent.body.code]).toEqual([400, 101])
    const wrongCurrent = await rsa.request("POST", "/api/v1/user/setting", { token: after.body.data.access_token, json: { password: encrypt("not it at all"), new_password: encrypt("third secret words") } })
    expect(wrongCurrent.body).toEqual(clearCurrent.body)
  })
})

describe("/api/v1/user with registration closed", () => {
  it("refuses sign-up with 403 and RAGFlow's message", async () => {
    const refused = await closed.request("POST", "/api/v1/user/register", { json: { email: "late@example.com", nickname: "late", password: "long enough" } })
    expect([refused.status, refused.body]).toEqual([403, { code: 109, message: "User registration is disabled!", data: null }])
    expect(refused.headers.get("authorization")).toBeNull()
    const login = await closed.request("POST", "/api/v1/user/login", { json: { email: "late@example.com", password: "long enough" } })
    expect([login.status, login.body.code]).toEqual([401, 109])
  })
})
