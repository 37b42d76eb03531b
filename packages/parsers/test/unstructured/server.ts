/**
 * A small Unstructured API server for the tests: it answers `POST /general/v0/general` as the
 * documented API does (multipart form with a `files` part, `unstructured-api-key` header, a JSON
 * array of elements), with canned answers chosen by file name.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Context, Effect, Layer } from "effect"

export const API_KEY = "test-key-123"

export interface ReceivedRequest {
  readonly path: string
  readonly apiKey: string | undefined
  readonly fileName: string | undefined
  readonly fileSize: number
  readonly fields: Readonly<Record<string, ReadonlyArray<string>>>
}

export interface FakeServer {
  readonly url: string
  readonly received: Array<ReceivedRequest>
}

export class FakeUnstructured extends Context.Tag("test/FakeUnstructured")<FakeUnstructured, FakeServer>() {}

const coordinates = (x0: number, y0: number, x1: number, y1: number, system: string, width?: number, height?: number) => ({
  points: [[x0, y0], [x0, y1], [x1, y1], [x1, y0]],
  system,
  ...(width === undefined ? {} : { layout_width: width, layout_height: height })
})

/** What the server returns for `report.pdf`: a page-1 title and text, a header, a table, a list item, page-2 text. */
export const reportElements = (fileName: string) => [
  {
    type: "Header",
    element_id: "h1",
    text: "ACME Corp confidential",
    metadata: { page_number: 1, filename: fileName, filetype: "application/pdf", languages: ["eng"] }
  },
  {
    type: "Title",
    element_id: "t1",
    text: "Quarterly Report",
    metadata: {
      page_number: 1,
      category_depth: 0,
      coordinates: coordinates(200, 100, 800, 150, "PixelSpace", 1700, 2200),
      filename: fileName,
      filetype: "application/pdf",
      languages: ["eng"]
    }
  },
  {
    type: "Title",
    element_id: "t2",
    text: "Revenue",
    metadata: { page_number: 1, category_depth: 1, filename: fileName, languages: ["eng"] }
  },
  {
    type: "NarrativeText",
    element_id: "n1",
    text: "Revenue grew by twelve percent over the quarter.",
    metadata: {
      page_number: 1,
      coordinates: coordinates(200, 200, 1500, 300, "PixelSpace", 1700, 2200),
      filename: fileName,
      languages: ["eng"]
    }
  },
  {
    type: "Table",
    element_id: "tb1",
    text: "Region Sales North 10 South 20",
    metadata: {
      page_number: 1,
      text_as_html:
        "<table><thead><tr><th>Region</th><th>Sales</th></tr></thead><tbody><tr><td>North</td><td>10</td></tr><tr><td>South &amp; East</td><td>20</td></tr></tbody></table>",
      filename: fileName,
      languages: ["eng"]
    }
  },
  {
    type: "ListItem",
    element_id: "l1",
    text: "Hire two engineers",
    metadata: { page_number: 1, filename: fileName, languages: ["eng"] }
  },
  { type: "PageBreak", element_id: "pb", text: "", metadata: { page_number: 1 } },
  {
    type: "NarrativeText",
    element_id: "n2",
    text: "The outlook for the next quarter is stable.",
    metadata: {
      page_number: 2,
      coordinates: coordinates(72, 90, 540, 120, "PointSpace"),
      filename: fileName,
      languages: ["eng"]
    }
  },
  {
    type: "Footer",
    element_id: "f2",
    text: "Page 2 of 2",
    metadata: { page_number: 2, filename: fileName, languages: ["eng"] }
  },
  {
    type: "Formula",
    element_id: "fm",
    text: "E = mc^2",
    metadata: { page_number: 2, filename: fileName }
  }
]

const json = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) })

const answer = (request: ReceivedRequest): { status: number; body: string } | "hang" => {
  if (request.apiKey !== API_KEY) return json(401, { detail: "API key is invalid" })
  const fileName = request.fileName
  if (fileName === undefined) {
    return json(422, { detail: [{ loc: ["body", "files"], msg: "Field required", type: "missing" }] })
  }
  if (fileName.endsWith("crash.pdf")) return json(500, { detail: "Internal Server Error: model failed to load" })
  if (fileName.endsWith("slow.pdf")) return "hang"
  if (fileName.endsWith("blank.pdf")) return json(200, [])
  if (fileName.endsWith("headers-only.pdf")) {
    return json(200, [{ type: "Header", element_id: "h", text: "Draft", metadata: { page_number: 1 } }])
  }
  if (fileName.endsWith(".xyz")) return json(400, { detail: "File type application/octet-stream is not supported." })
  if (fileName.startsWith("garbage-") || fileName.endsWith("broken.pdf")) {
    return json(422, { detail: `${fileName} does not appear to be a valid file` })
  }
  if (fileName.endsWith(".epub")) {
    return json(200, [
      { type: "Title", element_id: "e1", text: "Chapter One", metadata: { category_depth: 0, filename: fileName } },
      {
        type: "NarrativeText",
        element_id: "e2",
        text: "It was a bright cold day in April.",
        metadata: { filename: fileName }
      }
    ])
  }
  return json(200, reportElements(fileName))
}

/** Starts the server on 127.0.0.1 (a free port) for the scope; hung requests are cut on close. */
export const layer: Layer.Layer<FakeUnstructured> = Layer.scoped(
  FakeUnstructured,
  Effect.acquireRelease(
    Effect.async<{ server: ReturnType<typeof createServer>; fake: FakeServer }>((resume) => {
      const received: Array<ReceivedRequest> = []
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          void (async () => {
            const path = req.url ?? ""
            if (req.method !== "POST" || path !== "/general/v0/general") {
              res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ detail: "Not Found" }))
              return
            }
            const form = await new Request("http://fake/", {
              method: "POST",
              headers: { "content-type": req.headers["content-type"] ?? "" },
              body: Buffer.concat(chunks)
            }).formData()
            const fields: Record<string, Array<string>> = {}
            let fileName: string | undefined
            let fileSize = 0
            for (const [key, value] of form.entries()) {
              if (typeof value === "string") (fields[key] ??= []).push(value)
              else if (key === "files") {
                fileName = value.name
                fileSize = value.size
              }
            }
            const apiKey = req.headers["unstructured-api-key"]
            const request: ReceivedRequest = {
              path,
              apiKey: typeof apiKey === "string" ? apiKey : undefined,
              fileName,
              fileSize,
              fields
            }
            received.push(request)
            const reply = answer(request)
            if (reply === "hang") return
            res.writeHead(reply.status, { "content-type": "application/json" }).end(reply.body)
          })()
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, fake: { url: `http://127.0.0.1:${port}`, received } }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ fake }) => fake))
)

/** A port on 127.0.0.1 that nothing listens on. */
export const closedPort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})
