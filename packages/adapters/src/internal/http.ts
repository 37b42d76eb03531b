/**
 * Shared HTTP plumbing for the model adapters that call a server (OpenAI-compatible, Ollama):
 * one request with a timeout, bounded retries, the mapping of every failure to `ModelError`,
 * response decoding, and the framing of streamed answers (SSE events, NDJSON lines).
 *
 * Failures, by cause (the same for every adapter):
 *
 * | cause                                   | reason          | retried |
 * |-----------------------------------------|-----------------|---------|
 * | 400, 413, 422                           | `InvalidInput`  | no      |
 * | 401, 403 (the server rejected the key)  | `NotConfigured` | no      |
 * | 404 (model or endpoint not found)       | `NotConfigured` | no      |
 * | 408, 5xx, connection refused, timeout   | `Unavailable`   | yes     |
 * | 429                                     | `RateLimited`   | yes     |
 * | other statuses, a body that is not the documented JSON | `BadResponse` | no |
 *
 * A retried request is sent at most `maxAttempts` times, by `Effect.retry` with `retrySchedule`:
 * between attempts it waits the server's `Retry-After` when the server sent one (429, 503, ...),
 * or else an exponential backoff (`retryBaseDelay`, doubled each time, capped at `maxRetryDelay`);
 * a `Retry-After` longer than `maxRetryDelay` is not waited for: the error is returned at once, so
 * a caller is never parked for minutes. A streamed answer is retried only until its headers
 * arrive: once a byte of it has been streamed, a failure ends the stream (no half-sent answer is
 * sent again).
 *
 * Timeouts, per attempt: `timeout` until the answer's headers (a JSON answer: until its whole
 * body), covering the connection too; `idleTimeout` between two chunks of a streamed answer.
 *
 * What an error may say: the API key travels only in the `Authorization` header (a `Redacted`
 * until then), and no error message, cause or span holds it, the server's response body (it may
 * hold anything: another service's answer, a secret), or the credentials and query of the URL:
 * messages name the server by its origin and path only, say what went wrong in our words, and mask
 * the key and the URL's secrets in the transport's own error text.
 *
 * Where a connection may go: a tenant's provider (`ModelProvider.mayReachPrivateAddresses` false)
 * may not reach loopback, private or link-local addresses. Before every attempt its host is
 * resolved and each address checked (`ModelProvider.hostKind`), so a name that resolves to
 * 127.0.0.1 is refused (`NotConfigured`), and redirects are not followed. The transport resolves
 * the name again when it connects; a resolver that answers differently within that moment is not
 * caught (the system resolver's cache usually answers the same).
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { ModelError, ModelProvider } from "@ragkit/core"
import { Duration, Effect, Either, Option, ParseResult, Redacted, Schedule, Schema, Stream } from "effect"
import { lookup } from "node:dns"

/** Where and how to call one model. */
export interface Endpoint {
  /** The API base without a trailing slash, e.g. `https://api.openai.com/v1`. */
  readonly baseUrl: string
  /** The API base as messages and spans show it: no credentials, query or fragment. */
  readonly shownBase: string
  /** Sent as `Authorization: Bearer <key>` when set. */
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  /** The model reference named in errors (`name@provider`). */
  readonly modelRef: string
  /** What the server is, for messages (`OpenAI-compatible API`, `Ollama`). */
  readonly serverName: string
  readonly retry: RetryPolicy
  /** May the connection reach loopback, private and link-local addresses? */
  readonly allowPrivateAddresses: boolean
  /** Strings masked in any text an error quotes: the API base's credentials and query values. */
  readonly urlSecrets: ReadonlyArray<string>
}

export interface RetryPolicy {
  /** Per attempt: connecting and waiting for the answer's headers (a JSON answer: its whole body). */
  readonly timeout: Duration.Duration
  /** A streamed answer's longest silence between two chunks once it has started. */
  readonly idleTimeout: Duration.Duration
  /** How many times a request may be sent in all (1 = no retry). */
  readonly maxAttempts: number
  readonly retryBaseDelay: Duration.Duration
  readonly maxRetryDelay: Duration.Duration
}

