/**
 * The seed API's errors: RAGFlow's body `{ code, message, data: null }` under the HTTP status the
 * seed lists, one class per status so that `HttpApi` encodes each with its status and OpenAPI shows
 * them.
 *
 * | core error | status | code |
 * |---|---|---|
 * | `InvalidInput`, a body that is not JSON, a request that does not decode | 400 | 101 argument error |
 * | `AlreadyExists`, `StoreError` "Conflict", `ParseError`, `ModelError` of the caller's setup | 400 | 102 data error |
 * | no credentials | 401 | 401 unauthorized |
 * | `Unauthenticated` (a bad key, session or password) | 401 | 109 authentication error |
 * | `Forbidden` (seen but may not be changed), a chat-only key on another route | 403 | 109 |
 * | `NotFound` (unknown, or another tenant's: the same answer) | 404 | 102 |
 * | `TooLarge` (an upload over the deployment's limit) | 413 | 101 |
 * | `TooManyAttempts` (failed logins) | 429 with `Retry-After` (seconds, also `retry_after` in the body) | 109 |
 * | everything else (a store, index or model fault, a defect) | 500 | 100, with a `request_id`; logged with its cause |
 */
import { HttpApiSchema } from "@effect/platform"
import { Cause, Effect, Schema } from "effect"
import { Codes } from "./Envelope.js"
import { currentRequestId } from "./RequestId.js"

const body = { code: Schema.Int, message: Schema.String, data: Schema.Null }

export class BadRequest extends Schema.Class<BadRequest>("BadRequest")(body, HttpApiSchema.annotations({ status: 400 })) {}
export class Unauthorized extends Schema.Class<Unauthorized>("Unauthorized")(body, HttpApiSchema.annotations({ status: 401 })) {}
export class Forbidden extends Schema.Class<Forbidden>("Forbidden")(body, HttpApiSchema.annotations({ status: 403 })) {}
export class NotFound extends Schema.Class<NotFound>("NotFound")(body, HttpApiSchema.annotations({ status: 404 })) {}
export class PayloadTooLarge extends Schema.Class<PayloadTooLarge>("PayloadTooLarge")(body, HttpApiSchema.annotations({ status: 413 })) {}
export class TooManyRequests extends Schema.Class<TooManyRequests>("TooManyRequests")(
  { ...body, retry_after: Schema.optional(Schema.Number) },
  HttpApiSchema.annotations({ status: 429 })
) {}
export class Internal extends Schema.Class<Internal>("Internal")(
  { ...body, request_id: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

export type ApiError = BadRequest | Unauthorized | Forbidden | NotFound | PayloadTooLarge | TooManyRequests | Internal

/** Every error class, for the API to declare. */
export const all = [BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, TooManyRequests, Internal] as const

export const badRequest = (message: string, code: number = Codes.argument) => new BadRequest({ code, message, data: null })
export const unauthorized = (message: string, code: number = Codes.authentication) => new Unauthorized({ code, message, data: null })
export const forbidden = (message: string) => new Forbidden({ code: Codes.authentication, message, data: null })
export const notFound = (message: string) => new NotFound({ code: Codes.data, message, data: null })

/**
 * A fault: logged here with its cause and the request's id, which the body carries so that a
 * user's report can be matched to the log. The body says no more than that.
 */
export const internal = (cause: Cause.Cause<unknown>): Effect.Effect<Internal> =>
  Effect.gen(function* () {
    const requestId = yield* currentRequestId
    yield* Effect.logError("request failed", cause)
    return new Internal({ code: Codes.exception, message: `internal error (request ${requestId})`, data: null, request_id: requestId })
  })

const hasTag = (e: unknown): e is { readonly _tag: string; readonly message?: string } =>
  typeof e === "object" && e !== null && "_tag" in e && typeof (e as { _tag: unknown })._tag === "string"

const messageOf = (e: { readonly message?: string }) => e.message ?? ""

/** The seed error for a core error, or none when it is a fault. */
export const fromDomain = (e: unknown): ApiError | undefined => {
  if (!hasTag(e)) return undefined
  switch (e._tag) {
    case "InvalidInput":
      return badRequest(messageOf(e))
    case "AlreadyExists":
      return badRequest(messageOf(e), Codes.data)
    case "Unauthenticated":
      return unauthorized(messageOf(e))
    case "Forbidden":
      return forbidden(messageOf(e))
    case "NotFound":
      return notFound(messageOf(e))
    case "TooLarge":
      return new PayloadTooLarge({ code: Codes.argument, message: messageOf(e), data: null })
    case "TooManyAttempts": {
      const retryAfter = (e as { retryAfterSeconds?: number }).retryAfterSeconds
      return new TooManyRequests({ code: Codes.authentication, message: messageOf(e), data: null, ...(retryAfter === undefined ? {} : { retry_after: retryAfter }) })
    }
    case "ParseError":
      return badRequest(messageOf(e), Codes.data)
    case "StoreError":
      return (e as { reason?: string }).reason === "Conflict" ? badRequest(messageOf(e), Codes.data) : undefined
    case "ModelError": {
      const reason = (e as { reason?: string }).reason
      return reason === "NotConfigured" || reason === "InvalidInput" ? badRequest(messageOf(e), Codes.data) : undefined
    }
    default:
      return undefined
  }
}

export const isApiError = (e: unknown): e is ApiError => all.some((c) => e instanceof c)

const statuses = new Map<Function, number>([
  [BadRequest, 400],
  [Unauthorized, 401],
  [Forbidden, 403],
  [NotFound, 404],
  [PayloadTooLarge, 413],
  [TooManyRequests, 429],
  [Internal, 500]
])

/** The HTTP status of an error. */
export const statusOf = (e: ApiError): number => statuses.get(e.constructor) ?? 500

/**
 * A handler's effect with its failures as seed errors: core's errors by the table above, faults
 * (and defects) as a logged `Internal`.
 */
export const respond = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, ApiError, R> =>
  Effect.catchAllCause(self, (cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
    const failure = Cause.failureOption(cause)
    if (failure._tag === "Some") {
      const e = failure.value
      if (isApiError(e)) return Effect.fail(e)
      const mapped = fromDomain(e)
      if (mapped !== undefined) return Effect.fail(mapped)
    }
    return Effect.flatMap(internal(cause), Effect.fail)
  })
