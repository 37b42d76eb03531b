/** Test images drawn with @napi-rs/canvas. */
import { createCanvas } from "@napi-rs/canvas"

/** Black text lines on white, in a large sans-serif font, one line per entry. */
export const textImage = (lines: ReadonlyArray<string>, options: { width?: number; fontSize?: number } = {}): Uint8Array => {
  const fontSize = options.fontSize ?? 48
  const width = options.width ?? 1000
  const lineHeight = Math.round(fontSize * 1.8)
  const height = lineHeight * (lines.length + 1)
  const canvas = createCanvas(width, height)
  const g = canvas.getContext("2d")
  g.fillStyle = "#ffffff"
  g.fillRect(0, 0, width, height)
  g.fillStyle = "#000000"
  g.font = `${fontSize}px DejaVu Sans, sans-serif`
  lines.forEach((line, i) => g.fillText(line, 40, lineHeight * (i + 1)))
  return new Uint8Array(canvas.toBuffer("image/png"))
}

/** The words of a text, lower-cased, without punctuation. */
export const words = (text: string): ReadonlyArray<string> =>
  text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0)
