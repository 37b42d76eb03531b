/**
 * PGlite in a thread of its own (`pgliteThread.mjs`), and node-postgres connected to it through a
 * `Duplex` that carries the Postgres wire protocol, as a socket to a server would.
 *
 * PGlite runs each statement synchronously in the thread that holds it. In the opening thread, a
 * long statement (building an HNSW index, writing a document's thousands of chunks and postings)
 * stopped the event loop for seconds: the HTTP server answered nothing meanwhile, and keep-alive
 * connections whose timers expired during the stop were reset under their next request.
 *
 * Writes made in one tick (node-postgres writes Parse, Bind, Describe, Execute and Sync one by one)
 * go to the thread as one message; the thread answers each message in order.
 */
import { Duplex } from "node:stream"
import { Worker } from "node:worker_threads"

export interface ThreadOptions {
  readonly dataDir: string
  readonly pgvector: boolean
  /** Added to PGlite's default start parameters. */
  readonly startParams: ReadonlyArray<string>
}

/** The thread could not open the database; `code` is Node's (e.g. `ERR_MODULE_NOT_FOUND`). */
export class ThreadOpenError extends Error {
  constructor(message: string, readonly code: unknown) {
    super(message)
  }
}

export interface PgliteThread {
  /** A connection's stream, for node-postgres's `stream` setting. */
  readonly socket: () => Duplex
  /** Closes the database, then stops the thread. */
  readonly close: () => Promise<void>
}

type FromThread =
  | { readonly ready: true }
  | { readonly fatal: string; readonly code?: unknown }
  | { readonly id: number; readonly bytes: Uint8Array }
  | { readonly id: number; readonly error: string }
  | { readonly closed: true; readonly error?: string }

const threadUrl = new URL("./pgliteThread.mjs", import.meta.url)

/** node-postgres's Terminate message: the database stays open until the layer closes it. */
const isTerminate = (chunk: Uint8Array) => chunk.length === 5 && chunk[0] === 0x58

class ThreadSocket extends Duplex {
  #pending: Array<Uint8Array> = []
  #scheduled = false

  constructor(private readonly send: (bytes: Uint8Array) => Promise<Uint8Array>) {
    super()
  }

  // What node-postgres calls on a socket.
  connect(): this {
    process.nextTick(() => this.emit("connect"))
    return this
  }
  setNoDelay(): this {
    return this
  }
  setKeepAlive(): this {
    return this
  }
  ref(): this {
    return this
  }
  unref(): this {
    return this
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!isTerminate(chunk)) {
      this.#pending.push(chunk)
      if (!this.#scheduled) {
        this.#scheduled = true
        process.nextTick(() => this.#flush())
      }
    }
    callback()
  }

  #flush(): void {
    this.#scheduled = false
    const bytes = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending)
    this.#pending = []
    this.send(bytes).then(
      (answer) => {
        if (answer.length > 0) this.push(Buffer.from(answer.buffer, answer.byteOffset, answer.byteLength))
      },
      (error: Error) => this.destroy(error)
    )
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.push(null)
    callback()
  }
}

/** Starts the thread and opens the database in it; rejects with `ThreadOpenError` if it cannot. */
export const startThread = (options: ThreadOptions): Promise<PgliteThread> =>
  new Promise((resolve, reject) => {
    const worker = new Worker(threadUrl, { workerData: options, execArgv: [] })
    const waiting = new Map<number, { resolve: (bytes: Uint8Array) => void; reject: (error: Error) => void }>()
    let nextId = 0
    let stopped: Error | undefined
    let opened = false
    let closed: (() => void) | undefined

    // A thread with nothing asked of it does not keep the process alive; one with a statement does.
    worker.unref()
    const stop = (error: Error) => {
      stopped ??= error
      for (const request of waiting.values()) request.reject(stopped)
      waiting.clear()
      if (!opened) reject(stopped)
      closed?.()
    }
    worker.on("error", (error) => stop(new Error(`the PGlite thread failed: ${error.message}`)))
    worker.on("exit", (code) => stop(new Error(`the PGlite thread stopped (exit code ${code})`)))
    worker.on("message", (message: FromThread) => {
      if ("ready" in message) {
        opened = true
        return resolve({ socket, close })
      }
      if ("fatal" in message) {
        const error = new ThreadOpenError(message.fatal, message.code)
        stop(error)
        void worker.terminate()
        return
      }
      if ("closed" in message) return closed?.()
      const request = waiting.get(message.id)
      if (request === undefined) return
      waiting.delete(message.id)
      if (waiting.size === 0) worker.unref()
      if ("bytes" in message) request.resolve(message.bytes)
      else request.reject(new Error(`PGlite: ${message.error}`))
    })

    const send = (bytes: Uint8Array): Promise<Uint8Array> =>
      new Promise((resolveBytes, rejectBytes) => {
        if (stopped !== undefined) return rejectBytes(stopped)
        const id = nextId++
        if (waiting.size === 0) worker.ref()
        waiting.set(id, { resolve: resolveBytes, reject: rejectBytes })
        worker.postMessage({ id, bytes })
      })

    const socket = () => new ThreadSocket(send)

    const close = async () => {
      if (stopped === undefined) {
        worker.ref()
        await new Promise<void>((done) => {
          closed = done
          worker.postMessage({ close: true })
        })
      }
      await worker.terminate()
    }
  })
