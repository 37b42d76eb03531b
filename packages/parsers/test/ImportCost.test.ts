/**
 * What importing `@ragkit/parsers` costs a host: none of the optional peers (OCR on onnxruntime,
 * unstructured-client) nor any other heavy package loads with the package, nor when its parsers'
 * layer is built; OCR loads on the first image (the control: the same check sees it then).
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { heavy, loadedBy, matching } from "../../../test/support/importCost.js"

const packageDir = fileURLToPath(new URL("..", import.meta.url))

describe("importing @ragkit/parsers", () => {
  it("the package and its parsers' layer (with OCR's) load no heavy or native package", async () => {
    const loaded = await loadedBy(packageDir, `const Parsers = await import("@ragkit/parsers")
const { Effect, Layer } = await import("effect")
await Effect.runPromise(Effect.scoped(Layer.build(Parsers.layerParsers().pipe(Layer.provide(Parsers.Ocr.layer())))))`)
    expect(loaded.some((url) => url.includes("packages/parsers/src/Ocr.ts"))).toBe(true)
    expect(matching(loaded, Object.values(heavy))).toEqual([])
  }, 60_000)

  it("loads OCR (and onnxruntime) on the first image (the check sees them)", async () => {
    const loaded = await loadedBy(packageDir, `const Parsers = await import("@ragkit/parsers")
const { Parser } = await import("@ragkit/core")
const { textImage } = await import("@ragkit/fixtures/images")
const { Effect, Layer } = await import("effect")
const parse = Effect.flatMap(Parser.ParserRegistry, (registry) => registry.parse({ bytes: textImage(["Invoice 42"]), fileName: "scan.png" }))
await Effect.runPromise(Effect.scoped(Effect.provide(parse, Parsers.layerParsers().pipe(Layer.provide(Parsers.Ocr.layer())))))`)
    expect(matching(loaded, [heavy.ocr])).not.toEqual([])
    expect(matching(loaded, [heavy.onnxruntime])).not.toEqual([])
  }, 60_000)
})
