/**
 * The acceptance corpus of the ingestion: every file is generated here (pdf-lib, exceljs, jszip,
 * @napi-rs/canvas, a hand-written e-mail), each with the chunk methods that apply to it and what a
 * user must find in its chunks afterwards. The bad files come with the words their failure message
 * must use.
 */
import ExcelJS from "exceljs"
import { PDFDocument, StandardFonts } from "pdf-lib"
import type { ChunkMethodId } from "@ragkit/core"
import * as Corpus from "@ragkit/fixtures/corpus"
import { textImage } from "@ragkit/fixtures/images"
import { encryptedPdf, PAGE, scannedPdf, sentences as otter, threePagePdf } from "@ragkit/fixtures/pdfs"

export type CorpusFile = Corpus.CorpusFile

/** What one chunk method must produce for one file. */
export interface Expectation {
  /** Texts (whitespace-normalised) each found in some chunk's content. */
  readonly sentences: ReadonlyArray<string>
  /** A text and the page it is on: the chunk holding it has that page in `page_num`. */
  readonly pages?: ReadonlyArray<readonly [text: string, page: number]>
  /** Pages are exact: the chunk holding the text has `page_num` equal to `[page]` (one chunk per page). */
  readonly exactPages?: boolean
  /** How many chunks there must be. */
  readonly chunkCount?: number
  /** The page of the chunk holding the OCR words. */
  readonly ocrPage?: number
  /** Questions the `qa` chunks carry in `questions`. */
  readonly questions?: ReadonlyArray<string>
  /** Tags of a description, the `tag` chunks' `important_keywords`. */
  readonly tags?: ReadonlyArray<readonly [description: string, tags: ReadonlyArray<string>]>
  /** A row of a `table` chunk: some chunk's `metadata.fields` holds these cells. */
  readonly fields?: Readonly<Record<string, string>>
  /** Lower-case words read by OCR, all in one chunk. */
  readonly ocrWords?: ReadonlyArray<string>
  /** Texts the first chunk (`index` 0) holds. */
  readonly first?: ReadonlyArray<string>
  /** Texts no chunk may hold. */
  readonly absent?: ReadonlyArray<string>
  /** The file has an image the chunk must carry (`img_id` pointing at the bytes in the BlobStore). */
  readonly image?: boolean
}

export interface Sample {
  readonly file: CorpusFile
  /** Chunk method id -> what it must produce. */
  readonly methods: Readonly<Record<string, Expectation>>
}

/** The knowledge bases the samples go to: one per chunk method, plus `naive` with small chunks. */
export const knowledgeBases: ReadonlyArray<{ readonly name: string; readonly method: ChunkMethodId; readonly config?: Record<string, unknown> }> = [
  ...(["naive", "qa", "table", "paper", "book", "laws", "manual", "presentation", "picture", "one", "email", "tag"] as const).map((method) => ({
    name: method,
    method
  })),
  { name: "naive-small", method: "naive", config: { chunk_token_num: 24 } }
]

const utf8 = Corpus.utf8

// ---------------------------------------------------------------------------------------------
// Generated files of our own (the others come from ../fixtures/corpus.ts and ../pdf/pdfs.ts).

export const faqPairs = [
  ["How deep do otters dive?", "Otters dive up to fifteen metres below the surface."],
  ["What do herons eat?", "Herons eat fish and frogs in shallow water."],
  ["When do beavers build dams?", "Beavers build most dams in the autumn months."]
] as const

/** Q:/A: lines on two pages: the first pair on page 1, the others on page 2. */
export const faqPdf = async (): Promise<CorpusFile> => {
  const doc = await PDFDocument.create()
  const font = await doc.embedFont(StandardFonts.Helvetica)
  const page1 = doc.addPage([PAGE.width, PAGE.height])
  const page2 = doc.addPage([PAGE.width, PAGE.height])
  const write = (page: typeof page1, pairs: ReadonlyArray<readonly [string, string]>) =>
    pairs.forEach(([q, a], i) => {
      page.drawText(`Q: ${q}`, { x: 72, y: 700 - i * 60, size: 11, font })
      page.drawText(`A: ${a}`, { x: 72, y: 684 - i * 60, size: 11, font })
    })
  write(page1, faqPairs.slice(0, 1))
  write(page2, faqPairs.slice(1))
  return { fileName: "faq.pdf", bytes: await doc.save() }
}

