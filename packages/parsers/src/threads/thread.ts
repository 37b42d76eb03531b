/**
 * The main of a parser thread: builds the setup module's layer, then answers `prepare` jobs with
 * `DocumentPreparer.makeLocal` over it, one at a time.
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
  port.on("message", (message: ToThread) => {
    void runtime.runPromiseExit(chunker.prepare(message.input)).then((exit) => {
      if (Exit.isSuccess(exit)) return send({ job: message.job, done: exit.value })
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure) && failure.value instanceof ParseError) {
        return send({ job: message.job, failed: { reason: failure.value.reason, message: failure.value.message } })
      }
      send({ job: message.job, died: describe(exit.cause) })
    })
  })
  send({ ready: true })
}

start().catch((error: unknown) => send({ fatal: error instanceof Error ? error.message : String(error) }))