export interface RetryOptions {
  /** Connecting and waiting for the answer's headers (a JSON answer: its whole body); 60 seconds by default. */
  readonly timeout?: Duration.DurationInput
  /** The longest silence between two chunks of a streamed answer; `timeout` by default. */
  readonly idleTimeout?: Duration.DurationInput
  /** 3 by default. */
  readonly maxAttempts?: number
  /** 500 ms by default. */
  readonly retryBaseDelay?: Duration.DurationInput
  /** 30 seconds by default. */
  readonly maxRetryDelay?: Duration.DurationInput
}

export const retryPolicy = (options: RetryOptions = {}): RetryPolicy => ({
  timeout: Duration.decode(options.timeout ?? Duration.seconds(60)),
  idleTimeout: Duration.decode(options.idleTimeout ?? options.timeout ?? Duration.seconds(60)),
  maxAttempts: Math.max(1, Math.floor(options.maxAttempts ?? 3)),
  retryBaseDelay: Duration.decode(options.retryBaseDelay ?? Duration.millis(500)),
  maxRetryDelay: Duration.decode(options.maxRetryDelay ?? Duration.seconds(30))
})

/** How to reach one model of a server; shared by every model kind of an adapter. */
export interface ConnectionOptions extends RetryOptions {
  /** The API base, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434`. */
  readonly apiBase: string
  /** Sent as `Authorization: Bearer <key>`; none (or an empty key) sends no header. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** The model name the server knows. */
  readonly model: string
  /** The service's `modelId` and the model named in errors; `model` by default. */
  readonly modelId?: string | undefined
  /**
   * May the connection reach loopback, private and link-local addresses? True by default (a host
   * that configures an adapter itself is the deployment); false for a tenant's provider unless the
   * deployment allows it (`connectionOf` sets it from the `ModelRequest`).
   */
  readonly allowPrivateAddresses?: boolean | undefined
}

/** What a chat model declares about itself, besides its connection. */
export interface ChatModelLimits {
  /** The model's context window in tokens (the service's `contextTokens`); `ChatModel.DefaultContextTokens` when absent. */
  readonly contextTokens?: number | undefined
  /** The longest answer to ask for (`max_tokens`) when a call's settings give none; none by default (the server's). */
  readonly maxOutputTokens?: number | undefined
}

/** The request field for the answer's length: the call's `max_tokens`, else the model's default, else none. */
export const maxTokensOf = <A>(
  settings: { readonly max_tokens?: number | undefined },
  maxOutputTokens: number | undefined,
  field: (value: number) => A
): A | {} => {
  const value = settings.max_tokens ?? maxOutputTokens
  return value === undefined ? {} : field(value)
}

/** The endpoint of a connection, its base URL checked. */
export const makeEndpoint = (options: ConnectionOptions, serverName: string): Effect.Effect<Endpoint, ModelError> => {
  const modelRef = options.modelId ?? options.model
  return Effect.map(normalizeBaseUrl(options.apiBase, modelRef), (baseUrl) => ({
    baseUrl,
    shownBase: shownUrl(baseUrl),
    apiKey: options.apiKey === undefined ? Option.none() : optionalKey(options.apiKey),
    modelRef,
    serverName,
    retry: retryPolicy(options),
    allowPrivateAddresses: options.allowPrivateAddresses ?? true,
    urlSecrets: urlSecrets(baseUrl)
  }))
}

/** A URL as messages show it: origin and path, without credentials, query or fragment. */
const shownUrl = (raw: string): string => {
  try {
    const url = new URL(raw)
    return `${url.origin}${url.pathname}`.replace(/\/+$/, "")
  } catch {
    return "(an invalid URL)"
  }
}

/** The secrets a URL may carry: its user name and password, its query's values (raw and decoded). */
const urlSecrets = (raw: string): ReadonlyArray<string> => {
  try {
    const url = new URL(raw)
    const values = [url.username, url.password, ...[...url.searchParams.values()], ...url.search.slice(1).split("&").map((kv) => kv.split("=")[1] ?? "")]
    const decoded = values.flatMap((v) => {
      try {
        return [v, decodeURIComponent(v)]
      } catch {
        return [v]
      }
    })
    // Longest first, so a secret that contains another is masked whole.
    return [...new Set(decoded)].filter((v) => v.length >= 3).sort((a, b) => b.length - a.length)
  } catch {
    return []
  }
}

