/**
 * Request ids: every request gets one (a client's `X-Request-Id` when it is a plain token, else a
 * fresh one), echoed in the `X-Request-Id` response header, in every log line of the request
 * (`request_id`) and in the body of a 500.
 */
import { Effect, FiberRef } from "effect"

/** The id of the request being served ("" outside a request). */
export const requestIdRef: FiberRef.FiberRef<string> = FiberRef.unsafeMake("")

export const currentRequestId: Effect.Effect<string> = FiberRef.get(requestIdRef)

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The client's id when it is one we can echo safely, else a fresh one. */
export const requestIdFrom = (header: string | undefined): string =>
  header !== undefined && CLIENT_ID.test(header) ? header : globalThis.crypto.randomUUID().replace(/-/g, "")
