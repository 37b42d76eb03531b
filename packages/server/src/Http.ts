/**
 * The HTTP surface: the API (`api/Api.ts`: the seed's and RAGFlow's REST API), its OpenAPI 3.1 document and a docs page
 * reading it, served on the `HttpServer` the host provides.
 */
import { HttpApiBuilder, HttpApiScalar, HttpServer } from "@effect/platform"
import { Layer } from "effect"
import * as Api from "./api/Api.js"
import * as System from "./api/seed/System.js"

export const version = System.version

/** Where the OpenAPI document of the seed API is served (no credentials needed). */
export const openApiPath = "/api/v1/openapi.json"

/** Where the API reference page (Scalar, its script served inline: no CDN) is served. */
export const docsPath = "/docs"

/**
 * Every route the server serves, added to `HttpApiBuilder.Router`: the API's endpoints, its OpenAPI
 * document and the docs page. `app` serves them; a test reads the router they fill.
 */
export const routes = Layer.mergeAll(
  HttpApiBuilder.middlewareOpenApi({ path: openApiPath }),
  HttpApiScalar.layer({ path: docsPath })
).pipe(Layer.provideMerge(Api.layer))

/** Serves the API, its OpenAPI document and docs page; needs the engine's services and an `HttpServer`. */
export const app = HttpApiBuilder.serve().pipe(
  Layer.provide(routes),
  HttpServer.withLogAddress
)
