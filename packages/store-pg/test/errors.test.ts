import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "vitest"
import { toStoreError } from "../src/internal/errors.js"

const failed = (code: string, message: string) =>
  new SqlError({ message: "Failed to execute statement", cause: Object.assign(new Error(message), { code }) })

describe("toStoreError", () => {
  it("a canceled statement may be tried again; a unique violation is a conflict; a syntax error is not retried", () => {
    // @effect/sql-pg cancels an interrupted query with pg_cancel_backend, which can reach the next
    // statement of that connection: the worker retries what it was doing instead of failing a document.
    expect(toStoreError("kb")(failed("57014", "canceling statement due to user request")).reason).toBe("Unavailable")
    expect(toStoreError("kb")(failed("23505", "duplicate key")).reason).toBe("Conflict")
    expect(toStoreError("kb")(failed("42601", "syntax error")).reason).toBe("Unknown")
  })
})