/** Where a request of this endpoint goes, as messages show it. */
export const where = (endpoint: Endpoint, path: string): string => `${endpoint.shownBase}${path}`

// ---------------------------------------------------------------------------------------------
// Provider settings

/** Reads provider settings (`ModelRequest.provider.settings`), failing with `NotConfigured`. */
export const settingsReader = (settings: Readonly<Record<string, unknown>>, modelRef: string, model: string) => {
  const invalid = (key: string, expected: string) =>
    new ModelError({ reason: "NotConfigured", model: modelRef, message: `provider setting ${key} must be ${expected}` })
  const positiveInt = (key: string): Effect.Effect<Option.Option<number>, ModelError> => {
    const value = settings[key]
    if (value === undefined || value === null) return Effect.succeed(Option.none())
    return typeof value === "number" && Number.isInteger(value) && value > 0
      ? Effect.succeed(Option.some(value))
      : Effect.fail(invalid(key, "a positive integer"))
  }
  return {
    positiveInt,
    /** A positive integer, or an object of them by model name (the value for `model`). */
    perModelPositiveInt: (key: string): Effect.Effect<Option.Option<number>, ModelError> => {
      const value = settings[key]
      if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        const forModel = (value as Record<string, unknown>)[model]
        if (forModel === undefined) return Effect.succeed(Option.none())
        return typeof forModel === "number" && Number.isInteger(forModel) && forModel > 0
          ? Effect.succeed(Option.some(forModel))
          : Effect.fail(invalid(`${key}.${model}`, "a positive integer"))
      }
      return positiveInt(key)
    },
    boolean: (key: string): Effect.Effect<Option.Option<boolean>, ModelError> => {
      const value = settings[key]
      if (value === undefined || value === null) return Effect.succeed(Option.none())
      return typeof value === "boolean" ? Effect.succeed(Option.some(value)) : Effect.fail(invalid(key, "true or false"))
    }
  }
}

/** The retry options with the provider's `timeout_ms`, `idle_timeout_ms` and `max_attempts` settings applied. */
export const retryOptionsFromSettings = (
  base: RetryOptions,
  settings: Readonly<Record<string, unknown>>,
  modelRef: string,
  model: string
): Effect.Effect<RetryOptions, ModelError> => {
  const read = settingsReader(settings, modelRef, model)
  return Effect.map(
    Effect.all([read.positiveInt("timeout_ms"), read.positiveInt("idle_timeout_ms"), read.positiveInt("max_attempts")]),
    ([timeoutMs, idleMs, maxAttempts]) => ({
      ...base,
      ...Option.match(timeoutMs, { onNone: () => ({}), onSome: (ms) => ({ timeout: Duration.millis(ms) }) }),
      ...Option.match(idleMs, { onNone: () => ({}), onSome: (ms) => ({ idleTimeout: Duration.millis(ms) }) }),
      ...Option.match(maxAttempts, { onNone: () => ({}), onSome: (n) => ({ maxAttempts: n }) })
    })
  )
}

/** The connection of a resolved model, and a reader of its provider's settings. */
export const connectionOf = (request: ModelProvider.ModelRequest, base: RetryOptions, defaultApiBase?: string) =>
  Effect.gen(function*() {
    const modelId = `${request.model}@${request.provider.name}`
    const apiBase = request.provider.apiBase.trim() === "" ? defaultApiBase : request.provider.apiBase
    if (apiBase === undefined) {
      return yield* Effect.fail(
        new ModelError({ reason: "NotConfigured", model: modelId, message: `provider ${request.provider.name} has no api_base` })
      )
    }
    const retry = yield* retryOptionsFromSettings(base, request.provider.settings, modelId, request.model)
    const connection: ConnectionOptions = {
      ...retry,
      apiBase,
      apiKey: request.provider.apiKey,
      model: request.model,
      modelId,
      allowPrivateAddresses: ModelProvider.mayReachPrivateAddresses(request)
    }
    return { connection, settings: settingsReader(request.provider.settings, modelId, request.model) }
  })