/** A two-column Question/Answer sheet. */
export const faqXlsx = async (): Promise<CorpusFile> => {
  const workbook = new ExcelJS.Workbook()
  const sheet = workbook.addWorksheet("FAQ")
  sheet.addRow(["Question", "Answer"])
  for (const [q, a] of faqPairs) sheet.addRow([q, a])
  return { fileName: "faq.xlsx", bytes: new Uint8Array((await workbook.xlsx.writeBuffer()) as ArrayBuffer) }
}

const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, "\"\"")}"` : s)

export const faqCsv: CorpusFile = {
  fileName: "faq.csv",
  bytes: utf8(["Question,Answer", ...faqPairs.map(([q, a]) => `${csvCell(q)},${csvCell(a)}`)].join("\r\n") + "\r\n")
}

export const faqTxt: CorpusFile = {
  fileName: "faq.txt",
  bytes: utf8(faqPairs.map(([q, a]) => `Q: ${q}\nA: ${a}`).join("\n\n") + "\n")
}

export const tagRows = [
  ["Otters hunt along the riverbank at dusk.", ["otter", "river", "dusk"]],
  ["Herons nest in tall trees near the water.", ["heron", "nest", "water"]],
  ["Beavers fell trees to build their lodges.", ["beaver", "lodge"]]
] as const

/** A tag set: Description / Tags columns. */
export const tagsXlsx = async (): Promise<CorpusFile> => {
  const workbook = new ExcelJS.Workbook()
  const sheet = workbook.addWorksheet("Tags")
  sheet.addRow(["Description", "Tags"])
  for (const [description, tags] of tagRows) sheet.addRow([description, tags.join(", ")])
  return { fileName: "tags.xlsx", bytes: new Uint8Array((await workbook.xlsx.writeBuffer()) as ArrayBuffer) }
}

export const tagsCsv: CorpusFile = {
  fileName: "tags.csv",
  bytes: utf8(["Description,Tags", ...tagRows.map(([d, tags]) => `${csvCell(d)},${csvCell(tags.join(","))}`)].join("\n") + "\n")
}

export const tagsTxt: CorpusFile = {
  fileName: "tags.txt",
  bytes: utf8(tagRows.map(([d, tags]) => `${d}\t${tags.join(",")}`).join("\n") + "\n")
}

/** A TAB-separated table in a text file. */
export const speciesTxt: CorpusFile = {
  fileName: "species.txt",
  bytes: utf8("Species\tHabitat\tDiet\nOtter\tRiver\tFish\nHeron\tMarsh\tFrogs\n")
}

export const handbookLines = {
  chapter1: "Chapter 1 General Provisions",
  article1: "Article 1 This handbook applies to every river warden.",
  article2: "Article 2 Wardens record otter sightings each week.",
  chapter2: "Chapter 2 Duties",
  article3: "Article 3 Wardens keep the riverbanks free of litter."
} as const

export const handbookTxt: CorpusFile = {
  fileName: "handbook.txt",
  bytes: utf8(Object.values(handbookLines).join("\n") + "\n")
}

export const signLines = ["Otters gather near the old mill", "Visitors must stay on the path"] as const

export const signPng = (): CorpusFile => ({ fileName: "sign.png", bytes: textImage(signLines) })

export const scanLines = ["Flood warning for the lower valley", "Keep boats out of the water"] as const

export const scannedPdfFile = async (): Promise<CorpusFile> => ({
  fileName: "scanned.pdf",
  bytes: await scannedPdf(textImage(scanLines), { textPageFirst: true })
})

// ---------------------------------------------------------------------------------------------
// The matrix.

