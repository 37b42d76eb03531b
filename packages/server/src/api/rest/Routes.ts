/**
 * Which requests are the REST API's (`RestApi.ts`), read from its definition: the boundary answers
 * their failures in RAGFlow's REST convention (HTTP 200 with a code) rather than the seed's.
 */
import { HttpApi } from "@effect/platform"
import { RestApi } from "./RestApi.js"

interface Route {
  readonly method: string
  readonly pattern: RegExp
  /** The body's content types the route takes (`application/json`, `multipart/form-data`); empty without a body. */
  readonly contentTypes: ReadonlyArray<string>
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const patternOf = (path: string) =>
  new RegExp(`^${path.split("/").map((segment) => (segment.startsWith(":") ? "[^/]+" : escape(segment))).join("/")}/?$`)

const routes: ReadonlyArray<Route> = (() => {
  const found: Array<Route> = []
  HttpApi.reflect(RestApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, payloads }) => {
      found.push({
        method: endpoint.method,
        pattern: patternOf(endpoint.path),
        contentTypes: endpoint.method === "GET" ? [] : [...payloads.keys()]
      })
    }
  })
  return found
})()

/** The REST route a request is for, if any. */
export const restRouteOf = (method: string, url: string): Route | undefined => {
  const path = url.split("?")[0] ?? url
  return routes.find((r) => r.method === method && r.pattern.test(path))
}
