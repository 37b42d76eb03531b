/**
 * RAGFlow's REST API conventions (`../shared/spec/ragflow-rest.md`), which every group of `rest/`
 * follows: success is `{ code: 0, data }` (chat, session, user and system routes add
 * `message: "success"`); an error is HTTP 200 with `{ code, message }`, the code saying what kind.
 *
 * A response is therefore declared as `Reply(success)`: the success body or a `Failure`, both under
 * 200. Handlers end in `respond`, which turns every failure into a `Failure` value:
 *
 * | failure | code |
 * |---|---|
 * | `fail(code, message)` (a route's own check, with RAGFlow's message) | as given |
 * | core's `InvalidInput`, `TooLarge` | 101 argument error |
 * | `NotFound` (unknown, or another tenant's: the same answer), `AlreadyExists`, `ParseError`, a store conflict, a model not configured | 102 data error |
 * | `Forbidden` | 108 permission error |
 * | `Unauthenticated`, `TooManyAttempts` | 109 authentication error |
 * | anything else (a fault, a defect) | 100, message with the request id; logged with its cause |
 *
 * Missing or invalid credentials are HTTP 401 (`RestAuth.ts`); a request that does not decode, a
 * body that is not JSON or not of the JSON content type are code 101 (`Boundary.ts`).
 */
import { HttpApiGroup } from "@effect/platform"
import { decodeRequest } from "@ragkit/core"
import { Cause, Data, Effect, Schema } from "effect"
import * as Errors from "../Errors.js"
import * as Group from "../Group.js"
import { currentRequestId } from "../RequestId.js"

/** RAGFlow's return codes (`api/settings.py` `RetCode`) that the REST API uses. */
export const Codes = {
  success: 0,
  exception: 100,
  argument: 101,
  data: 102,
  operating: 103,
  permission: 108,
  authentication: 109,
  unauthorized: 401,
  server: 500
} as const

/** An error body: HTTP 200, a non-zero `code` and RAGFlow's `message`. */
export const Failure = Schema.Struct({
  code: Schema.Int.pipe(Schema.filter((code) => code !== 0, { message: () => "an error's code is not 0" })),
  message: Schema.String,
  data: Schema.optional(Schema.Unknown)
}).annotations({ identifier: "RagflowFailure", description: "An error: HTTP 200 with a non-zero code (101 argument, 102 data, 103 operating, 108 permission, 109 authentication, 100 exception)." })
export type Failure = typeof Failure.Type

/** A success body `{ code: 0, data }`, with `message` when the route sends one and any further fields (`total_datasets`). */
export const Ok = <S extends Schema.Schema.Any, const Extra extends Schema.Struct.Fields = {}>(data: S, extra?: Extra) =>
  Schema.Struct({ code: Schema.Literal(0), message: Schema.optional(Schema.String), data, ...(extra ?? ({} as Extra)) })

/** What a REST route answers under 200: its success body, or a `Failure`. */
export const Reply = <S extends Schema.Schema.Any>(success: S) => Schema.Union(success, Failure)

/** `{ code: 0, data }`, as RAGFlow's `get_result` answers (datasets, documents, chunks, retrieval). */
export const ok = <A>(data: A): { readonly code: 0; readonly data: A } => ({ code: 0, data })

/** `{ code: 0, message: "success", data }`, as RAGFlow's `get_json_result` answers (chats, sessions, users, system). */
export const okWithMessage = <A>(data: A): { readonly code: 0; readonly message: string; readonly data: A } => ({ code: 0, message: "success", data })

/** A route's own refusal, with RAGFlow's code and message; `respond` makes it the body. */
export class RestFailure extends Data.TaggedError("RestFailure")<{ readonly code: number; readonly message: string }> {}

/** Fails the route with RAGFlow's code and message. */
export const fail = (code: number, message: string): Effect.Effect<never, RestFailure> => Effect.fail(new RestFailure({ code, message }))

/** An argument error (101) with RAGFlow's message. */
export const argument = (message: string) => fail(Codes.argument, message)

/** A data error (102) with RAGFlow's message: not found, not owned, a duplicate. */
export const data = (message: string) => fail(Codes.data, message)

/** The body for a failure of a core call or of the route's own checks, or none when it is a fault. */
export const failureOf = (e: unknown): Failure | undefined => {
  if (e instanceof RestFailure) return { code: e.code, message: e.message }
  const known = Errors.isApiError(e) ? e : Errors.fromDomain(e)
  if (known === undefined) return undefined
  if (known instanceof Errors.Forbidden) return { code: Codes.permission, message: known.message }
  if (known instanceof Errors.NotFound) return { code: Codes.data, message: known.message }
  if (known instanceof Errors.Unauthorized || known instanceof Errors.TooManyRequests) return { code: Codes.authentication, message: known.message }
  if (known instanceof Errors.PayloadTooLarge) return { code: Codes.argument, message: known.message }
  if (known instanceof Errors.Internal) return undefined
  return { code: known.code, message: known.message }
}

/** A fault's body: logged here with its cause; the body carries only the request's id. */
export const exception = (cause: Cause.Cause<unknown>): Effect.Effect<Failure> =>
  Effect.gen(function* () {
    const requestId = yield* currentRequestId
    yield* Effect.logError("request failed", cause)
    return { code: Codes.exception, message: `internal error (request ${requestId})`, data: null }
  })

/**
 * A handler's effect that cannot fail: its failures become `Failure` bodies by the table above
 * (faults and defects as a logged code 100). Interruption stays interruption.
 */
export const respond = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A | Failure, never, R> =>
  Effect.catchAllCause(self, (cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
    const failure = Cause.failureOption(cause)
    if (failure._tag === "Some") {
      const known = failureOf(failure.value)
      if (known !== undefined) return Effect.succeed(known)
    }
    return exception(cause)
  })

/**
 * A core request from what the client sent (mapped to core's names; undefined values are absent
 * fields), decoded by core's Schema: a bad field is code 101 with core's message naming it.
 */
export const decode = <A, I>(schema: Schema.Schema<A, I, never>, input: Record<string, unknown>): Effect.Effect<A, RestFailure> =>
  decodeRequest(schema)(Group.defined(input)).pipe(
    Effect.mapError((e) => new RestFailure({ code: Codes.argument, message: e.message }))
  )

/** A group of the REST API; its routes declare `Reply(...)` successes and add `RestAuth.Authentication` where they need a caller. */
export const group = <const Name extends string>(name: Name) => HttpApiGroup.make(name)

export { caller, defined, queryBoolean, queryNumber } from "../Group.js"