const ocrWords = (lines: ReadonlyArray<string>) => lines.flatMap((l) => l.toLowerCase().split(" ")).filter((w) => w.length > 3)

export const samples = async (): Promise<ReadonlyArray<Sample>> => {
  const otterPages: ReadonlyArray<readonly [string, number]> = [
    [otter.heading, 1],
    [otter.intro1, 1],
    [otter.second, 1],
    [otter.left1, 2],
    [otter.right2, 2],
    [otter.last, 3]
  ]
  const otterText = { sentences: otterPages.map(([s]) => s), pages: otterPages }
  const faqSentences = faqPairs.flat()
  const faqQuestions = { sentences: faqSentences, questions: faqPairs.map(([q]) => q), chunkCount: 3 }
  const faqRows = { sentences: faqSentences, chunkCount: 3, fields: { Question: faqPairs[1][0], Answer: faqPairs[1][1] } }
  const tagged = { sentences: tagRows.map(([d]) => d), tags: tagRows, chunkCount: 3 }
  const docxText = {
    sentences: ["Annual Report", "The quick brown fox jumps over the lazy dog.", "First bullet item", "Closing remarks follow the table.", "North"]
  }
  const pptPages: ReadonlyArray<readonly [string, number]> = [
    ["Quarterly Review", 1],
    ["Prepared by the finance team", 1],
    ["Revenue by Region", 2],
    ["Speaker notes mention the northern growth.", 2],
    ["Hire two engineers.", 3],
    ["Open the Berlin office.", 3]
  ]
  const pptText = { sentences: pptPages.map(([s]) => s), pages: pptPages }
  const mdText = { sentences: ["The quick brown fox jumps over the lazy dog.", "Conference pears", "A quoted remark about the harvest."] }
  const htmlText = {
    sentences: ["The harvest this year was larger than expected & well stored.", "Storage held up during the winter.", "Barley"],
    absent: ["script text must not appear", "another script"]
  }
  const handbook = { sentences: Object.values(handbookLines) }
  const scanned = {
    sentences: [otter.intro1],
    pages: [[otter.intro1, 1]] as const,
    ocrWords: ocrWords(scanLines),
    ocrPage: 2
  }
  const mail = {
    sentences: ["Please find the quarterly figures attached.", "The attached notes say revenue grew in March.", "The nested message body mentions the figures."],
    first: ["From: Alice Example <alice@example.com>", "Subject: Quarterly figures"]
  }

  return [
    {
      file: { fileName: "otters.pdf", bytes: await threePagePdf() },
      methods: {
        naive: otterText,
        "naive-small": { ...otterText, exactPages: true },
        paper: otterText,
        book: otterText,
        laws: otterText,
        manual: otterText,
        presentation: { ...otterText, exactPages: true, chunkCount: 3 },
        one: otterText
      }
    },
    {
      file: await faqPdf(),
      methods: {
        qa: { ...faqQuestions, chunkCount: 3, pages: [[faqPairs[0][0], 1], [faqPairs[1][0], 2], [faqPairs[2][1], 2]], exactPages: true },
        naive: { sentences: faqSentences.map((s) => s), pages: [[faqPairs[0][1], 1], [faqPairs[2][1], 2]] }
      }
    },
    {
      file: await scannedPdfFile(),
      methods: { naive: scanned, presentation: { ...scanned, exactPages: true, chunkCount: 2 } }
    },
    {
      file: await Corpus.docx(),
      methods: { naive: docxText, qa: docxText, book: docxText, laws: docxText, manual: docxText, one: docxText }
    },
    {
      file: await Corpus.pptx(),
      methods: { presentation: { ...pptText, exactPages: true, chunkCount: 3 }, naive: pptText, "naive-small": pptText, one: pptText }
    },
    {
      file: await Corpus.xlsx(),
      methods: {
        naive: { sentences: ["North", "South", "Rich text cell"] },
        one: { sentences: ["North", "South", "Rich text cell"] },
        table: { sentences: ["Region: North", "Region: South"], fields: { Region: "North", Amount: "100" } }
      }
    },
    { file: await faqXlsx(), methods: { qa: faqQuestions, table: faqRows, naive: { sentences: faqSentences }, one: { sentences: faqSentences } } },
    { file: faqCsv, methods: { qa: faqQuestions, table: faqRows, naive: { sentences: faqSentences }, one: { sentences: faqSentences } } },
    { file: faqTxt, methods: { qa: faqQuestions, naive: { sentences: faqSentences }, one: { sentences: faqSentences } } },
    { file: await tagsXlsx(), methods: { tag: tagged, table: { sentences: tagRows.map(([d]) => d), chunkCount: 3 } } },
    { file: tagsCsv, methods: { tag: tagged } },
    { file: tagsTxt, methods: { tag: tagged } },
    { file: speciesTxt, methods: { table: { sentences: ["Otter", "Heron"], chunkCount: 2, fields: { Species: "Heron", Habitat: "Marsh", Diet: "Frogs" } } } },
    { file: handbookTxt, methods: { naive: handbook, book: handbook, laws: handbook, one: handbook } },
    { file: Corpus.markdown, methods: { naive: mdText, qa: { sentences: ["Field Guide", "The quick brown fox jumps over the lazy dog."] }, laws: mdText, one: mdText } },
    { file: Corpus.html, methods: { naive: htmlText, book: htmlText, laws: htmlText, one: htmlText } },
    { file: Corpus.json, methods: { naive: { sentences: ["Alice", "engineer", "Berlin"] }, one: { sentences: ["Alice", "engineer", "Berlin"] } } },
    { file: Corpus.jsonl, methods: { naive: { sentences: ["signup", "carol", "10.0.0.1"] } } },
    { file: Corpus.code, methods: { naive: { sentences: ["def handler(event):", "class Store:"] } } },
    {
      file: Corpus.csv,
      methods: {
        naive: { sentences: ["Smith, John", "Zoe"] },
        one: { sentences: ["Smith, John", "Zoe"] },
        table: { sentences: ["Smith, John", "Rome"], fields: { Name: "Zoe", City: "Rome" } }
      }
    },
    { file: signPng(), methods: { picture: { sentences: [], ocrWords: ocrWords(signLines), image: true } } },
    { file: Corpus.eml, methods: { email: mail, naive: mail } }
  ]
}

