import { describe, expect, it } from "vitest"
import { minimumPgvector, pgvectorTooOld } from "../src/internal/chunkIndexSchema.js"

describe("the pgvector version check", () => {
  it("accepts 0.8.0 and later, refuses earlier, and leaves versions it cannot read alone", () => {
    expect(minimumPgvector).toBe("0.8.0")
    for (const ok of ["0.8.0", "0.8.6", "0.8.7", "0.9.0", "1.0", "0.10.1", "unknown", ""]) {
      expect(pgvectorTooOld(ok), ok).toBeUndefined()
    }
    for (const old of ["0.7.4", "0.5.1", "0.7", "0.0.9"]) {
      expect(pgvectorTooOld(old), old).toContain(`pgvector ${old} in this database is older than 0.8.0`)
    }
  })
})
