// The thread that runs PGlite (see `pgliteSocket.ts`). PGlite is Postgres compiled to WebAssembly:
// every statement runs synchronously in the thread that holds it. Here that is this thread, so a
// long statement (an HNSW index build, a write of thousands of chunks with their postings) no longer
// stops the process's event loop, its HTTP server and its timers.
//
// Protocol with the opening thread: `{ ready }` or `{ fatal }` once; then for each `{ id, bytes }`
// (Postgres wire-protocol messages from node-postgres), `{ id, bytes }` (PGlite's answer) or
// `{ id, error }`, in order; `{ close }` closes the database and answers `{ closed }`.
// Plain JavaScript, so that it loads as is from the sources and from dist/.
import { parentPort, workerData } from "node:worker_threads"

/** @type {{ dataDir: string, pgvector: boolean, startParams: ReadonlyArray<string> }} */
const options = workerData
const port = /** @type {import("node:worker_threads").MessagePort} */ (parentPort)

const open = async () => {
  const { PGlite } = await import("@electric-sql/pglite")
  const extensions = options.pgvector ? { vector: (await import("@electric-sql/pglite-pgvector")).vector } : {}
  return PGlite.create(options.dataDir, {
    extensions,
    ...(options.startParams.length === 0 ? {} : { startParams: [...PGlite.defaultStartParams, ...options.startParams] })
  })
}

const messageOf = (error) => (error instanceof Error ? error.message : String(error))

try {
  const db = await open()
  /** Statements run one after another, as on PGlite's one connection. */
  let queue = Promise.resolve()
  port.on("message", (message) => {
    if (message.close) {
      queue = queue.then(() => db.close()).then(
        () => port.postMessage({ closed: true }),
        (error) => port.postMessage({ closed: true, error: messageOf(error) })
      )
      return
    }
    queue = queue.then(async () => {
      try {
        // A copy: the answer may be a view of PGlite's memory, which must not be transferred.
        const bytes = (await db.execProtocolRaw(message.bytes)).slice()
        port.postMessage({ id: message.id, bytes }, [bytes.buffer])
      } catch (error) {
        port.postMessage({ id: message.id, error: messageOf(error) })
      }
    })
  })
  port.postMessage({ ready: true })
} catch (error) {
  // `code`: e.g. ERR_MODULE_NOT_FOUND, for the opening thread's "npm install ..." message.
  port.postMessage({ fatal: messageOf(error), code: /** @type {{ code?: unknown }} */ (error)?.code })
}
