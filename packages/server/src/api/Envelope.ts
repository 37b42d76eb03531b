/**
 * RAGFlow's response body, `{ code, message, data }`: `code` 0 with `message` "success" when the
 * call succeeded, one of `Codes` otherwise (the errors are in `Errors.ts`).
 */
import { Schema } from "effect"

/** RAGFlow's return codes (`api/settings.py` `RetCode`) that the seed API uses. */
export const Codes = {
  success: 0,
  exception: 100,
  argument: 101,
  data: 102,
  authentication: 109,
  unauthorized: 401
} as const

/** A successful response carrying `data`. */
export const Ok = <S extends Schema.Schema.Any>(data: S) =>
  Schema.Struct({ code: Schema.Literal(0), message: Schema.String, data })

/** The successful body around a value. */
export const ok = <A>(data: A): { readonly code: 0; readonly message: string; readonly data: A } => ({
  code: 0,
  message: "success",
  data
})