/** The API base without trailing slashes, checked to be an http(s) URL. */
export const normalizeBaseUrl = (raw: string, modelRef: string): Effect.Effect<string, ModelError> => {
  const trimmed = raw.trim().replace(/\/+$/, "")
  let url: URL | undefined
  try {
    url = new URL(trimmed)
  } catch {
    url = undefined
  }
  return url !== undefined && (url.protocol === "http:" || url.protocol === "https:")
    ? Effect.succeed(trimmed)
    : Effect.fail(new ModelError({ reason: "NotConfigured", model: modelRef, message: "the provider's api_base is not an http(s) URL" }))
}

/** `Some(key)` unless the key is empty. */
export const optionalKey = (key: Redacted.Redacted<string>): Option.Option<Redacted.Redacted<string>> =>
  Redacted.value(key).trim() === "" ? Option.none() : Option.some(key)

// ---------------------------------------------------------------------------------------------
// Failures

/** A failed attempt: the error to report, and whether (and after how long) it may be retried. */
export interface AttemptFailure {
  readonly error: ModelError
  readonly retryable: boolean
  readonly retryAfter: Option.Option<Duration.Duration>
  /** The HTTP status, when the server answered. */
  readonly status?: number
}

/** The text with every URL's credentials, query and fragment cut, and the API key and the API base's secrets masked. */
const masked = (endpoint: Endpoint, text: string): string => {
  const key = Option.match(endpoint.apiKey, { onNone: () => "", onSome: Redacted.value })
  let out = text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi, "$1")
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^\s?#]*)[?#]\S*/gi, "$1")
  for (const secret of [key, ...endpoint.urlSecrets]) if (secret.length > 0) out = out.split(secret).join("***")
  return out
}

/** A failure of this endpoint. No cause is kept: a transport's error may quote the URL or the request. */
const fail = (endpoint: Endpoint, reason: ModelError["reason"], message: string): ModelError =>
  new ModelError({ reason, model: endpoint.modelRef, message: masked(endpoint, message) })

/** `Retry-After` in seconds or as an HTTP date. */
const retryAfter = (response: HttpClientResponse.HttpClientResponse): Option.Option<Duration.Duration> => {
  const header = response.headers["retry-after"]
  if (header === undefined || header.trim() === "") return Option.none()
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return Option.some(Duration.seconds(seconds))
  const date = Date.parse(header)
  return Number.isNaN(date) ? Option.none() : Option.some(Duration.millis(Math.max(0, date - Date.now())))
}

/** The failure of a non-2xx answer. Its body is never quoted: what the server said stays with it. */
const statusFailure = (endpoint: Endpoint, path: string, response: HttpClientResponse.HttpClientResponse): AttemptFailure => {
  const status = response.status
  const at = `${endpoint.serverName} at ${where(endpoint, path)}`
  const final = (reason: ModelError["reason"], message: string): AttemptFailure => ({
    error: fail(endpoint, reason, message),
    retryable: false,
    retryAfter: Option.none(),
    status
  })
  const retry = (reason: ModelError["reason"], message: string): AttemptFailure => ({
    error: fail(endpoint, reason, message),
    retryable: true,
    retryAfter: retryAfter(response),
    status
  })
  if (status === 401 || status === 403) {
    return final("NotConfigured", `${at} rejected the API key (HTTP ${status})`)
  }
  if (status === 404) return final("NotConfigured", `${at}: model ${endpoint.modelRef} not found (HTTP 404)`)
  if (status === 400 || status === 413 || status === 422) return final("InvalidInput", `${at} refused the input (HTTP ${status})`)
  if (status === 429) return retry("RateLimited", `${at} is rate limiting requests (HTTP 429)`)
  if (status === 408 || status >= 500) return retry("Unavailable", `${at} is unavailable (HTTP ${status})`)
  if (status >= 300 && status < 400) return final("BadResponse", `${at} answered with a redirect (HTTP ${status}), which is not followed`)
  return final("BadResponse", `${at} answered HTTP ${status}`)
}

