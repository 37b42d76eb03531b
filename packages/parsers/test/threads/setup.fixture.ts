/**
 * A parser-thread setup for the pool's tests: the plain-text parser, every chunk method, and
 * parsers whose behaviour the tests control through the file name:
 * - `*.wait`: sleeps the thread for the number of milliseconds in the file, then says which thread
 *   it ran on;
 * - `*.spin`: a synchronous loop that never ends;
 * - `*.hog`: allocates memory until the thread's heap limit is hit;
 * - `*.mark`: appends a line to the file whose path is the file's content (so a test sees it ran).
 * With `{ broken: true }` the setup fails to build.
 */
import { Parser, ParseError, Tokenizer } from "@ragkit/core"
import { Effect, Layer } from "effect"
import { appendFileSync } from "node:fs"
import { threadId } from "node:worker_threads"
import * as Chunking from "../../src/chunking/index.js"

const waiting: Parser.Parser = {
  name: "wait",
  extensions: ["wait"],
  mimeTypes: [],
  parse: (input) =>
    Effect.sync(() => {
      const ms = Number(new TextDecoder().decode(input.bytes))
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
      return { sections: [{ kind: "text" as const, text: `ran on thread ${threadId}` }] }
    })
}

const spinning: Parser.Parser = {
  name: "spin",
  extensions: ["spin"],
  mimeTypes: [],
  parse: () =>
    Effect.sync(() => {
      let n = 0
      while (n >= 0) n = (n + 1) % 1_000_000
      return { sections: [] }
    })
}

const hogging: Parser.Parser = {
  name: "hog",
  extensions: ["hog"],
  mimeTypes: [],
  parse: () =>
    Effect.sync(() => {
      const kept: Array<Array<number>> = []
      for (;;) kept.push(Array.from({ length: 100_000 }, (_, i) => i * 1.5))
    })
}

const marking: Parser.Parser = {
  name: "mark",
  extensions: ["mark"],
  mimeTypes: [],
  parse: (input) =>
    Effect.sync(() => {
      appendFileSync(new TextDecoder().decode(input.bytes), `ran on thread ${threadId}\n`)
      return { sections: [{ kind: "text" as const, text: `marked on thread ${threadId}` }] }
    })
}

export const layer = (options: { readonly broken?: boolean } = {}) =>
  options.broken === true
    ? Layer.fail(new ParseError({ reason: "Unavailable", message: "the models of this setup are missing" }))
    : Layer.mergeAll(Parser.layer([Parser.TextParser, waiting, spinning, hogging, marking]), Chunking.layer).pipe(
      Layer.provideMerge(Tokenizer.layer)
    )
