/**
 * Tables as RAGFlow puts them into chunks: an HTML `<table>`, the first row as the header when it
 * is one, cells escaped.
 */
export const escapeHtml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

export interface TableHtmlOptions {
  /** Render the first row with `<th>` cells. Default true. */
  readonly header?: boolean
  readonly caption?: string
}

export const tableToHtml = (rows: ReadonlyArray<ReadonlyArray<string>>, options: TableHtmlOptions = {}): string => {
  const header = options.header ?? true
  const out: Array<string> = ["<table>"]
  if (options.caption !== undefined && options.caption !== "") out.push(`<caption>${escapeHtml(options.caption)}</caption>`)
  rows.forEach((row, i) => {
    const tag = header && i === 0 ? "th" : "td"
    out.push(`<tr>${row.map((cell) => `<${tag}>${escapeHtml(cell)}</${tag}>`).join("")}</tr>`)
  })
  out.push("</table>")
  return out.join("")
}
