/**
 * RAGFlow's REST user routes: sign-up, login (the session in the `Authorization` header and in
 * `data`), `users/me`, logout; RAGFlow's codes for closed registration and a taken e-mail (103), a
 * failed login and a wrong current password (109), bad fields (101 naming them); RSA-encrypted
 * passwords when the deployment configures a key.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type AccountServers, encrypt, startAccountServers } from "../support/accountServers.js"
import type { SeedServer } from "../support/seedServer.js"

const unauthorized = { code: 401, message: "<Unauthorized '401: Unauthorized'>", data: null }

let server: SeedServer
let rsa: SeedServer
let closed: SeedServer
let servers: AccountServers

beforeAll(async () => {
  servers = await startAccountServers({ passwordCost: 2 ** 10 })
  ;({ server, rsa, closed } = servers)
}, 60_000)
afterAll(() => servers.close())

describe("REST users", () => {
  it("registers, logs in (token in header and body), shows and updates me, logs out (then 401)", async () => {
    const registered = await server.request("POST", "/api/v1/users", { json: { email: "Rest-Ann@Example.com", nickname: "ann", password: "correct horse" } })
    expect([registered.status, registered.body.code, registered.body.message]).toEqual([200, 0, "ann, welcome aboard!"])
    expect(registered.body.data).toMatchObject({ email: "rest-ann@example.com", nickname: "ann" })
    expect(registered.body.data).not.toHaveProperty("password_hash")
    expect(registered.headers.get("authorization")).toBe(registered.body.data.access_token)

    const taken = await server.request("POST", "/api/v1/users", { json: { email: "rest-ann@example.com", nickname: "ann2", password: "correct horse" } })
    expect([taken.status, taken.body]).toEqual([200, { code: 103, message: "Email: rest-ann@example.com has already registered!" }])

    const wrong = await server.request("POST", "/api/v1/auth/login", { json: { email: "rest-ann@example.com", password: "wrong horse" } })
    expect([wrong.status, wrong.body.code]).toEqual([200, 109])
    const nobody = await server.request("POST", "/api/v1/auth/login", { json: { email: "nobody@example.com", password: "correct horse" } })
    expect([nobody.status, nobody.body.code, nobody.body.message]).toEqual([200, 109, wrong.body.message])

    const login = await server.request("POST", "/api/v1/auth/login", { json: { email: "rest-ann@example.com", password: "correct horse" } })
    expect([login.status, login.body.code, login.body.message]).toEqual([200, 0, "Welcome back!"])
    const session: string = login.body.data.access_token
    expect(login.headers.get("authorization")).toBe(session)
    expect(login.headers.get("access-control-expose-headers")).toBe("Authorization")

    const me = await server.request("GET", "/api/v1/users/me", { token: session })
    expect(me.body).toMatchObject({ code: 0, message: "success", data: { id: registered.body.data.id, email: "rest-ann@example.com", nickname: "ann" } })
    expect(me.body.data).not.toHaveProperty("password_hash")

    const renamed = await server.request("PATCH", "/api/v1/users/me", { token: session, json: { nickname: "  annie ", language: "English" } })
    expect(renamed.body).toEqual({ code: 0, message: "success", data: true })
    expect((await server.request("GET", "/api/v1/users/me", { token: session })).body.data).toMatchObject({ nickname: "annie", language: "English" })

    const out = await server.request("POST", "/api/v1/auth/logout", { token: session })
    expect(out.body).toEqual({ code: 0, message: "success", data: true })
    const ended = await server.request("GET", "/api/v1/users/me", { token: session })
    expect([ended.status, ended.body]).toEqual([401, unauthorized])
    // The session from sign-up goes on.
    expect((await server.request("GET", "/api/v1/users/me", { token: registered.body.data.access_token })).status).toBe(200)
  })

  it("changes the password with the current one (109 `Password error!` otherwise), ending every session", async () => {
    const registered = await server.request("POST", "/api/v1/users", { json: { email: "rest-bob@example.com", nickname: "bob", password: "first password" } })
    const session: string = registered.body.data.access_token
    const bad = await server.request("PATCH", "/api/v1/users/me", { token: session, json: { password: "not it at all", new_password: "second password" } })
    expect(bad.body).toEqual({ code: 109, message: "Password error!" })
    const noCurrent = await server.request("PATCH", "/api/v1/users/me", { token: session, json: { new_password: "second password" } })
    expect([noCurrent.body.code, noCurrent.body.message]).toEqual([101, "password (the current one) is required to set new_password"])
    const short = await server.request("PATCH", "/api/v1/users/me", { token: session, json: { password: "first password", new_password: "short" } })
    expect(short.body.code).toBe(101)
    expect(short.body.message).toMatch(/^new_password/)

    const changed = await server.request("PATCH", "/api/v1/users/me", { token: session, json: { password: "first password", new_password: "second password" } })
    expect(changed.body).toEqual({ code: 0, message: "success", data: true })
    expect((await server.request("GET", "/api/v1/users/me", { token: session })).status).toBe(401)
    const old = await server.request("POST", "/api/v1/auth/login", { json: { email: "rest-bob@example.com", password: "first password" } })
    expect(old.body.code).toBe(109)
    const fresh = await server.request("POST", "/api/v1/auth/login", { json: { email: "rest-bob@example.com", password: "second password" } })
    expect(fresh.body.code).toBe(0)
  })

  it("refuses missing fields, wrong types and the wrong content type with 101 naming the field", async () => {
    const missing = await server.request("POST", "/api/v1/users", { json: { email: "rest-carl@example.com" } })
    expect([missing.status, missing.body]).toEqual([200, { code: 101, message: "required argument are missing: nickname,password; " }])
    const badNickname = await server.request("POST", "/api/v1/users", { json: { email: "rest-carl@example.com", nickname: 7, password: "correct horse" } })
    expect(badNickname.body.code).toBe(101)
    expect(badNickname.body.message).toMatch(/^nickname/)
    const badEmail = await server.request("POST", "/api/v1/users", { json: { email: "not an address", nickname: "carl", password: "correct horse" } })
    expect(badEmail.body.code).toBe(101)
    expect(badEmail.body.message).toMatch(/^email/)
    const badPassword = await server.request("POST", "/api/v1/users", { json: { email: "rest-carl@example.com", nickname: "carl", password: ["x"] } })
    expect([badPassword.body.code, badPassword.body.message]).toEqual([101, "password must be a string"])
    const badLogin = await server.request("POST", "/api/v1/auth/login", { json: { email: 5, password: "x" } })
    expect(badLogin.body.code).toBe(101)
    expect(badLogin.body.message).toMatch(/^email/)
    const text = await server.request("POST", "/api/v1/auth/login", { body: "email=a", headers: { "content-type": "text/plain" } })
    expect([text.status, text.body.code, text.body.message]).toEqual([200, 101, "Unsupported content type: Expected application/json, got text/plain"])

    const account = await server.account("rest-dora@example.com")
    const badUpdate = await server.request("PATCH", "/api/v1/users/me", { token: account.session, json: { nickname: 12 } })
    expect(badUpdate.body.code).toBe(101)
    expect(badUpdate.body.message).toMatch(/^nickname/)
    const badSchema = await server.request("PATCH", "/api/v1/users/me", { token: account.session, json: { color_schema: "Pink" } })
    expect(badSchema.body.code).toBe(101)
    expect(badSchema.body.message).toMatch(/^color_schema/)
  })

  it("answers 401 without valid credentials on the routes that need them", async () => {
    for (const [method, path] of [["GET", "/api/v1/users/me"], ["PATCH", "/api/v1/users/me"], ["POST", "/api/v1/auth/logout"]] as const) {
      const reply = await server.request(method, path, { token: "nope", ...(method === "GET" ? {} : { json: {} }) })
      expect([reply.status, reply.body]).toEqual([401, unauthorized])
    }
  })

  it("answers a login past the failed-login limit with 109 under HTTP 200 (not the seed's 429)", async () => {
    let last = await server.request("POST", "/api/v1/auth/login", { json: { email: "rest-limited@example.com", password: "guess 0" } })
    for (let i = 1; i <= 10; i++) last = await server.request("POST", "/api/v1/auth/login", { json: { email: "rest-limited@example.com", password: `guess ${i}` } })
    expect([last.status, last.body.code]).toEqual([200, 109])
    expect(last.body.message).not.toBe("Email and password do not match")
    expect(last.body.message).toMatch(/too many/i)
  })

  it("refuses sign-up when the deployment closed registration (103)", async () => {
    const reply = await closed.request("POST", "/api/v1/users", { json: { email: "rest-eve@example.com", nickname: "eve", password: "correct horse" } })
    expect([reply.status, reply.body]).toEqual([200, { code: 103, message: "User registration is disabled!" }])
  })

  it("reads RSA-encrypted passwords when the deployment has a key; an unreadable one fails like a wrong one", async () => {
    const registered = await rsa.request("POST", "/api/v1/users", { json: { email: "rest-rsa@example.com", nickname: "rsa", password: encrypt("secret words") } })
    expect(registered.body.code).toBe(0)
    const plain = await rsa.request("POST", "/api/v1/auth/login", { json: { email: "rest-rsa@example.com", password: "secret words" } })
    expect(plain.body.code).toBe(109)
    const login = await rsa.request("POST", "/api/v1/auth/login", { json: { email: "rest-rsa@example.com", password: encrypt("secret words") } })
    expect([login.body.code, login.headers.get("authorization")]).toEqual([0, login.body.data.access_token])
    const unreadable = await rsa.request("POST", "/api/v1/users", { json: { email: "rest-rsa2@example.com", nickname: "rsa2", password: "secret words" } })
    expect([unreadable.body.code, unreadable.body.message]).toEqual([101, "password can't be read, or is not 8 to 1024 characters"])
    const changed = await rsa.request("PATCH", "/api/v1/users/me", {
      token: login.body.data.access_token,
      json: { password: encrypt("secret words"), new_password: encrypt("other words") }
    })
    expect(changed.body).toEqual({ code: 0, message: "success", data: true })
    expect((await rsa.request("POST", "/api/v1/auth/login", { json: { email: "rest-rsa@example.com", password: encrypt("other words") } })).body.code).toBe(0)
  })
})
