import { describe, expect, it } from "@effect/vitest"
import { OptionalPeer } from "@ragkit/core"
import { Effect } from "effect"
import { asModelError } from "../src/internal/optionalPeer.js"

// The plugins import their optional peers through `OptionalPeer.load` and report failures with
// `asModelError`; a package name that is not installed plays a host without onnxruntime-node.
const absent = "@ragkit/not-installed-runtime"

describe("a missing optional peer of a model plugin", () => {
  it.effect("fails with ModelError NotConfigured naming the package to install", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        asModelError(OptionalPeer.load(absent, () => import(absent), { neededFor: "ONNX models" }), "tiny-bert")
      )
      expect(error._tag).toBe("ModelError")
      expect(error.reason).toBe("NotConfigured")
      expect(error.model).toBe("tiny-bert")
      expect(error.message).toBe(`${absent} is not installed (needed for ONNX models); it is an optional peer dependency: npm install ${absent}`)
    }))
})
