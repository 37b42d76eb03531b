import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { OptionalPeer } from "../src/index.js"

// A package that is not installed anywhere in the workspace: importing it fails as a missing
// optional peer does for a host that did not install it.
const absent = "@ragkit/not-installed-peer"
const importAbsent = (specifier: string) => () => import(specifier)

describe("OptionalPeer.load", () => {
  it.effect("fails with a message naming the package to install when it is missing", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        OptionalPeer.load(absent, importAbsent(absent), { with: ["@ragkit/not-installed-models"], neededFor: "a test" })
      )
      expect(error._tag).toBe("OptionalPeerError")
      expect(error.missing).toBe(true)
      expect(error.packageName).toBe(absent)
      expect(error.message).toBe(
        `${absent} is not installed (needed for a test); it is an optional peer dependency: npm install ${absent} @ragkit/not-installed-models`
      )
    }))

  it.effect("a subpath of a missing package counts as the package missing", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(OptionalPeer.load(absent, importAbsent(`${absent}/node-postgres`)))
      expect(error.missing).toBe(true)
      expect(error.message).toContain(`npm install ${absent}`)
    }))

  it.effect("an installed package that fails to load is not reported as missing", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        OptionalPeer.load("tiktoken", () => Promise.reject(new Error("wrong ELF class")))
      )
      expect(error.missing).toBe(false)
      expect(error.message).toBe("tiktoken cannot be loaded: wrong ELF class")
      // A missing dependency of the package is the package's failure, not the peer missing.
      const inner = Object.assign(new Error("Cannot find package 'some-dependency' imported from /x/tiktoken/index.js"), {
        code: "ERR_MODULE_NOT_FOUND"
      })
      expect(OptionalPeer.isNotInstalled(inner, "tiktoken")).toBe(false)
      expect(OptionalPeer.isNotInstalled(inner, "some-dependency")).toBe(true)
    }))

  it.effect("loads an installed package once and retries after a failure", () =>
    Effect.gen(function*() {
      let calls = 0
      const loaded = OptionalPeer.load("tiktoken", () => {
        calls++
        return calls === 1 ? Promise.reject(new Error("transient")) : import("tiktoken")
      })
      expect(Either.isLeft(yield* Effect.either(loaded))).toBe(true)
      const first = yield* loaded
      const second = yield* loaded
      expect(typeof first.get_encoding).toBe("function")
      expect(second).toBe(first)
      expect(calls).toBe(2)
    }))
})