// ---------------------------------------------------------------------------------------------
// Bad files: each must end FAIL with a message matching its pattern.

export interface BadFile {
  readonly file: CorpusFile
  readonly message: RegExp
}

export const badFiles = async (): Promise<ReadonlyArray<BadFile>> => {
  const pdf = await threePagePdf()
  return [
    { file: { fileName: "truncated.pdf", bytes: pdf.slice(0, Math.floor(pdf.length / 2)) }, message: /not a valid PDF|truncated|damaged/i },
    { file: { fileName: "locked.pdf", bytes: encryptedPdf() }, message: /password/i },
    { file: Corpus.notAZipDocx, message: /not a zip/i },
    { file: Corpus.encryptedDocx, message: /password/i },
    { file: await Corpus.declaredBombDocx(), message: /too large|limit/i },
    { file: Corpus.zip64BombDocx(), message: /too large|limit/i },
    { file: await Corpus.lyingBombDocx(64), message: /too large|limit/i },
    { file: { fileName: "empty.txt", bytes: new Uint8Array() }, message: /empty/i },
    { file: { fileName: "empty.pdf", bytes: new Uint8Array() }, message: /empty/i },
    { file: { fileName: "blank.txt", bytes: utf8(" \n\n \t\n") }, message: /empty|no text/i },
    { file: { fileName: "picture.txt", bytes: textImage(["binary"]) }, message: /binary/i },
    { file: { fileName: "elf.txt", bytes: new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, ...Array.from({ length: 120 }, (_, i) => (i * 73) % 256)]) }, message: /binary/i }
  ]
}

export const goodText = (name: string, sentence: string): CorpusFile => ({ fileName: name, bytes: utf8(`${sentence}\n`) })
