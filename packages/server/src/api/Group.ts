/**
 * What every group of the seed API shares: its errors, and the helpers its handlers use to turn a
 * seed request into a core request.
 */
import { HttpApiGroup } from "@effect/platform"
import { decodeRequest } from "@ragkit/core"
import { Effect, Schema } from "effect"
import { CurrentCaller } from "./Auth.js"
import * as Errors from "./Errors.js"

/** A group of the seed API with its error responses declared. */
export const make = <const Name extends string>(name: Name) =>
  HttpApiGroup.make(name)
    .addError(Errors.BadRequest)
    .addError(Errors.Unauthorized)
    .addError(Errors.Forbidden)
    .addError(Errors.NotFound)
    .addError(Errors.Internal)

/**
 * A core request from what the client sent (mapped to core's names; undefined values are absent
 * fields): decoded by core's Schema, so its refinements apply and a bad field is a 400 naming it.
 */
export const decode = <A, I>(schema: Schema.Schema<A, I, never>, input: Record<string, unknown>): Effect.Effect<A, Errors.ApiError> =>
  Errors.respond(decodeRequest(schema)(defined(input)))

/** The caller of the request. */
export const caller = Effect.map(CurrentCaller, (c) => c.caller)

/** An object without its undefined values (an absent field stays absent in the core request). */
export const defined = <T extends Record<string, unknown>>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as never

/** A query string's boolean (`true`/`false`/`1`/`0`), or the text as sent (core then names the field). */
export const queryBoolean = (text: string | undefined): unknown =>
  text === undefined ? undefined : ["true", "1"].includes(text.toLowerCase()) ? true : ["false", "0"].includes(text.toLowerCase()) ? false : text

/** A query string's number, or the text as sent (core then names the field). */
export const queryNumber = (text: string | undefined): unknown =>
  text === undefined ? undefined : text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text

/**
 * Payload fields that core checks: each optional and of any type on the wire, so that core's
 * Schema (through `decode`) names a bad one.
 */
export const loose = <const K extends string>(...keys: ReadonlyArray<K>): { readonly [P in K]: Schema.optional<typeof Schema.Unknown> } =>
  Object.fromEntries(keys.map((k) => [k, Schema.optional(Schema.Unknown)])) as never
