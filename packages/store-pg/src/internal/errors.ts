/**
 * Maps `@effect/sql` failures onto the port's `StoreError`: a unique violation is a `Conflict`,
 * anything that says the database cannot be reached (or asks for a retry) is `Unavailable`.
 */
import { SqlError } from "@effect/sql/SqlError"
import { StoreError } from "@ragkit/core"

/** SQLSTATEs and Node socket errors a host may retry after. */
const retryable = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "53300", // too_many_connections
  "57014", // query_canceled: a statement timeout, or a cancel meant for another statement of a pooled connection
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "EAI_AGAIN"
])

interface PgErrorLike {
  readonly code?: unknown
  readonly message?: unknown
  readonly detail?: unknown
}

const causeOf = (error: SqlError): PgErrorLike =>
  typeof error.cause === "object" && error.cause !== null ? (error.cause as PgErrorLike) : {}

/** The SQLSTATE (or Node error code) behind an `SqlError`, if any. */
export const sqlState = (error: SqlError): string | undefined => {
  const code = causeOf(error).code
  return typeof code === "string" ? code : undefined
}

export const isUniqueViolation = (error: SqlError): boolean => sqlState(error) === "23505"

export const toStoreError =
  (what: string) =>
  (error: SqlError): StoreError => {
    const cause = causeOf(error)
    const code = sqlState(error)
    const detail = typeof cause.detail === "string" ? ` (${cause.detail})` : ""
    const text = `${what}: ${typeof cause.message === "string" ? cause.message : error.message}${detail}`
    if (code === "23505") return new StoreError({ reason: "Conflict", message: text, cause: error })
    const unavailable =
      (code !== undefined && (code.startsWith("08") || retryable.has(code))) ||
      // @effect/sql-pg's own messages when no connection could be had or it broke
      error.message !== "Failed to execute statement" ||
      (typeof cause.message === "string" && /connection (terminated|error)|timeout/i.test(cause.message))
    return new StoreError({ reason: unavailable ? "Unavailable" : "Unknown", message: text, cause: error })
  }

/** Maps only the `SqlError`s of an effect's error channel, leaving its other errors alone. */
export const mapSqlError =
  (what: string) =>
  <E>(error: E): Exclude<E, SqlError> | StoreError =>
    error instanceof SqlError ? toStoreError(what)(error) : (error as Exclude<E, SqlError>)

/** A failure to connect (or open PGlite) as a `StoreError`, `Unavailable` unless it says otherwise. */
export const unavailable = (error: SqlError): StoreError => {
  const mapped = toStoreError("connect")(error)
  return mapped.reason === "Unknown" ? new StoreError({ ...mapped, reason: "Unavailable" }) : mapped
}
