/**
 * `@ragkit/server/api`: the definitions of the HTTP API the server serves (`Api`: the seed API,
 * RAGFlow's REST API and Dify's external knowledge API), for clients that derive from them
 * (`@ragkit/client`, `HttpApiClient.make(Api)`). Importing it starts nothing; the group modules
 * hold their handlers beside their definitions, so it loads core's modules too.
 */
export { Api } from "./api/Api.js"
