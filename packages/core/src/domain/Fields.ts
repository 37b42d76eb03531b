/**
 * The field schemas service requests are made of, and `decodeRequest`, which turns what a caller
 * sent into a request or an `InvalidInput` naming the field.
 *
 * Requests are decoded once, at the edge: the HTTP surfaces decode bodies and queries with these
 * schemas (so OpenAPI shows the limits the core enforces) and the Promise client decodes its
 * arguments; services take decoded values and trust them.
 *
 * Messages are predicates that read after the field's name ("can't be empty" gives "name can't be
 * empty"): `decodeRequest` puts the name, with its path (`messages[1].role`), in front.
 */
import { Effect, ParseResult, Schema } from "effect"
import { InvalidInput } from "./Errors.js"

/** The message of a refinement: shown when this check fails (an inner check keeps its own). */
const message = (text: string) => () => text

/** The message of a type: shown for any failure inside it (a union's members stay silent). */
const typeMessage = (text: string) => () => ({ message: text, override: true })

const characters = (s: string) => {
  let n = 0
  for (const _ of s) n++
  return n
}

/**
 * At most `max` characters; shown in JSON Schema as `maxLength` (which counts the same for most
 * text). No U+0000 either: it is never text, and Postgres (`text`, `jsonb`) cannot store it.
 */
const atMost =
  (max: number) =>
  <S extends Schema.Schema<string, any, never>>(self: S) =>
    self.pipe(
      Schema.filter((s: string) => characters(s) <= max, {
        message: message(`is longer than ${max} characters`),
        jsonSchema: { maxLength: max }
      }),
      Schema.filter((s: string) => !s.includes("\u0000"), {
        message: message("must not contain the NUL character (U+0000)")
      })
    )

export const String = Schema.String.annotations({ message: typeMessage("must be a string") })
export const Number = Schema.Number.annotations({ message: typeMessage("must be a number") })
export const Boolean = Schema.Boolean.annotations({ message: typeMessage("must be a boolean") })

/** A string of at most `max` characters (code points), kept as given; empty allowed. */
export const Text = (max: number) =>
  String.pipe(atMost(max))

/** A name: trimmed, 1..`max` characters. */
export const Name = (max: number) =>
  Schema.compose(
    Schema.Trim.annotations({ message: typeMessage("must be a string") }),
    Schema.String.pipe(Schema.minLength(1, { message: message("can't be empty") }), atMost(max))
  ).annotations({
    description: `trimmed; 1 to ${max} characters`,
    jsonSchema: { type: "string", minLength: 1, maxLength: max }
  })

/** A string trimmed of surrounding spaces (empty allowed), at most `max` characters. */
export const Trimmed = (max: number) =>
  Schema.compose(Schema.Trim.annotations({ message: typeMessage("must be a string") }), Schema.String.pipe(atMost(max))).annotations({
    description: `trimmed; at most ${max} characters`,
    jsonSchema: { type: "string", maxLength: max }
  })

const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/

/** An e-mail address, trimmed and lower-cased: `local@domain.tld`, at most 254 characters. */
export const Email = Schema.compose(
  Schema.compose(Schema.Trim.annotations({ message: typeMessage("must be a string") }), Schema.Lowercase),
  Schema.String.pipe(
    Schema.filter((s) => s.length <= 254 && EMAIL.test(s), { message: message("is not a valid e-mail address") })
  )
).annotations({ description: "an e-mail address, trimmed and lower-cased", jsonSchema: { type: "string", format: "email", maxLength: 254 } })

/** A number within [min, max]. */
export const NumberIn = (min: number, max: number) =>
  Number.pipe(
    Schema.filter((n) => globalThis.Number.isFinite(n) && n >= min && n <= max, {
      message: message(`must be a number between ${min} and ${max}`),
      jsonSchema: { minimum: min, maximum: max }
    })
  )

/** An integer within [min, max]. */
export const IntIn = (min: number, max: number) =>
  Number.pipe(
    Schema.filter((n) => globalThis.Number.isInteger(n) && n >= min && n <= max, {
      message: message(
        max === globalThis.Number.MAX_SAFE_INTEGER ? `must be an integer of at least ${min}` : `must be an integer between ${min} and ${max}`
      ),
      jsonSchema: max === globalThis.Number.MAX_SAFE_INTEGER ? { type: "integer", minimum: min } : { type: "integer", minimum: min, maximum: max }
    })
  )

/** A similarity or a weight: a number in [0, 1]. */
export const UnitInterval = NumberIn(0, 1)

/** One of the given strings. */
export const OneOf = <const L extends ReadonlyArray<string>>(...values: L) =>
  Schema.Literal(...values).annotations({ message: typeMessage(`must be one of ${values.join(", ")}`) })

