/**
 * What every request of the API passes through, outermost: its request id (`RequestId.ts`), and
 * every failure turned into RAGFlow's error body under its HTTP status (`Errors.ts`): a request
 * that does not decode (400, the message names the field), a body that is not JSON (400), an
 * unknown path (404), a fault (500, logged with its cause). A request without a body reads as `{}`.
 */
import { HttpApiError, type HttpApp, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Fields } from "@ragkit/core"
import { Cause, Effect } from "effect"
import * as Errors from "./Errors.js"
import { requestIdFrom, requestIdRef } from "./RequestId.js"

const errorResponse = (error: Errors.ApiError, requestId: string) =>
  HttpServerResponse.unsafeJson({ ...error }, {
    status: Errors.statusOf(error),
    headers: {
      "x-request-id": requestId,
      ...(error instanceof Errors.TooManyRequests && error.retry_after !== undefined ? { "retry-after": String(Math.ceil(error.retry_after)) } : {})
    }
  })

/** The seed error for a failure that reached the edge. */
const toApiError = (cause: Cause.Cause<unknown>): Effect.Effect<Errors.ApiError> => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") {
    const e = failure.value
    if (e instanceof HttpApiError.HttpApiDecodeError) {
      return Effect.succeed(Errors.badRequest(Fields.invalidInputOfIssue(e.issues[0]).message))
    }
    if (e instanceof HttpServerError.RouteNotFound) {
      return Effect.succeed(Errors.notFound(`no route ${e.request.method} ${e.request.url}`))
    }
    if (e instanceof HttpServerError.RequestError && e.reason === "Decode") {
      return Effect.succeed(Errors.badRequest("the request body is not valid JSON"))
    }
    const known = Errors.isApiError(e) ? e : Errors.fromDomain(e)
    if (known !== undefined) return Effect.succeed(known)
  }
  // A body the router could not read is a defect of its decoding step, not a fault of ours.
  const defect = Cause.dieOption(cause)
  if (defect._tag === "Some" && defect.value instanceof HttpServerError.RequestError && defect.value.reason === "Decode") {
    return Effect.succeed(Errors.badRequest("the request body is not valid JSON"))
  }
  return Errors.internal(cause)
}

/**
 * A request with no body at all (no content type, no length or length 0) reads as an empty form,
 * i.e. `{}`, so that `POST /kbs/list` with every field optional needs no `-d '{}'`; any body that
 * is sent is decoded as its content type says.
 */
const withEmptyBodyAsEmptyObject = (request: HttpServerRequest.HttpServerRequest) => {
  const { headers } = request
  const noBody = headers["content-type"] === undefined && headers["transfer-encoding"] === undefined &&
    (headers["content-length"] === undefined || headers["content-length"] === "0")
  return noBody && request.method !== "GET" && request.method !== "HEAD"
    ? request.modify({ headers: { ...headers, "content-type": "application/x-www-form-urlencoded" } })
    : request
}

/** The API's outermost middleware. */
export const boundary = (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const requestId = requestIdFrom(request.headers["x-request-id"])
    return yield* app.pipe(
      Effect.provideService(HttpServerRequest.HttpServerRequest, withEmptyBodyAsEmptyObject(request)),
      Effect.map((response) => HttpServerResponse.setHeader(response, "x-request-id", requestId)),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.map(toApiError(cause), (error) => errorResponse(error, requestId))
      ),
      Effect.locally(requestIdRef, requestId),
      Effect.annotateLogs("request_id", requestId)
    )
  })
