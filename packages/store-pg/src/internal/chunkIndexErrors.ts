/** Maps `@effect/sql` failures onto the port's `ChunkIndexError` (retryable ones are `Unavailable`). */
import type { SqlError } from "@effect/sql/SqlError"
import { ChunkIndexError } from "@ragkit/core"
import { toStoreError } from "./errors.js"

export const toChunkIndexError = (what: string) => (error: SqlError): ChunkIndexError => {
  const mapped = toStoreError(what)(error)
  return new ChunkIndexError({
    reason: mapped.reason === "Unavailable" ? "Unavailable" : "Unknown",
    message: mapped.message,
    cause: error
  })
}