/** A plain JSON object (not an array, not null); keys and values kept as given. */
export const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
  message: message("must be an object")
})

/** A JSON object whose known keys are checked by `fields`; its other keys are kept as given. */
export const JsonObjectWith = <F extends Schema.Struct.Fields>(fields: F) =>
  Schema.Struct(fields, Schema.Record({ key: Schema.String, value: Schema.Unknown })).annotations({
    message: message("must be an object")
  })

/** A list of items. */
export const List = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Array(item).annotations({ message: message("must be a list") })

/** A list of ids, duplicates dropped, first occurrences in order. */
export const IdList = <A extends string, I, R>(id: Schema.Schema<A, I, R>) =>
  Schema.transform(List(id), Schema.Array(Schema.typeSchema(id)), {
    strict: true,
    decode: (ids) => [...new Set(ids)],
    encode: (ids) => ids
  })

/** Paging, 1-based, as RAGFlow's lists: `page` default 1, `page_size` default 30, at most `maxPageSize`. */
export const paging = (maxPageSize = 1000) => ({
  page: Schema.optionalWith(IntIn(1, globalThis.Number.MAX_SAFE_INTEGER), { default: () => 1 }),
  page_size: Schema.optionalWith(IntIn(1, maxPageSize), { default: () => 30 })
})

/** Ordering of a list: one of the fields (the first is the default), newest first unless `desc: false`. */
export const ordering = <const L extends ReadonlyArray<string>>(...fields: L) => ({
  orderby: Schema.optionalWith(OneOf(...fields), { default: () => fields[0] as L[number] }),
  desc: Schema.optionalWith(Boolean, { default: () => true })
})

/** The rows of one page and how many there are over all pages. */
export const Page = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({ items: Schema.Array(item), total: Schema.Number })

/** A count of records a call changed or removed. */
export const Count = Schema.Int.pipe(Schema.nonNegative())

const fieldOf = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (out, key) => (typeof key === "number" ? `${out}[${key}]` : out === "" ? globalThis.String(key) : `${out}.${globalThis.String(key)}`),
    ""
  )

/** The first issue of a decoding failure as an `InvalidInput`: the field's path and a sentence. */
export const invalidInputOf = (error: ParseResult.ParseError): InvalidInput =>
  invalidInputOfIssue(ParseResult.ArrayFormatter.formatErrorSync(error)[0])

/**
 * One issue of a decoding failure (as `ParseResult.ArrayFormatter` gives them) as an
 * `InvalidInput`, for hosts that decode with their own schemas (the HTTP surfaces).
 */
export const invalidInputOfIssue = (issue: ParseResult.ArrayFormatterIssue | undefined): InvalidInput => {
  const field = issue === undefined || issue.path.length === 0 ? "request" : fieldOf(issue.path)
  const text = issue?.message ?? "is not valid"
  if (field === "request" && issue?._tag === "Type") return new InvalidInput({ field, message: "request must be an object" })
  // Our schemas say predicates ("can't be empty"); Effect's own messages are sentences ("Expected ...").
  const sentence = /^[a-z]/.test(text) ? `${field} ${text}` : `${field}: ${text}`
  return new InvalidInput({ field, message: issue?._tag === "Missing" ? `${field} is required` : sentence })
}

/**
 * Decodes a request: the value, or `InvalidInput` naming the first bad field. Unknown keys are
 * ignored, as RAGFlow ignores them.
 */
export const decodeRequest =
  <A, I>(schema: Schema.Schema<A, I, never>) =>
  (input: unknown): Effect.Effect<A, InvalidInput> =>
    Effect.mapError(Schema.decodeUnknown(schema, { errors: "first", onExcessProperty: "ignore" })(input), invalidInputOf)

/**
 * A service operation as the surfaces see it: the request it takes, the result it gives, and
 * whether it acts for a caller (most do; signing up and logging in do not).
 */
export interface Operation<
  Req extends Schema.Schema.AnyNoContext,
  Res extends Schema.Schema.AnyNoContext,
  WithCaller extends boolean = true
> {
  readonly request: Req
  readonly success: Res
  readonly caller: WithCaller
}

/** An operation on behalf of a caller. */
export const operation = <Req extends Schema.Schema.AnyNoContext, Res extends Schema.Schema.AnyNoContext>(
  request: Req,
  success: Res
): Operation<Req, Res, true> => ({ request, success, caller: true })

/** An operation without a caller (sign-up, login, authentication). */
export const anonymous = <Req extends Schema.Schema.AnyNoContext, Res extends Schema.Schema.AnyNoContext>(
  request: Req,
  success: Res
): Operation<Req, Res, false> => ({ request, success, caller: false })