const transportFailure = (endpoint: Endpoint, path: string, error: HttpClientError.HttpClientError): AttemptFailure => {
  const underlying = error.cause
  const why = underlying instanceof Error
    ? [underlying.message, underlying.cause instanceof Error ? underlying.cause.message : undefined].filter((m) => m !== undefined).join(": ")
    : error.reason
  return {
    // The transport's text is masked with the rest of the message (it may quote the URL).
    error: fail(endpoint, "Unavailable", `${endpoint.serverName} at ${where(endpoint, path)} is unreachable: ${why}`),
    retryable: true,
    retryAfter: Option.none()
  }
}

const timeoutFailure = (endpoint: Endpoint, path: string): AttemptFailure => ({
  error: fail(
    endpoint,
    "Unavailable",
    `${endpoint.serverName} at ${where(endpoint, path)} did not answer within ${Duration.format(endpoint.retry.timeout)}`
  ),
  retryable: true,
  retryAfter: Option.none()
})

/** A failure worth another attempt: retryable, and any `Retry-After` within `maxRetryDelay`. */
const mayRetry = (policy: RetryPolicy) => (failure: AttemptFailure): boolean =>
  failure.retryable &&
  Option.match(failure.retryAfter, { onNone: () => true, onSome: (wait) => Duration.lessThanOrEqualTo(wait, policy.maxRetryDelay) })

/**
 * When to send a failed request again (the schedule `Effect.retry` runs on the failures): at most
 * `maxAttempts - 1` more times, while `mayRetry`, after the server's `Retry-After` when it sent
 * one, else after the exponential backoff capped at `maxRetryDelay`.
 */
export const retrySchedule = (policy: RetryPolicy): Schedule.Schedule<unknown, AttemptFailure> =>
  Schedule.identity<AttemptFailure>().pipe(
    Schedule.intersect(Schedule.exponential(policy.retryBaseDelay)),
    Schedule.intersect(Schedule.recurs(policy.maxAttempts - 1)),
    Schedule.whileInput(mayRetry(policy)),
    Schedule.modifyDelay(([[failure]], backoff) =>
      Option.getOrElse(failure.retryAfter, () => Duration.min(backoff, policy.maxRetryDelay))
    ),
    Schedule.tapOutput(([, retries]) => Effect.annotateCurrentSpan({ retries: retries + 1 }))
  )

/** Runs `attempt`, again on the schedule while it fails with a retryable failure; the last failure's error. */
const withRetries = <A>(endpoint: Endpoint, attempt: Effect.Effect<A, AttemptFailure>): Effect.Effect<A, ModelError> =>
  attempt.pipe(
    Effect.retry(retrySchedule(endpoint.retry)),
    Effect.mapError((failure) => failure.error)
  )

// ---------------------------------------------------------------------------------------------
// Requests

const buildRequest = (endpoint: Endpoint, path: string, body: unknown, accept: string) => {
  const request = HttpClientRequest.post(`${endpoint.baseUrl}${path}`).pipe(
    HttpClientRequest.setHeader("accept", accept),
    HttpClientRequest.bodyUnsafeJson(body)
  )
  return Option.match(endpoint.apiKey, {
    onNone: () => request,
    onSome: (key) => HttpClientRequest.bearerToken(request, key)
  })
}

/** The addresses a name resolves to (all of them, as the system resolver gives them). */
const resolve = (host: string): Effect.Effect<ReadonlyArray<string>, NodeJS.ErrnoException> =>
  Effect.async((resume) => {
    lookup(host, { all: true, verbatim: true }, (error, addresses) => {
      resume(error === null ? Effect.succeed(addresses.map((a) => a.address)) : Effect.fail(error))
    })
  })

/**
 * For an endpoint that may not reach private addresses: fails unless its host is, or resolves
 * only to, public addresses. A name that does not resolve is `Unavailable` (retried).
 */
