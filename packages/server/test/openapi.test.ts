/**
 * The OpenAPI document at `/api/v1/openapi.json` and the docs page at `/docs`: the document is valid
 * OpenAPI 3.1 (checked by `@seriousme/openapi-schema-validator` against the specification's own
 * schema) and lists exactly the routes the server's router serves, which are exactly the endpoints
 * of the API definition (the seed's and RAGFlow's REST API, `Api.ts`).
 */
import { HttpApiBuilder } from "@effect/platform"
import { Validator } from "@seriousme/openapi-schema-validator"
import { Chunk, Layer, ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Http from "../src/Http.js"
import { Api } from "../src/api/Api.js"
import { routesOf } from "./support/seedRoutes.js"
import { memoryEngine, type SeedServer, startSeedServer } from "./support/seedServer.js"

let server: SeedServer
let doc: any

beforeAll(async () => {
  server = await startSeedServer()
  const reply = await server.request("GET", Http.openApiPath)
  expect(reply.status).toBe(200)
  doc = reply.body
})
afterAll(() => server.close())

/** `METHOD /path` with OpenAPI's `{param}` for the router's `:param`. */
const route = (method: string, path: string) => `${method.toUpperCase()} ${path.replace(/:(\w+)\??/g, "{$1}")}`

/** The routes of the document: every operation of every path. */
const documented = (spec: any): ReadonlyArray<string> =>
  Object.entries(spec.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, item]) => Object.keys(item).filter((key) => ["get", "put", "post", "delete", "options", "head", "patch", "trace"].includes(key)).map((method) => route(method, path)))
    .sort()

/** The routes `Http.routes` adds to the router the server serves, read from that router. */
const served = async (): Promise<ReadonlyArray<string>> => {
  const runtime = ManagedRuntime.make(Http.routes.pipe(Layer.provideMerge(HttpApiBuilder.Router.Live), Layer.provide(HttpApiBuilder.Middleware.layer), Layer.provide(memoryEngine())))
  try {
    const router = await runtime.runPromise(HttpApiBuilder.Router.router)
    expect(Chunk.size(router.mounts)).toBe(0)
    return Chunk.toReadonlyArray(router.routes).map((r) => route(r.method, r.path)).sort()
  } finally {
    await runtime.dispose()
  }
}

describe("GET /api/v1/openapi.json", () => {
  it("is a valid OpenAPI 3.1 document, named and versioned as the server", async () => {
    const validator = new Validator()
    const result = await validator.validate(doc)
    expect(validator.version).toBe("3.1")
    expect(result).toEqual({ valid: true })
    expect(doc.openapi).toBe("3.1.0")
    expect(doc.info).toMatchObject({ title: "ragkit", version: Http.version })
  })

  it("lists every route the server serves and nothing else", async () => {
    const routes = await served()
    const own = [route("GET", Http.openApiPath), route("GET", Http.docsPath)]
    expect(routes).toEqual(expect.arrayContaining(own))
    const api = routes.filter((r) => !own.includes(r))
    expect(documented(doc)).toEqual(api)
    // and the router serves exactly the endpoints of the API definition
    expect(api).toEqual(routesOf(Api).map((r) => route(r.method, r.path)).sort())
    expect(api.length).toBeGreaterThan(30)
  })

  it("names the credentials scheme the authenticated routes use", () => {
    expect(Object.values(doc.components.securitySchemes)).toContainEqual({ type: "apiKey", name: "Authorization", in: "header" })
    expect(doc.paths["/api/v1/kbs/list"].post.security).not.toEqual([])
    expect(doc.paths["/api/v1/system/ping"].get.security ?? []).toEqual([])
  })
})

describe("GET /docs", () => {
  it("answers the API reference page with the document inline and its script served by us (no CDN)", async () => {
    const response = await fetch(`${server.url}${Http.docsPath}`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toMatch(/^text\/html/)
    const html = await response.text()
    expect(html).toContain("<title>ragkit</title>")
    expect(html).toContain('id="api-reference"')
    expect(html).toContain('"/api/v1/kbs/list"')
    expect(html).not.toMatch(/<script[^>]+src="https?:/)
  })
})
