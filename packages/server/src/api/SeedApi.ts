/**
 * The seed API (`../shared/spec`, RAGFlow's web API under `/api/v1`), one `HttpApi` made of a group
 * per module of `seed/`. The same definitions give the OpenAPI document and a typed client.
 */
import { HttpApi, HttpApiBuilder } from "@effect/platform"
import { Layer } from "effect"
import * as Auth from "./Auth.js"
import * as Boundary from "./Boundary.js"
import * as Errors from "./Errors.js"
import * as OpenApiDocument from "./OpenApiDocument.js"
import * as Conversations from "./seed/Conversations.js"
import * as Dialogs from "./seed/Dialogs.js"
import * as Documents from "./seed/Documents.js"
import * as Kbs from "./seed/Kbs.js"
import * as OpenAi from "./seed/OpenAi.js"
import * as System from "./seed/System.js"
import * as Tenants from "./seed/Tenants.js"
import * as User from "./seed/User.js"

export class SeedApi extends HttpApi.make("seed")
  .add(Kbs.group)
  .add(Documents.group)
  .add(System.group)
  .add(User.group)
  .add(Tenants.group)
  .add(Dialogs.group)
  .add(Conversations.group)
  .add(OpenAi.group)
  .addError(Errors.BadRequest)
  .addError(Errors.NotFound)
  .addError(Errors.Internal)
  .annotateContext(OpenApiDocument.annotations({ title: "ragkit", version: System.version, description: "ragkit's HTTP API (RAGFlow's web API under /api/v1)." }))
{}

/** Every group's handlers, the credentials check and the outermost middleware, over the engine. */
export const layer = HttpApiBuilder.api(SeedApi).pipe(
  Layer.provide([Kbs.live, Documents.live, System.live, User.live, Tenants.live, Dialogs.live, Conversations.live, OpenAi.live]),
  Layer.provide(Auth.layer),
  Layer.provide(HttpApiBuilder.middleware(SeedApi, Boundary.boundary))
)
