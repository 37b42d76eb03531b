/**
 * LanceDB filter expressions (DataFusion SQL). String literals are the only way values enter a
 * filter: a quote is doubled, and nothing else is special (LanceDB does not treat a backslash as an
 * escape character).
 */
import type { ChunkIndex } from "@ragkit/core"

export const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`

export const inList = (column: string, values: ReadonlyArray<string>): string =>
  `${column} IN (${values.map(literal).join(", ")})`

export const and = (...conditions: ReadonlyArray<string | undefined>): string => {
  const present = conditions.filter((c): c is string => c !== undefined && c !== "")
  return present.length === 0 ? "true" : present.map((c) => `(${c})`).join(" AND ")
}

/** Operators that hold for no chunk lacking the key: a chunk they match has `"key":` in its JSON. */
const needsKey: ReadonlySet<ChunkIndex.MetadataOperator> = new Set<ChunkIndex.MetadataOperator>([
  "eq",
  "gt",
  "gte",
  "lt",
  "lte",
  "in",
  "contains",
  "starts_with",
  "ends_with",
  "not_empty"
])

/**
 * A necessary condition for the metadata conditions, for LanceDB to evaluate before the exact check
 * in process (`ChunkIndexScoring.matchesFilter`): with `and`, every positive condition needs its key in
 * the metadata JSON; with `or`, one of them does (only when all conditions are positive).
 * `undefined` when nothing can be pushed down.
 */
export const metadataPrefilter = (filter: ChunkIndex.ResolvedFilter): string | undefined => {
  const conditions = filter.metadata ?? []
  if (conditions.length === 0) return undefined
  const keyPresent = (key: string) => `strpos(metadata, ${literal(`${JSON.stringify(key)}:`)}) > 0`
  if (filter.metadataLogic === "or") {
    if (!conditions.every((c) => needsKey.has(c.op))) return undefined
    return [...new Set(conditions.map((c) => c.key))].map(keyPresent).join(" OR ")
  }
  const keys = [...new Set(conditions.filter((c) => needsKey.has(c.op)).map((c) => c.key))]
  return keys.length === 0 ? undefined : and(...keys.map(keyPresent))
}

/** The part of a search filter LanceDB evaluates: availability, documents and the metadata prefilter. */
export const searchWhere = (filter: ChunkIndex.ResolvedFilter): string =>
  and(
    `available = ${filter.available ? "true" : "false"}`,
    filter.docIds === undefined ? undefined : inList("doc_id", filter.docIds),
    metadataPrefilter(filter)
  )
