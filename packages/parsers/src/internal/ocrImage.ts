/**
 * Image sniffing for OCR input: the format from the magic bytes and, for the common formats, the
 * pixel size from the header (no decoding).
 */

export type ImageMime = "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/tiff"

export interface ImageInfo {
  readonly mime: ImageMime
  /** Pixel size, when the header gives it cheaply. */
  readonly width?: number
  readonly height?: number
}

const startsWith = (bytes: Uint8Array, prefix: ReadonlyArray<number>, at = 0): boolean =>
  bytes.length >= at + prefix.length && prefix.every((b, i) => bytes[at + i] === b)

const u16be = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!
const u16le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8)
const u32be = (b: Uint8Array, i: number) => ((b[i]! << 24) >>> 0) + (b[i + 1]! << 16) + (b[i + 2]! << 8) + b[i + 3]!
const u24le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16)

const jpegSize = (b: Uint8Array): { width: number; height: number } | undefined => {
  let i = 2
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined
    const marker = b[i + 1]!
    if (marker === 0xff) {
      i++
      continue
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2
      continue
    }
    const length = u16be(b, i + 2)
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: u16be(b, i + 5), width: u16be(b, i + 7) }
    }
    i += 2 + length
  }
  return undefined
}

const webpSize = (b: Uint8Array): { width: number; height: number } | undefined => {
  if (b.length < 30) return undefined
  const chunk = String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!)
  if (chunk === "VP8X") return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 }
  if (chunk === "VP8L") {
    const bits = b[21]! | (b[22]! << 8) | (b[23]! << 16) | (b[24]! << 24)
    return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 }
  }
  if (chunk === "VP8 ") return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff }
  return undefined
}

const u16 = (b: Uint8Array, i: number, little: boolean) => (little ? u16le(b, i) : u16be(b, i))
const u32 = (b: Uint8Array, i: number, little: boolean) =>
  little ? (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16)) + b[i + 3]! * 0x1000000 : u32be(b, i)

/** The size of a TIFF's first image, from its first directory (tags 256 ImageWidth, 257 ImageLength). */
const tiffSize = (b: Uint8Array): { width: number; height: number } | undefined => {
  if (b.length < 8) return undefined
  const little = b[0] === 0x49
  const ifd = u32(b, 4, little)
  if (ifd + 2 > b.length) return undefined
  const count = u16(b, ifd, little)
  let width: number | undefined
  let height: number | undefined
  for (let k = 0; k < count; k++) {
    const at = ifd + 2 + k * 12
    if (at + 12 > b.length) break
    const tag = u16(b, at, little)
    if (tag !== 256 && tag !== 257) continue
    // SHORT (3) or LONG (4), one value, in the entry itself.
    const value = u16(b, at + 2, little) === 3 ? u16(b, at + 8, little) : u32(b, at + 8, little)
    if (tag === 256) width = value
    else height = value
  }
  return width === undefined || height === undefined ? undefined : { width, height }
}

/** The image format and size, or `undefined` when the bytes are no image OCR can read. */
export const sniffImage = (bytes: Uint8Array): ImageInfo | undefined => {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) {
    return bytes.length >= 24 && startsWith(bytes, [0x49, 0x48, 0x44, 0x52], 12)
      ? { mime: "image/png", width: u32be(bytes, 16), height: u32be(bytes, 20) }
      : { mime: "image/png" }
  }
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { mime: "image/jpeg", ...jpegSize(bytes) }
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38])) {
    return bytes.length >= 10 ? { mime: "image/gif", width: u16le(bytes, 6), height: u16le(bytes, 8) } : { mime: "image/gif" }
  }
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) {
    return { mime: "image/webp", ...webpSize(bytes) }
  }
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) {
    return { mime: "image/tiff", ...tiffSize(bytes) }
  }
  return undefined
}
