/**
 * The unstructured-client SDK side of the Unstructured parser (`../Unstructured.ts`), imported on
 * its first file: the client with ragkit's hooks, and the SDK's errors as `ParseError`s.
 */
import { ParseError } from "@ragkit/core"
import { Redacted } from "effect"
import { UnstructuredClient } from "unstructured-client"
import type { SDKOptions } from "unstructured-client/lib/config.js"
import { SDKHooks } from "unstructured-client/hooks/hooks.js"
import type { BeforeRequestContext, BeforeRequestHook } from "unstructured-client/hooks/types.js"
import {
  ConnectionError,
  HTTPValidationError,
  RequestAbortedError,
  RequestTimeoutError,
  UnstructuredClientError
} from "unstructured-client/sdk/models/errors"
import { Strategy as SdkStrategy } from "unstructured-client/sdk/models/shared"

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * The parser's `Strategy` names to the SDK's enum. Keyed by plain literals so that this module needs
 * nothing from the parser's; the parser's lookup fails to type-check if a `Strategy` is missing.
 */
export const sdkStrategies = {
  auto: SdkStrategy.Auto,
  fast: SdkStrategy.Fast,
  hi_res: SdkStrategy.HiRes,
  ocr_only: SdkStrategy.OcrOnly
} as const satisfies Record<string, SdkStrategy>

// ---------------------------------------------------------------------------------------------
// Errors.

const detailOf = (error: UnstructuredClientError): string => {
  const fromDetail = (detail: unknown): string | undefined => {
    if (typeof detail === "string") return detail
    if (Array.isArray(detail)) {
      return detail
        .map((d) => isRecord(d) && typeof d["msg"] === "string" ? d["msg"] : JSON.stringify(d))
        .join("; ")
    }
    return undefined
  }
  if (error instanceof HTTPValidationError) {
    const detail = fromDetail(error.detail)
    if (detail !== undefined) return detail
  }
  try {
    const body: unknown = JSON.parse(error.body)
    const detail = isRecord(body) ? fromDetail(body["detail"]) : undefined
    if (detail !== undefined) return detail
  } catch {
    // not JSON: the raw body below
  }
  const body = error.body.trim()
  return body.length > 0 ? body.slice(0, 500) : `HTTP ${error.statusCode}`
}

export const toParseError = (error: unknown, serverUrl: string, fileName: string): ParseError => {
  const unavailable = (why: string) =>
    new ParseError({ reason: "Unavailable", message: `Unstructured API unavailable at ${serverUrl}: ${why}`, cause: error })
  if (error instanceof UnstructuredClientError) {
    const status = error.statusCode
    if (status === 401 || status === 403) {
      return new ParseError({
        reason: "Unknown",
        message: `Unstructured API rejected the API key (HTTP ${status}): ${detailOf(error)}`,
        cause: error
      })
    }
    if (status >= 500 || status === 408 || status === 429) return unavailable(`HTTP ${status} ${detailOf(error)}`)
    if (status === 404 || status === 405) return unavailable(`HTTP ${status}, no partition endpoint there`)
    if (status === 413) {
      return new ParseError({ reason: "TooLarge", message: `${fileName}: ${detailOf(error)}`, cause: error })
    }
    const detail = detailOf(error)
    const reason = /not supported|unsupported|file type|filetype/iu.test(detail) ? "Unsupported" : "Corrupt"
    return new ParseError({ reason, message: `Unstructured API could not read ${fileName}: ${detail}`, cause: error })
  }
  if (error instanceof RequestTimeoutError) return unavailable("request timed out")
  if (error instanceof RequestAbortedError) return unavailable("request aborted")
  if (error instanceof ConnectionError) {
    const cause = error.cause instanceof Error && error.cause.cause instanceof Error
      ? error.cause.cause.message
      : error.cause instanceof Error
      ? error.cause.message
      : error.message
    return unavailable(cause)
  }
  return new ParseError({
    reason: "Unknown",
    message: `Unstructured API call failed for ${fileName}: ${error instanceof Error ? error.message : String(error)}`,
    cause: error
  })
}

// ---------------------------------------------------------------------------------------------
// The client.

/**
 * The SDK sends `languages` as one comma-joined form field; the server reads a list of fields.
 */
const splitLanguagesHook: BeforeRequestHook = {
  beforeRequest: async (_context: BeforeRequestContext, request: Request): Promise<Request> => {
    const form = await request.clone().formData()
    const languages = form.get("languages")
    if (typeof languages !== "string" || !languages.includes(",")) return request
    form.delete("languages")
    for (const language of languages.split(",").map((l) => l.trim()).filter((l) => l.length > 0)) {
      form.append("languages", language)
    }
    const headers = new Headers(request.headers)
    headers.delete("content-type")
    headers.delete("content-length")
    return new Request(request.clone(), { body: form, headers })
  }
}

/**
 * The SDK's preset hooks write to the console on every failed request, split PDFs into concurrent
 * per-page requests with their own hour-long retry loops, and drop any path from the server URL.
 * ragkit reports failures as typed errors and leaves retries to the ingestion, so it runs without
 * them.
 */
const sdkHooks = (): SDKHooks => {
  const hooks = new SDKHooks()
  hooks.sdkInitHooks = []
  hooks.beforeCreateRequestHooks = []
  hooks.beforeRequestHooks = [splitLanguagesHook]
  hooks.afterSuccessHooks = []
  hooks.afterErrorHooks = []
  return hooks
}

/** A client of the server at `serverUrl`, without the SDK's retries, splitting and logging. */
export const makeClient = (serverUrl: string, apiKey: Redacted.Redacted | undefined): UnstructuredClient => {
  const sdkOptions: SDKOptions & { readonly hooks: SDKHooks } = {
    serverURL: serverUrl,
    ...(apiKey === undefined ? {} : { security: { apiKeyAuth: Redacted.value(apiKey) } }),
    retryConfig: { strategy: "none" },
    hooks: sdkHooks()
  }
  return new UnstructuredClient(sdkOptions)
}
