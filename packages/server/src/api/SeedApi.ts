/**
 * The seed API (`../shared/spec`, RAGFlow's web API under `/api/v1`), one `HttpApi` made of a group
 * per module of `seed/`. It is served as part of `Api.ts`.
 */
import { HttpApi } from "@effect/platform"
import { Layer } from "effect"
import * as Auth from "./Auth.js"
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
{}

/** Every group's handlers and the credentials checks, over the engine. */
export const layer = Layer.mergeAll(Kbs.live, Documents.live, System.live, User.live, Tenants.live, Dialogs.live, Conversations.live, OpenAi.live).pipe(
  Layer.provide(Auth.layer)
)
