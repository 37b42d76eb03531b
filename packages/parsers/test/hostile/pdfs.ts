/** Hand-made PDFs for the decoding limits: a Flate bomb, many inflating streams, a huge image. */
import * as zlib from "node:zlib"

interface PdfObject {
  readonly head: string
  readonly stream?: Uint8Array
}

/** A PDF of these objects (1 is the catalog), with a correct cross-reference table. */
export const pdfOf = (objects: ReadonlyArray<PdfObject>): Uint8Array => {
  const parts: Array<Buffer> = []
  let length = 0
  const add = (b: string | Uint8Array) => {
    const buffer = typeof b === "string" ? Buffer.from(b, "latin1") : Buffer.from(b)
    parts.push(buffer)
    length += buffer.length
  }
  add("%PDF-1.4\n")
  const offsets: Array<number> = []
  objects.forEach((object, i) => {
    offsets.push(length)
    add(`${i + 1} 0 obj\n${object.head}\n`)
    if (object.stream !== undefined) {
      add("stream\n")
      add(object.stream)
      add("\nendstream\n")
    }
    add("endobj\n")
  })
  const xref = length
  add(`xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")}`)
  add(`trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`)
  return new Uint8Array(Buffer.concat(parts))
}

const flate = (data: Uint8Array) => new Uint8Array(zlib.deflateSync(data, { level: 9 }))

/** Page content that shows `text`, padded with spaces to `bytes`, Flate-compressed. */
const content = (text: string, bytes: number) => {
  const raw = Buffer.alloc(Math.max(bytes, 64), 0x20)
  raw.write(`BT /F1 12 Tf 72 720 Td (${text}) Tj ET`, 0, "latin1")
  return flate(raw)
}

const FONT = { head: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>" }

/** One page whose content stream inflates to `bytes` (a few KB of file for many MB of content). */
export const flateBombPdf = (bytes: number, text = "Hello from a bomb"): Uint8Array => {
  const data = content(text, bytes)
  return pdfOf([
    { head: "<< /Type /Catalog /Pages 2 0 R >>" },
    { head: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>" },
    { head: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>" },
    { head: `<< /Length ${data.length} /Filter /FlateDecode >>`, stream: data },
    FONT
  ])
}

/** `pages` pages, each with a content stream that inflates to `bytes`. */
export const manyStreamsPdf = (pages: number, bytes: number): Uint8Array => {
  const objects: Array<PdfObject> = [{ head: "<< /Type /Catalog /Pages 2 0 R >>" }, { head: "" }, FONT]
  const kids: Array<string> = []
  for (let p = 0; p < pages; p++) {
    const data = content(`Page ${p + 1} of many`, bytes)
    objects.push({ head: `<< /Length ${data.length} /Filter /FlateDecode >>`, stream: data })
    objects.push({
      head: `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${objects.length} 0 R /Resources << /Font << /F1 3 0 R >> >> >>`
    })
    kids.push(`${objects.length} 0 R`)
  }
  objects[1] = { head: `<< /Type /Pages /Kids [${kids.join(" ")}] /Count ${pages} >>` }
  return pdfOf(objects)
}

/** A page (no text layer) that paints one grey image of `width` x `height` pixels. */
export const hugeImagePdf = (width: number, height: number): Uint8Array => {
  const pixels = flate(new Uint8Array(64))
  const draw = Buffer.from(`q ${612} 0 0 ${792} 0 0 cm /Im1 Do Q`, "latin1")
  return pdfOf([
    { head: "<< /Type /Catalog /Pages 2 0 R >>" },
    { head: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>" },
    { head: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /XObject << /Im1 5 0 R >> >> >>" },
    { head: `<< /Length ${draw.length} >>`, stream: draw },
    {
      head: `<< /Type /XObject /Subtype /Image /Width ${width} /Height ${height} /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /Length ${pixels.length} >>`,
      stream: pixels
    }
  ])
}

/** A little-endian TIFF header whose first directory gives `width` x `height` (or no size). */
export const tiff = (size?: { width: number; height: number }): Uint8Array => {
  const entries = size === undefined ? [] : [[256, size.width], [257, size.height]]
  const out = Buffer.alloc(8 + 2 + entries.length * 12 + 4 + 64)
  out.write("II", 0, "latin1")
  out.writeUInt16LE(42, 2)
  out.writeUInt32LE(8, 4)
  out.writeUInt16LE(entries.length, 8)
  entries.forEach(([tag, value], i) => {
    const at = 10 + i * 12
    out.writeUInt16LE(tag!, at)
    out.writeUInt16LE(4, at + 2)
    out.writeUInt32LE(1, at + 4)
    out.writeUInt32LE(value!, at + 8)
  })
  return new Uint8Array(out)
}
