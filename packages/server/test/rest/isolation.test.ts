/**
 * The REST API's tenant-isolation matrix, generated from `RestApi`'s own route list
 * (`HttpApi.reflect`), as the seed's is (`../seed/isolation.test.ts`).
 *
 * Every endpoint that takes an id (`id`, `*_id`, `*_ids`, `token`, in its path, query or body)
 * must have a case in `isolation/` (format in `isolation/cases.ts`), and a case must send every id
 * its route takes (or name it in `notRecords`): so a new route, or a new id on a route, cannot skip
 * the matrix; a case for a route that no longer exists fails too.
 *
 * A stranger (a user of another tenant) calling with the owner's ids gets RAGFlow's answer for an
 * unknown id (HTTP 200, code 102 unless the case says otherwise), and the owner's read-back is
 * unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Account, type SeedServer, startSeedServer } from "../support/seedServer.js"
import { restRoutes } from "../support/seedRoutes.js"
import type { Context, Send } from "./isolation/cases.js"
import { cases } from "./isolation/index.js"

const routes = restRoutes()
const byKey = new Map(routes.map((r) => [r.key, r]))

let server: SeedServer
let owner: Account
let stranger: Account
let counter = 0

const send = (key: string, who: Account, options: Send = {}) => {
  const route = byKey.get(key)
  if (route === undefined) throw new Error(`no REST route ${key}`)
  const path = route.path.replace(/:(\w+)\??/g, (_, name: string) => {
    const value = options.params?.[name]
    if (value === undefined) throw new Error(`${key}: no value for :${name}`)
    return encodeURIComponent(value)
  })
  const { params: _, ...rest } = options
  return server.request(route.method.toUpperCase(), path, { token: who.apiKey, ...rest })
}

const context = (): Context => ({ server, owner, stranger, send, unique: (prefix) => `${prefix}-${++counter}-${Date.now()}` })

beforeAll(async () => {
  server = await startSeedServer()
  owner = await server.account("rest-isolation-owner@example.com")
  stranger = await server.account("rest-isolation-stranger@example.com")
})
afterAll(() => server.close())

/** The field names a case sends: path params, query and the JSON body's top-level keys. */
const sentNames = (sent: Send): ReadonlyArray<string> => [
  ...Object.keys(sent.params ?? {}),
  ...Object.keys(sent.query ?? {}),
  ...(sent.json !== null && typeof sent.json === "object" && !Array.isArray(sent.json) ? Object.keys(sent.json) : []),
  ...(sent.body instanceof FormData ? [...new Set([...sent.body.keys()])] : [])
]

describe("REST tenant isolation", () => {
  it("has a case for every endpoint that takes an id, and none for a route that is gone", () => {
    const problems: Array<string> = []
    for (const route of routes) if (route.idFields.length > 0 && cases[route.key] === undefined) problems.push(`${route.key} (${route.method} ${route.path}, ids ${route.idFields.join(", ")}) has no case`)
    for (const key of Object.keys(cases)) if (!byKey.has(key)) problems.push(`${key} has a case but is no route of the REST API`)
    expect(problems).toEqual([])
  })

  for (const [key, testCase] of Object.entries(cases)) {
    it(`${key}: a stranger with the owner's ids gets code ${testCase.code ?? 102}, and nothing changes`, async () => {
      const ctx = context()
      const sent = await testCase.setup(ctx)
      const route = byKey.get(key)!
      const missing = route.idFields.filter((f) => !sentNames(sent).includes(f) && !(testCase.notRecords ?? []).includes(f))
      expect(missing, `${key} does not send ${missing.join(", ")}`).toEqual([])
      const before = await testCase.readBack(ctx, sent)
      const reply = await send(key, stranger, sent)
      expect([reply.status, reply.body?.code], `${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`).toEqual([200, testCase.code ?? 102])
      expect(await testCase.readBack(ctx, sent)).toEqual(before)
    })
  }
})
