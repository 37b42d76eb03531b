/**
 * @ragkit/client: a typed client of ragkit's HTTP API, derived from the server's own definitions
 * (`@ragkit/server/api`) with `HttpApiClient`: one method per route, grouped as the server groups
 * them (`client.kbs.create`, `client.documents.upload`, `client.restSystem.createToken`,
 * `client.dify.retrieval`, ...), payloads and answers typed and decoded by the same Schemas the
 * server uses, and an error status decoded into the route's declared error.
 *
 * `makeClient` gives the Effect client; `createClient` the same methods returning Promises.
 */
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Api } from "@ragkit/server/api"
import { Cause, Effect, Exit } from "effect"

export { Api }

export interface ClientOptions {
  /** The server's origin, e.g. `http://127.0.0.1:9380` (the routes carry `/api/v1`). */
  readonly baseUrl: string | URL
  /** An API key (or a login session's token), sent as `Authorization: Bearer <apiKey>`; none for `user/register` and `user/login`. */
  readonly apiKey?: string | undefined
}

/** The client over the `HttpClient` in context. */
export const make = (options: ClientOptions) => {
  const { apiKey } = options
  return HttpApiClient.make(Api, {
    baseUrl: options.baseUrl,
    transformClient: apiKey === undefined ? undefined : HttpClient.mapRequest(HttpClientRequest.bearerToken(apiKey))
  })
}

/** The typed client: one method per route, each an `Effect`. */
export type Client = Effect.Effect.Success<ReturnType<typeof make>>

/** The typed client over `fetch`. */
export const makeClient = (options: ClientOptions): Effect.Effect<Client> => make(options).pipe(Effect.provide(FetchHttpClient.layer))

/** A method's answer without the `[answer, response]` pair that `withResponse: true` gives. */
type Answer<S> = S extends readonly [infer A, HttpClientResponse.HttpClientResponse] ? A : S

type Promised<F> = F extends (...args: infer A) => Effect.Effect<infer S, infer _E, infer _R> ? (...args: A) => Promise<Answer<S>> : never

/** The client for hosts without Effect: the same groups and methods, each returning a Promise that rejects with the route's error. */
export type PromiseClient = { readonly [G in keyof Client]: { readonly [M in keyof Client[G]]: Promised<Client[G][M]> } }

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) => Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause)))

/** The Promise client over `fetch`. */
export const createClient = (options: ClientOptions): PromiseClient => {
  const client = Effect.runSync(makeClient(options)) as unknown as Record<string, Record<string, (...args: Array<unknown>) => Effect.Effect<unknown, unknown>>>
  return Object.fromEntries(
    Object.entries(client).map(([group, methods]) => [
      group,
      Object.fromEntries(Object.entries(methods).map(([name, method]) => [name, (...args: Array<unknown>) => run(method(...args))]))
    ])
  ) as unknown as PromiseClient
}
