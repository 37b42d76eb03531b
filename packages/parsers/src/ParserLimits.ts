/**
 * The limits that protect the machine from a file: how far an archive may inflate, how many cells a
 * sheet may have, how deep mails may nest, how many PDF pages are read, how long a section may be.
 * They belong to the deployment: the parsers take them when they are built
 * (`Parsers.layer({ limits })`, `ParserThreads.layer({ setupOptions: { limits } })`) and never read
 * them from a document's `parser_config`, which a tenant writes.
 *
 *   const Parsing = Parsers.layerWithoutOcr({ limits: { zipMaxTotalBytes: 100 * 1024 * 1024 } })
 *
 * A file beyond a limit fails with `ParseError` reason `TooLarge` (PDF pages and mail nesting are
 * cut instead: the pages past the limit are skipped, deeper mails only listed).
 */

export interface ParserLimits {
  /** Uncompressed size of one entry of a DOCX, XLSX or PPTX archive, in bytes. Default 50 MiB. */
  readonly zipMaxEntryBytes: number
  /** Sum of the uncompressed sizes of an archive's entries, in bytes. Default 200 MiB. */
  readonly zipMaxTotalBytes: number
  /** Entries in an archive. Default 10,000. */
  readonly zipMaxEntries: number
  /** Cells of a CSV file or an XLSX workbook. Default 1,000,000. */
  readonly maxCells: number
  /** Mails inside mails are parsed down to this depth (the mail itself is 1); deeper ones are listed. Default 3. */
  readonly emlMaxDepth: number
  /** PDF pages read; the rest are skipped. Default 5,000. */
  readonly pdfMaxPages: number
  /** Bytes one PDF stream (a page's content, a font, an image) may decode to. Default 128 MiB. */
  readonly pdfMaxStreamBytes: number
  /** Bytes all the streams of a PDF may decode to together. Default 1 GiB. */
  readonly pdfMaxDecodedBytes: number
  /** Pixels of one image in a PDF (decoded for OCR). Default 50,000,000. */
  readonly pdfMaxImagePixels: number
  /** A JSON record longer than this many characters is split into several sections. Default 2,000. */
  readonly jsonSectionChars: number
  /** Code blocks are merged or cut to at most this many characters. Default 1,500. */
  readonly codeBlockChars: number
}

export const defaults: ParserLimits = {
  zipMaxEntryBytes: 50 * 1024 * 1024,
  zipMaxTotalBytes: 200 * 1024 * 1024,
  zipMaxEntries: 10_000,
  maxCells: 1_000_000,
  emlMaxDepth: 3,
  pdfMaxPages: 5_000,
  pdfMaxStreamBytes: 128 * 1024 * 1024,
  pdfMaxDecodedBytes: 1024 * 1024 * 1024,
  pdfMaxImagePixels: 50_000_000,
  jsonSectionChars: 2_000,
  codeBlockChars: 1_500
}

/**
 * The defaults with `given` over them. A limit that is not a positive integer is the deployment's
 * mistake: it throws a `RangeError` naming the limit when the parsers are built.
 */
export const make = (given: Partial<ParserLimits> = {}): ParserLimits => {
  const limits = { ...defaults }
  for (const key of Object.keys(defaults) as Array<keyof ParserLimits>) {
    const value = given[key]
    if (value === undefined) continue
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`parser limit ${key} must be a positive integer, got ${String(value)}`)
    }
    limits[key] = value
  }
  return limits
}
