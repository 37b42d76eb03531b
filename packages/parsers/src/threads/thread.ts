/**
 * The main of a parser thread: builds the setup module's layer, then answers `prepare` jobs with
 * `DocumentPreparer.makeLocal` over it, one at a time, in the order sent (see `protocol.ts`).
 */
import { ChunkMethod, DocumentPreparer, Parser, ParseError, Tokenizer } from "@ragkit/core"
import { Cause, Effect, Exit, Layer, ManagedRuntime, Option } from "effect"
import { parentPort, workerData } from "node:worker_threads"
import type { FromThread, ThreadData, ToThread } from "./protocol.js"

type Parsing = Parser.ParserRegistry | ChunkMethod.ChunkMethodRegistry | Tokenizer.Tokenizer

const port = parentPort!
const data = workerData as ThreadData
const send = (message: FromThread) => port.postMessage(message)

const describe = (cause: Cause.Cause<unknown>) => {
  const squashed = Cause.squash(cause)
  return squashed instanceof Error ? squashed.message : String(squashed)
}

const start = async () => {
  const setup = (await import(data.setup)) as { readonly layer?: unknown }
  const exported = typeof setup.layer === "function" ? setup.layer(data.options) : setup.layer
  if (!Layer.isLayer(exported)) throw new Error(`${data.setup} does not export a parsing layer named "layer"`)
  const runtime = ManagedRuntime.make(exported as Layer.Layer<Parsing, unknown>)
  const chunker = await runtime.runPromise(
    Effect.gen(function*() {
      return DocumentPreparer.makeLocal(
        yield* Parser.ParserRegistry,
        yield* ChunkMethod.ChunkMethodRegistry,
        yield* Tokenizer.Tokenizer
      )
    })
  )
  // One job at a time, in the order sent; the next may already wait here. A job starts on a later
  // turn of the event loop, after the messages that came meanwhile were read: a cancel of it among them.
  const waiting: Array<Extract<ToThread, { job: number }>> = []
  let busy = false
  const startNext = () => {
    busy = true
    setImmediate(next)
  }
  const next = (): void => {
    const message = waiting.shift()
    if (message === undefined) {
      busy = false
      return
    }
    void runtime.runPromiseExit(chunker.prepare(message.input)).then((exit) => {
      if (Exit.isSuccess(exit)) send({ job: message.job, done: exit.value })
      else {
        const failure = Cause.failureOption(exit.cause)
        if (Option.isSome(failure) && failure.value instanceof ParseError) {
          send({ job: message.job, failed: { reason: failure.value.reason, message: failure.value.message } })
        } else send({ job: message.job, died: describe(exit.cause) })
      }
      startNext()
    })
  }
  port.on("message", (message: ToThread) => {
    if ("cancel" in message) {
      const at = waiting.findIndex((w) => w.job === message.cancel)
      if (at >= 0) send({ job: waiting.splice(at, 1)[0]!.job, dropped: true })
      return
    }
    waiting.push(message)
    if (!busy) startNext()
  })
  send({ ready: true })
}

start().catch((error: unknown) => send({ fatal: error instanceof Error ? error.message : String(error) }))
