/**
 * What every request of the API passes through, outermost: its request id (`RequestId.ts`), and
 * every failure turned into RAGFlow's error body.
 *
 * - A seed route's failure is answered under its HTTP status (`Errors.ts`): a request that does
 *   not decode (400, the message names the field), a body that is not JSON (400), a fault (500,
 *   logged with its cause).
 * - A REST route's (`rest/Routes.ts`) is answered as RAGFlow's REST API does, HTTP 200 with a code
 *   (`rest/Rest.ts`): 101 for a request that does not decode, a body that is not JSON, or a body of
 *   another content type than the route takes (checked before anything else); 100 for a fault.
 * - An unknown path is RAGFlow's 404: `{ code: 404, message: "Not Found: <path>", data: null, error: "Not Found" }`.
 *
 * A request without a body reads as `{}`.
 */
import { HttpApiError, type HttpApp, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Fields } from "@ragkit/core"
import { Cause, Effect, Option } from "effect"
import * as Errors from "./Errors.js"
import * as Rest from "./rest/Rest.js"
import * as RestAuth from "./rest/RestAuth.js"
import { restRouteOf } from "./rest/Routes.js"
import { requestIdFrom, requestIdRef } from "./RequestId.js"

const errorResponse = (error: Errors.ApiError, requestId: string) =>
  HttpServerResponse.unsafeJson({ ...error }, {
    status: Errors.statusOf(error),
    headers: {
      "x-request-id": requestId,
      ...(error instanceof Errors.TooManyRequests && error.retry_after !== undefined ? { "retry-after": String(Math.ceil(error.retry_after)) } : {})
    }
  })

const notJson = "the request body is not valid JSON"

/** The failure of a request that did not decode, whatever the convention: its message, or none. */
const decodeFailure = (cause: Cause.Cause<unknown>): string | undefined => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") {
    const e = failure.value
    if (e instanceof HttpApiError.HttpApiDecodeError) return Fields.invalidInputOfIssue(e.issues[0]).message
    if (e instanceof HttpServerError.RequestError && e.reason === "Decode") return notJson
  }
  // A body the router could not read is a defect of its decoding step, not a fault of ours.
  const defect = Cause.dieOption(cause)
  if (defect._tag === "Some" && defect.value instanceof HttpServerError.RequestError && defect.value.reason === "Decode") return notJson
  return undefined
}

/** RAGFlow's answer to a path it does not serve. */
const routeNotFound = (e: HttpServerError.RouteNotFound, requestId: string) =>
  HttpServerResponse.unsafeJson(
    { code: 404, message: `Not Found: ${e.request.url.split("?")[0]}`, data: null, error: "Not Found" },
    { status: 404, headers: { "x-request-id": requestId } }
  )

/** A REST route's answer to a failure that reached the edge: HTTP 200 with RAGFlow's code. */
const restFailure = (cause: Cause.Cause<unknown>): Effect.Effect<Rest.Failure> => {
  const decode = decodeFailure(cause)
  if (decode !== undefined) {
    return Effect.succeed({ code: Rest.Codes.argument, message: decode === notJson ? "Malformed JSON syntax: Missing commas/brackets or invalid encoding" : decode })
  }
  return Rest.respond(Effect.failCause(cause))
}

/**
 * A REST route's check of the body's content type, before the route reads it: RAGFlow answers
 * code 101 `Unsupported content type: ...` to a JSON route and `No file part!` to an upload.
 */
const restContentTypeFailure = (request: HttpServerRequest.HttpServerRequest, contentTypes: ReadonlyArray<string>): Rest.Failure | undefined => {
  const sent = request.headers["content-type"]
  if (contentTypes.length === 0 || sent === undefined) return undefined
  const mime = sent.split(";")[0]!.trim().toLowerCase()
  if (contentTypes.includes(mime)) return undefined
  return contentTypes.includes("multipart/form-data")
    ? { code: Rest.Codes.argument, message: "No file part!" }
    : { code: Rest.Codes.argument, message: `Unsupported content type: Expected application/json, got ${sent}` }
}

/** The seed error for a failure that reached the edge. */
const toApiError = (cause: Cause.Cause<unknown>): Effect.Effect<Errors.ApiError> => {
  const decode = decodeFailure(cause)
  if (decode !== undefined) return Effect.succeed(Errors.badRequest(decode))
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") {
    const e = failure.value
    const known = Errors.isApiError(e) ? e : Errors.fromDomain(e)
    if (known !== undefined) return Effect.succeed(known)
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
    const restRoute = restRouteOf(request.method, request.url)
    const refused = restRoute === undefined ? undefined : restContentTypeFailure(request, restRoute.contentTypes)
    const served = refused === undefined ? app : Effect.succeed(HttpServerResponse.unsafeJson(refused))
    return yield* served.pipe(
      Effect.provideService(HttpServerRequest.HttpServerRequest, withEmptyBodyAsEmptyObject(request)),
      Effect.map((response) => HttpServerResponse.setHeader(response, "x-request-id", requestId)),
      Effect.catchAllCause((cause) => {
        if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
        const failure: Option.Option<unknown> = Cause.failureOption(cause)
        if (Option.isSome(failure) && failure.value instanceof HttpServerError.RouteNotFound) {
          return Effect.succeed(routeNotFound(failure.value, requestId))
        }
        if (Option.isSome(failure) && failure.value instanceof RestAuth.Unauthorized) {
          return Effect.succeed(HttpServerResponse.unsafeJson({ ...failure.value }, { status: 401, headers: { "x-request-id": requestId } }))
        }
        return restRoute === undefined
          ? Effect.map(toApiError(cause), (error) => errorResponse(error, requestId))
          : Effect.map(restFailure(cause), (body) => HttpServerResponse.unsafeJson(body, { headers: { "x-request-id": requestId } }))
      }),
      Effect.locally(requestIdRef, requestId),
      Effect.annotateLogs("request_id", requestId)
    )
  })
