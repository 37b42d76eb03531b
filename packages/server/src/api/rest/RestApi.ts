/**
 * RAGFlow's REST API (`../shared/spec/ragflow-rest.md`, what `ragflow-sdk` and RAGFlow's other
 * clients call under `/api/v1`), one `HttpApi` made of a group per module of `rest/`, over the same
 * core services as the seed API. Its conventions are in `Rest.ts` (HTTP 200 with a non-zero code
 * for errors) and `RestAuth.ts` (401 without valid credentials).
 */
import { HttpApi } from "@effect/platform"
import { Layer } from "effect"
import * as Chats from "./Chats.js"
import * as Chunks from "./Chunks.js"
import * as Datasets from "./Datasets.js"
import * as Documents from "./Documents.js"
import * as RestAuth from "./RestAuth.js"
import * as Retrieval from "./Retrieval.js"
import * as Sessions from "./Sessions.js"
import * as System from "./System.js"
import * as Users from "./Users.js"
import * as Tenants from "./Tenants.js"
import * as Models from "./Models.js"

export class RestApi extends HttpApi.make("ragflow")
  .add(System.group)
  .add(Datasets.group)
  .add(Documents.group)
  .add(Chats.group)
  .add(Sessions.group)
  .add(Users.group)
  .add(Tenants.group)
  .add(Models.group)
  .add(Chunks.group)
  .add(Retrieval.group)
{}

/** Every group's handlers and the credentials check, over the engine. */
export const layer = Layer.mergeAll(System.live, Datasets.live, Documents.live, Chats.live, Sessions.live, Users.live, Tenants.live, Models.live, Chunks.live, Retrieval.live).pipe(Layer.provide(RestAuth.layer))
