/**
 * Everything the server serves under `/api/v1`, as one `HttpApi`: the seed API (`SeedApi.ts`,
 * RAGFlow's web API as the specification writes it) and RAGFlow's REST API (`rest/RestApi.ts`, what
 * `ragflow-sdk` calls). The same definitions give the OpenAPI document and the typed client.
 */
import { HttpApi, HttpApiBuilder } from "@effect/platform"
import { Layer } from "effect"
import * as Boundary from "./Boundary.js"
import * as Dify from "./dify/Dify.js"
import * as OpenApiDocument from "./OpenApiDocument.js"
import * as RestApi from "./rest/RestApi.js"
import * as SeedApi from "./SeedApi.js"
import { version } from "./seed/System.js"

export class Api extends HttpApi.make("ragkit")
  .addHttpApi(SeedApi.SeedApi)
  .addHttpApi(RestApi.RestApi)
  .addHttpApi(Dify.DifyApi)
  .annotateContext(OpenApiDocument.annotations({
    title: "ragkit",
    version,
    description: "ragkit's HTTP API: RAGFlow's web API (the seed specification) and RAGFlow's REST API (what ragflow-sdk calls), under /api/v1."
  }))
{}

/** Every group's handlers, the credentials checks and the outermost middleware, over the engine. */
export const layer = HttpApiBuilder.api(Api).pipe(
  Layer.provide([SeedApi.layer, RestApi.layer, Dify.live]),
  Layer.provide(HttpApiBuilder.middleware(Boundary.boundary))
)