const checkDestination = (endpoint: Endpoint, path: string): Effect.Effect<void, AttemptFailure> => {
  if (endpoint.allowPrivateAddresses) return Effect.void
  const refused: AttemptFailure = {
    error: fail(
      endpoint,
      "NotConfigured",
      `${endpoint.serverName} at ${where(endpoint, path)} is at a loopback, private or link-local address, which this deployment does not allow for a tenant's provider`
    ),
    retryable: false,
    retryAfter: Option.none()
  }
  const host = new URL(endpoint.baseUrl).hostname
  const kind = ModelProvider.hostKind(host)
  if (kind === "private") return Effect.fail(refused)
  if (kind === "public") return Effect.void
  return resolve(host).pipe(
    Effect.mapError((error): AttemptFailure => ({
      error: fail(endpoint, "Unavailable", `${endpoint.serverName} at ${where(endpoint, path)} is unreachable: its host does not resolve (${error.code ?? "lookup failed"})`),
      retryable: true,
      retryAfter: Option.none()
    })),
    Effect.flatMap((addresses) =>
      addresses.length > 0 && addresses.every((a) => ModelProvider.hostKind(a) === "public") ? Effect.void : Effect.fail(refused)
    )
  )
}

/** Runs the request without following redirects when the endpoint may not reach private addresses (a redirect could lead there). */
const withoutRedirects = <A, E, R>(endpoint: Endpoint, send: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  endpoint.allowPrivateAddresses
    ? send
    : Effect.flatMap(Effect.serviceOption(FetchHttpClient.RequestInit), (init) =>
        Effect.provideService(send, FetchHttpClient.RequestInit, { ...Option.getOrElse(init, () => ({})), redirect: "manual" }))

/** Sends the request once: the response when its status is 2xx, else the mapped failure (body read). */
const sendOnce = (client: HttpClient.HttpClient, endpoint: Endpoint, path: string, body: unknown, accept: string) =>
  checkDestination(endpoint, path).pipe(
    Effect.zipRight(
      withoutRedirects(endpoint, client.execute(buildRequest(endpoint, path, body, accept))).pipe(
        Effect.mapError((error) => transportFailure(endpoint, path, error))
      )
    ),
    Effect.flatMap((response) =>
      response.status >= 200 && response.status < 300
        ? Effect.succeed(response)
        : response.text.pipe(
            // Read to free the connection, and dropped.
            Effect.orElseSucceed(() => ""),
            Effect.flatMap(() => Effect.fail(statusFailure(endpoint, path, response)))
          )
    )
  )

export interface PostOptions<B> {
  /** Answers a 404 instead of failing (e.g. a fallback to an older endpoint). */
  readonly onNotFound?: () => Effect.Effect<B, ModelError>
}

/**
 * POSTs `body` as JSON and decodes the JSON answer with `schema`. The timeout covers the whole
 * answer; retries as described above. A body that is not JSON, or not of the schema, is `BadResponse`.
 */
export const postJson = <A, I, B = never>(
  client: HttpClient.HttpClient,
  endpoint: Endpoint,
  path: string,
  body: unknown,
  schema: Schema.Schema<A, I>,
  options: PostOptions<B> = {}
): Effect.Effect<A | B, ModelError> => {
  const notFound = Symbol("notFound")
  const attempt = sendOnce(client, endpoint, path, body, "application/json").pipe(
    Effect.flatMap((response) =>
      Effect.mapError(response.text, (error) => transportFailure(endpoint, path, error))
    ),
    Effect.timeoutFail({ duration: endpoint.retry.timeout, onTimeout: () => timeoutFailure(endpoint, path) })
  )
  const withFallback: Effect.Effect<string | typeof notFound, AttemptFailure> = options.onNotFound === undefined
    ? attempt
    : Effect.catchIf(
        attempt,
        (failure) => failure.status === 404,
        () => Effect.succeed(notFound)
      )
  return withRetries(endpoint, withFallback).pipe(
    Effect.flatMap((text): Effect.Effect<A | B, ModelError> =>
      text === notFound ? options.onNotFound!() : decodeJson(endpoint, path, text, schema)
    ),
    Effect.withSpan("ModelHttp.post", { attributes: { url: where(endpoint, path), model: endpoint.modelRef } })
  )
}

const decodeJson = <A, I>(endpoint: Endpoint, path: string, text: string, schema: Schema.Schema<A, I>) => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Effect.fail(fail(endpoint, "BadResponse", `${endpoint.serverName} at ${where(endpoint, path)} answered with malformed JSON (${text.length} characters, not shown)`))
  }
  return decodeValue(endpoint, where(endpoint, path), json, schema)
}

/**
 * Decodes an answer (or a streamed event) with `schema`; a mismatch is `BadResponse`, naming where
 * in the answer it is and what was expected, never the value found.
 */
