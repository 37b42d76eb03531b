import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { lazyModule } from "../src/internal/lazy.js"

// The parser libraries load through `lazyModule`; a package name that is not installed plays a
// host without unstructured-client or the OCR packages.
const absent = "@ragkit/not-installed-ocr"

describe("a missing optional peer of a parser", () => {
  it.effect("fails with ParseError Unsupported naming the packages to install", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        lazyModule(absent, () => import(absent), { with: ["@ragkit/not-installed-models"], neededFor: "OCR" })
      )
      expect(error._tag).toBe("ParseError")
      expect(error.reason).toBe("Unsupported")
      expect(error.message).toBe(
        `${absent} is not installed (needed for OCR); it is an optional peer dependency: npm install ${absent} @ragkit/not-installed-models`
      )
    }))

  it.effect("an installed library that fails to load is Unknown, with its reason", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(lazyModule("exceljs", () => Promise.reject(new Error("bad install"))))
      expect(error.reason).toBe("Unknown")
      expect(error.message).toBe("exceljs cannot be loaded: bad install")
    }))
})
