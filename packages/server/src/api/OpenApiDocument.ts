/**
 * What the OpenAPI document of an `HttpApi` says about itself, and the one repair it needs to be
 * valid OpenAPI 3.1: Effect's JSON Schema names `Schema.Unknown`, `Schema.Any`, `Schema.Object` and
 * `{}` with a fixed `$id` (`/schemas/unknown`, ...) at every use, and a document may not define one
 * `$id` twice. Those keywords say nothing about the value, so they are dropped.
 */
import { OpenApi } from "@effect/platform"

/** The `$id`s Effect gives its schemas for "any value"; they are not references to anything. */
const isEffectSchemaId = (key: string, value: unknown): boolean => key === "$id" && typeof value === "string" && value.startsWith("/schemas/")

const withoutEffectSchemaIds = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(withoutEffectSchemaIds)
  if (value === null || typeof value !== "object") return value
  return Object.fromEntries(Object.entries(value).flatMap(([key, inner]) => (isEffectSchemaId(key, inner) ? [] : [[key, withoutEffectSchemaIds(inner)]])))
}

/** The annotations of a served API: its title and version in `info`, and the repair above. */
export const annotations = (options: { readonly title: string; readonly version: string; readonly description?: string }) =>
  OpenApi.annotations({
    title: options.title,
    version: options.version,
    ...(options.description === undefined ? {} : { description: options.description }),
    transform: (spec) => withoutEffectSchemaIds(spec) as Record<string, any>
  })