export const decodeValue = <A, I>(endpoint: Endpoint, at: string, value: unknown, schema: Schema.Schema<A, I>) =>
  Either.match(Schema.decodeUnknownEither(schema)(value, { onExcessProperty: "ignore" }), {
    onLeft: (error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      const path = issue === undefined || issue.path.length === 0 ? "the top level" : issue.path.map(String).join(".")
      return Effect.fail(fail(endpoint, "BadResponse", `${endpoint.serverName} at ${at} answered in an unexpected shape (at ${path})`))
    },
    onRight: (a) => Effect.succeed(a)
  })

/**
 * POSTs `body` as JSON and streams the answer's body as text lines. Retries apply until the
 * server answers 2xx (nothing has been streamed yet); after that a cut connection, or no chunk
 * within the timeout, fails the stream with `Unavailable`. Ending the stream early aborts the request.
 */
export const postLines = (
  client: HttpClient.HttpClient,
  endpoint: Endpoint,
  path: string,
  body: unknown,
  accept: string
): Stream.Stream<string, ModelError> => {
  const at = where(endpoint, path)
  const respond = sendOnce(client, endpoint, path, body, accept).pipe(
    Effect.timeoutFail({ duration: endpoint.retry.timeout, onTimeout: () => timeoutFailure(endpoint, path) })
  )
  return Stream.unwrap(
    Effect.map(withRetries(endpoint, respond), (response) =>
      response.stream.pipe(
        Stream.mapError((error) =>
          fail(endpoint, "Unavailable", `${endpoint.serverName} at ${at} cut the stream: ${error.cause instanceof Error ? error.cause.message : error.reason}`)
        ),
        Stream.timeoutFail(
          () => fail(endpoint, "Unavailable", `${endpoint.serverName} at ${at} sent nothing for ${Duration.format(endpoint.retry.idleTimeout)}`),
          endpoint.retry.idleTimeout
        ),
        Stream.decodeText(),
        Stream.splitLines
      ))
  )
}

/** A parsed JSON value, or `BadResponse`. */
export const parseJsonLine = (endpoint: Endpoint, at: string, line: string): Effect.Effect<unknown, ModelError> =>
  Effect.try({
    try: (): unknown => JSON.parse(line),
    catch: () => fail(endpoint, "BadResponse", `${endpoint.serverName} at ${at} streamed malformed JSON (${line.length} characters, not shown)`)
  })

/** The text embedded once to learn the dimension. */
export const probeText = "ragkit dimension probe"

/** Learns the dimension from one probe request. */
export const probeDimensions = (
  embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, ModelError>,
  endpoint: Endpoint
): Effect.Effect<number, ModelError> =>
  Effect.flatMap(embed([probeText]), ([vector]) =>
    vector !== undefined && vector.length > 0
      ? Effect.succeed(vector.length)
      : Effect.fail(badResponse(endpoint, `${endpoint.serverName} returned an empty vector for the dimension probe`)))

/** An `Unavailable` for this endpoint. */
export const unavailable = (endpoint: Endpoint, message: string): ModelError => fail(endpoint, "Unavailable", message)

/** A `BadResponse` for this endpoint. */
export const badResponse = (endpoint: Endpoint, message: string): ModelError => fail(endpoint, "BadResponse", message)

/**
 * Server-sent events from text lines: the `data` of each event (its `data:` lines joined with
 * newlines), dispatched at each blank line and at the end. Comments and other fields are skipped.
 */
export const sseData = <E>(lines: Stream.Stream<string, E>): Stream.Stream<string, E> =>
  Stream.suspend(() => {
    let data: Array<string> = []
    const dispatch = (): Array<string> => {
      if (data.length === 0) return []
      const event = data.join("\n")
      data = []
      return [event]
    }
    return lines.pipe(
      Stream.mapConcat((line) => {
        if (line === "") return dispatch()
        if (line.startsWith("data:")) {
          const value = line.slice(5)
          data.push(value.startsWith(" ") ? value.slice(1) : value)
        }
        return []
      }),
      Stream.concat(Stream.suspend(() => Stream.fromIterable(dispatch())))
    )
  })
