/**
 * The HTTP surface: the seed API (`api/SeedApi.ts`) and its OpenAPI document, served on the
 * `HttpServer` the host provides.
 */
import { HttpApiBuilder, HttpServer } from "@effect/platform"
import { Layer } from "effect"
import * as SeedApi from "./api/SeedApi.js"
import * as System from "./api/seed/System.js"

export const version = System.version

/** Where the OpenAPI document of the seed API is served (no credentials needed). */
export const openApiPath = "/api/v1/openapi.json"

/** Serves the API and its OpenAPI document; needs the engine's services and an `HttpServer`. */
export const app = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: openApiPath })),
  Layer.provide(SeedApi.layer),
  HttpServer.withLogAddress
)
