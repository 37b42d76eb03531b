/** Test PDFs: made with pdf-lib, or by hand where pdf-lib cannot (encryption). */
import { PDFDocument, StandardFonts } from "pdf-lib"

export const PAGE = { width: 612, height: 792 } as const

export const sentences = {
  heading: "Annual Report on River Otters",
  intro1: "River otters live in freshwater habitats across North America.",
  intro2: "They hunt fish and crayfish along quiet riverbanks.",
  second: "A separate paragraph discusses conservation efforts in detail.",
  left1: "The left column talks about beavers and their dams.",
  left2: "Beavers reshape entire valleys over many decades.",
  right1: "The right column describes herons waiting in shallows.",
  right2: "Herons strike quickly when a fish swims close by.",
  last: "The final page mentions the secret word zephyr."
} as const

/** Words regrouped into lines of at most 32 characters. */
const halves = (text: string): Array<string> => {
  const lines: Array<string> = []
  for (const word of text.split(" ")) {
    const last = lines.at(-1)
    if (last !== undefined && last.length + 1 + word.length <= 32) lines[lines.length - 1] = `${last} ${word}`
    else lines.push(word)
  }
  return lines
}

/**
 * Three Letter pages. Page 1: a 24 pt heading at the top, then two 11 pt paragraphs. Page 2: two
 * columns of 10 pt text. Page 3: one sentence at 400 pt from the bottom.
 */
export const threePagePdf = async (): Promise<Uint8Array> => {
  const doc = await PDFDocument.create()
  doc.setTitle("River Report")
  doc.setAuthor("Ada Lovelace")
  const font = await doc.embedFont(StandardFonts.Helvetica)
  const bold = await doc.embedFont(StandardFonts.HelveticaBold)

  const p1 = doc.addPage([PAGE.width, PAGE.height])
  p1.drawText(sentences.heading, { x: 72, y: 720, size: 24, font: bold })
  p1.drawText(sentences.intro1, { x: 72, y: 680, size: 11, font })
  p1.drawText(sentences.intro2, { x: 72, y: 666, size: 11, font })
  p1.drawText(sentences.second, { x: 72, y: 620, size: 11, font })

  const p2 = doc.addPage([PAGE.width, PAGE.height])
  // Column by column: the left column first, then the right one, 10 pt lines of about 30 characters.
  const column = (x: number, text: string) =>
    halves(text).forEach((line, i) => p2.drawText(line, { x, y: 700 - i * 12, size: 10, font }))
  column(72, `${sentences.left1} ${sentences.left2}`)
  column(330, `${sentences.right1} ${sentences.right2}`)

  const p3 = doc.addPage([PAGE.width, PAGE.height])
  p3.drawText(sentences.last, { x: 100, y: 400, size: 12, font })
  return doc.save()
}

/** A page whose only content is a PNG covering it: a scan, with no text layer. */
export const scannedPdf = async (png: Uint8Array, options: { textPageFirst?: boolean } = {}): Promise<Uint8Array> => {
  const doc = await PDFDocument.create()
  if (options.textPageFirst === true) {
    const font = await doc.embedFont(StandardFonts.Helvetica)
    doc.addPage([PAGE.width, PAGE.height]).drawText(sentences.intro1, { x: 72, y: 700, size: 11, font })
  }
  const image = await doc.embedPng(png)
  const width = PAGE.width - 72
  const height = (image.height / image.width) * width
  doc.addPage([PAGE.width, PAGE.height]).drawImage(image, { x: 36, y: PAGE.height - 72 - height, width, height })
  return doc.save()
}

/** `count` pages of 11 pt text, about 50 lines of 90 characters each. */
export const longPdf = async (count: number): Promise<Uint8Array> => {
  const doc = await PDFDocument.create()
  const font = await doc.embedFont(StandardFonts.Helvetica)
  const line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut."
  for (let p = 1; p <= count; p++) {
    const page = doc.addPage([PAGE.width, PAGE.height])
    for (let i = 0; i < 50; i++) {
      // A paragraph break every 10 lines.
      const y = 740 - i * 13 - Math.floor(i / 10) * 8
      page.drawText(i === 0 ? `Page ${p}. ${line}` : line, { x: 60, y, size: 11, font })
    }
  }
  return doc.save()
}

/**
 * A one-page PDF encrypted with the standard security handler (RC4, 40 bits) under a user
 * password: written by hand, since pdf-lib cannot encrypt. The /U entry does not match the empty
 * password, so a reader must ask for one.
 */
export const encryptedPdf = (): Uint8Array => {
  const hex32 = (seed: number) =>
    Array.from({ length: 32 }, (_, i) => ((seed * (i + 7) * 31) & 0xff).toString(16).padStart(2, "0")).join("")
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R >>",
    `<< /Filter /Standard /V 1 /R 2 /O <${hex32(3)}> /U <${hex32(5)}> /P -44 >>`,
    "<< /Length 0 >>\nstream\n\nendstream"
  ]
  let body = "%PDF-1.4\n"
  const offsets: Array<number> = []
  objects.forEach((object, i) => {
    offsets.push(body.length)
    body += `${i + 1} 0 obj\n${object}\nendobj\n`
  })
  const xref = body.length
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`
  for (const offset of offsets) body += `${String(offset).padStart(10, "0")} 00000 n \n`
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Encrypt 4 0 R /ID [<${hex32(9).slice(0, 32)}> <${hex32(9).slice(0, 32)}>] >>\n`
  body += `startxref\n${xref}\n%%EOF\n`
  return new TextEncoder().encode(body)
}
