/**
 * Input checks shared by the services. Each returns the cleaned value or an `InvalidInput`.
 */
import { Effect } from "effect"
import { InvalidInput, invalid } from "../../domain/Errors.js"
import { isHex32 } from "../../domain/Ids.js"

/** A trimmed name of 1..max characters. */
export const name = (field: string, value: unknown, max = 128): Effect.Effect<string, InvalidInput> => {
  if (typeof value !== "string") return Effect.fail(invalid(field, `${field} must be a string`))
  const trimmed = value.trim()
  if (trimmed.length === 0) return Effect.fail(invalid(field, `${field} can't be empty`))
  if ([...trimmed].length > max) {
    return Effect.fail(invalid(field, `${field} is longer than ${max} characters`))
  }
  return Effect.succeed(trimmed)
}

/** Any string of at most `max` characters, kept as given (empty allowed). */
export const text = (field: string, value: unknown, max: number): Effect.Effect<string, InvalidInput> => {
  if (typeof value !== "string") return Effect.fail(invalid(field, `${field} must be a string`))
  if ([...value].length > max) return Effect.fail(invalid(field, `${field} is longer than ${max} characters`))
  return Effect.succeed(value)
}

const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/

/** An e-mail address, trimmed and lower-cased: `local@domain.tld`, at most 254 characters. */
export const email = (field: string, value: unknown): Effect.Effect<string, InvalidInput> => {
  if (typeof value !== "string") return Effect.fail(invalid(field, `${field} must be a string`))
  const cleaned = value.trim().toLowerCase()
  if (cleaned.length > 254 || !EMAIL.test(cleaned)) {
    return Effect.fail(invalid(field, `${field} is not a valid e-mail address`))
  }
  return Effect.succeed(cleaned)
}

/** A record id: 32 hex characters. */
export const id = <A extends string>(field: string, value: unknown): Effect.Effect<A, InvalidInput> =>
  isHex32(value) ? Effect.succeed(value as A) : Effect.fail(invalid(field, `${field} is not a valid id: ${String(value)}`))

/** A list of record ids, deduplicated, in order. */
export const ids = <A extends string>(field: string, values: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<A>, InvalidInput> =>
  Effect.map(Effect.forEach(values, (v) => id<A>(field, v)), (all) => [...new Set(all)])

/** One of the allowed literals. */
export const oneOf = <const L extends string>(field: string, value: unknown, allowed: ReadonlyArray<L>): Effect.Effect<L, InvalidInput> =>
  typeof value === "string" && (allowed as ReadonlyArray<string>).includes(value)
    ? Effect.succeed(value as L)
    : Effect.fail(invalid(field, `${field} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`))

/** A number within [min, max]. */
export const numberIn = (field: string, value: unknown, min: number, max: number): Effect.Effect<number, InvalidInput> =>
  typeof value === "number" && Number.isFinite(value) && value >= min && value <= max
    ? Effect.succeed(value)
    : Effect.fail(invalid(field, `${field} must be a number between ${min} and ${max}`))

/** An integer within [min, max]. */
export const intIn = (field: string, value: unknown, min: number, max: number): Effect.Effect<number, InvalidInput> =>
  Number.isInteger(value) && (value as number) >= min && (value as number) <= max
    ? Effect.succeed(value as number)
    : Effect.fail(invalid(field, `${field} must be an integer between ${min} and ${max}`))

/** A plain JSON object. */
export const object = (field: string, value: unknown): Effect.Effect<Record<string, unknown>, InvalidInput> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? Effect.succeed(value as Record<string, unknown>)
    : Effect.fail(invalid(field, `${field} must be an object`))

/** Paging: page from 1, page_size from 1 to 1000 (defaults 1 and 30, as RAGFlow). */
export interface Paging {
  readonly page?: number | undefined
  readonly page_size?: number | undefined
}

export const paging = (p: Paging): Effect.Effect<{ offset: number; limit: number }, InvalidInput> =>
  Effect.gen(function* () {
    const page = yield* intIn("page", p.page ?? 1, 1, Number.MAX_SAFE_INTEGER)
    const size = yield* intIn("page_size", p.page_size ?? 30, 1, 1000)
    return { offset: (page - 1) * size, limit: size }
  })

export type { InvalidInput }
