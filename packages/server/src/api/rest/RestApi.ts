/**
 * RAGFlow's REST API (`../shared/spec/ragflow-rest.md`, what `ragflow-sdk` and RAGFlow's other
 * clients call under `/api/v1`), one `HttpApi` made of a group per module of `rest/`, over the same
 * core services as the seed API. Its conventions are in `Rest.ts` (HTTP 200 with a non-zero code
 * for errors) and `RestAuth.ts` (401 without valid credentials).
 */
import { HttpApi } from "@effect/platform"
import { Layer } from "effect"
import * as RestAuth from "./RestAuth.js"
import * as System from "./System.js"

export class RestApi extends HttpApi.make("ragflow")
  .add(System.group)
{}

/** Every group's handlers and the credentials check, over the engine. */
export const layer = Layer.mergeAll(System.live).pipe(Layer.provide(RestAuth.layer))
