/**
 * A `DocumentPreparer` on a pool of worker threads: parsing, chunking and tokenizing are CPU work,
 * and one Node thread uses one core. With the pool, one process parses on every core, and the thread
 * that runs the ingestion worker stays free for its lease heartbeats, records and index writes.
 *
 *   const Worker = Rag.layerWorkerWith(ParserThreads.layer({ threads: 2 }), { concurrency: 4 })
 *
 * - Each thread builds its own parsers, chunk methods and tokenizer from a setup module: by default
 *   `./setup.ts` (every parser of this package, OCR when `setupOptions.ocr`, the deployment's
 *   parser limits from `setupOptions.limits`), or the host's own module
 *   (`setup: new URL("./parsing.js", import.meta.url)`) exporting `layer`, a Layer of
 *   `ParserRegistry | ChunkMethodRegistry | Tokenizer`, or a function of `setupOptions` to one.
 *   The host's parsers must be configured the same way, since uploads are checked against them.
 * - Jobs queue for a free thread; a document's chunks are the same as `DocumentPreparer.layerLocal`
 *   gives.
 * - Interrupting a job (a cancel, a lost lease) terminates the thread that runs it and starts a new
 *   one, so a parse stuck in a loop stops at once.
 * - `parseTimeoutMs` limits the time one document may take on a thread (parse, chunk and tokenize;
 *   default 10 minutes): past it the thread is terminated and replaced, and the job fails with
 *   `ParseError` reason `TooLarge` naming the limit. A stuck file never holds a thread for longer.
 * - `maxMemoryMb` caps each thread's heap: a file that needs more fails with `ParseError` reason
 *   `TooLarge` and the thread is replaced; the process lives on. A thread that dies otherwise fails
 *   its job with reason `Unknown`.
 * - The layer fails with `ParseError` when a thread cannot build its setup (e.g. missing OCR models).
 * - `startOnDemand`: no thread runs until a document comes; the pool then grows, one thread per
 *   waiting document, up to `threads`. With `idleTimeoutMs`, a thread that has had no document for
 *   that long stops (each idle thread holds its own parsers, tokenizer and heap: a few hundred MiB),
 *   and the next document starts one again (a second or so of start-up).
 */
import { DocumentPreparer, ParseError } from "@ragkit/core"
import { Deferred, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import type { FromThread, ThreadData, ToThread } from "./protocol.js"

export interface Options {
  /** Threads in the pool. Default: the machine's available parallelism. */
  readonly threads?: number
  /** The module that builds each thread's parsing layer. Default: this package's `setup` module. */
  readonly setup?: URL | string
  /**
   * Given to the setup module's `layer` function (structured-cloned to each thread). The default
   * setup takes `SetupOptions`: `{ ocr, limits }`, the limits the host's parsers have.
   */
  readonly setupOptions?: unknown
  /** Heap limit of each thread in MiB (`resourceLimits.maxOldGenerationSizeMb`). Default 2048. */
  readonly maxMemoryMb?: number
  /** Time one document may take on a thread, in milliseconds. Default 600,000 (10 minutes). */
  readonly parseTimeoutMs?: number
  /**
   * Start no thread when the layer is built: one starts per waiting document, up to `threads`. A
   * setup that cannot be built then fails that document and every later one.
   */
  readonly startOnDemand?: boolean
  /**
   * Stop a thread that has had no document for this long, in milliseconds; the pool starts one
   * again when documents come. Default: threads never stop.
   */
  readonly idleTimeoutMs?: number
}

export const defaultParseTimeoutMs = 10 * 60 * 1000

const duration = (ms: number): string =>
  ms % 60_000 === 0 ? `${ms / 60_000} min` : ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`

const bootUrl = new URL("./boot.mjs", import.meta.url)
const entryUrl = new URL(`./thread${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url)
const defaultSetupUrl = new URL(`./setup${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url)
/**
 * From the sources (the workspace), a thread resolves our packages through their `development`
 * export condition, as the thread that starts it does; from `dist/`, it takes no flag.
 */
const threadExecArgv = import.meta.url.endsWith(".ts") ? ["--conditions=development"] : []

/**
 * The input with bytes that own their buffer: posting a view (a Node Buffer from a pool, a slice of
 * a larger upload) would copy its whole backing buffer to the thread.
 */
const exactBytes = (input: DocumentPreparer.PrepareInput): DocumentPreparer.PrepareInput => {
  const { bytes } = input
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? input : { ...input, bytes: new Uint8Array(bytes) }
}

interface Job {
  readonly id: number
  readonly input: DocumentPreparer.PrepareInput
  readonly settle: (result: Effect.Effect<DocumentPreparer.PreparedDocument, ParseError>) => void
}

interface Slot {
  worker: Worker
  ready: boolean
  job: Job | undefined
  /** Ends the job when it runs past the time limit. */
  timer: ReturnType<typeof setTimeout> | undefined
  /** Stops the thread when it has been idle for `idleTimeoutMs`. */
  idle: ReturnType<typeof setTimeout> | undefined
}

/** The slot's job, which the slot gives up (its timer stopped). */
const takeJob = (slot: Slot): Job | undefined => {
  const job = slot.job
  slot.job = undefined
  if (slot.timer !== undefined) clearTimeout(slot.timer)
  slot.timer = undefined
  return job
}

const died = (job: Job, error: unknown, maxMemoryMb: number) => {
  const code = (error as { code?: unknown } | undefined)?.code
  job.settle(
    Effect.fail(
      code === "ERR_WORKER_OUT_OF_MEMORY"
        ? new ParseError({
          reason: "TooLarge",
          message: `parsing ${job.input.fileName} needs more than the parser thread's ${maxMemoryMb} MiB of memory`
        })
        : new ParseError({
          reason: "Unknown",
          message: `the parser thread died while parsing ${job.input.fileName}: ${
            error instanceof Error ? error.message : String(error)
          }`
        })
    )
  )
}

/** Starts the pool; its threads are terminated when the scope closes. */
export const make = (
  options: Options = {}
): Effect.Effect<DocumentPreparer.DocumentPreparerService, ParseError, Scope.Scope> =>
  Effect.gen(function*() {
    const size = Math.max(1, Math.floor(options.threads ?? availableParallelism()))
    const maxMemoryMb = options.maxMemoryMb ?? 2048
    const parseTimeoutMs = options.parseTimeoutMs ?? defaultParseTimeoutMs
    if (!(parseTimeoutMs > 0)) throw new RangeError(`parseTimeoutMs must be positive, got ${parseTimeoutMs}`)
    const idleTimeoutMs = options.idleTimeoutMs
    if (idleTimeoutMs !== undefined && !(idleTimeoutMs > 0)) throw new RangeError(`idleTimeoutMs must be positive, got ${idleTimeoutMs}`)
    const onDemand = options.startOnDemand === true
    // setTimeout fires at once for delays past 2^31 - 1 ms (24.8 days).
    const timerMs = Math.min(parseTimeoutMs, 2 ** 31 - 1)
    const data: ThreadData = {
      entry: entryUrl.href,
      setup: options.setup === undefined ? defaultSetupUrl.href : new URL(options.setup).href,
      options: options.setupOptions ?? {}
    }
    const queue: Array<Job> = []
    const slots: Array<Slot> = []
    let closed = false
    /** Set when a replacement thread could not start: every job fails with it from then on. */
    let broken: ParseError | undefined
    let nextJob = 0
    const started = yield* Deferred.make<void, ParseError>()
    const stopped = () => new ParseError({ reason: "Unavailable", message: "the parser threads were stopped" })

    const dispatch = () => {
      for (const slot of slots) {
        if (!slot.ready || slot.job !== undefined) continue
        const job = queue.shift()
        if (job === undefined) break
        if (slot.idle !== undefined) clearTimeout(slot.idle)
        slot.idle = undefined
        slot.job = job
        slot.timer = setTimeout(() => overtime(slot, job), timerMs)
        slot.worker.ref()
        slot.worker.postMessage({ job: job.id, input: exactBytes(job.input) } satisfies ToThread)
      }
      if (idleTimeoutMs !== undefined) {
        for (const slot of slots) if (slot.ready && slot.job === undefined && slot.idle === undefined) idleFrom(slot)
      }
    }

    /** A free thread stops after `idleTimeoutMs` without a job; the pool starts one again on demand. */
    const idleFrom = (slot: Slot) => {
      slot.idle = setTimeout(() => {
        slot.idle = undefined
        if (closed || slot.job !== undefined || !slots.includes(slot)) return
        slots.splice(slots.indexOf(slot), 1)
        void slot.worker.terminate()
        // Jobs that wait (all threads were busy) get their threads started again.
        if (queue.length > 0) grow()
      }, Math.min(idleTimeoutMs!, 2 ** 31 - 1))
      slot.idle.unref()
    }

    /** Stops the thread that runs a job (a new one takes its place); the job is the caller's to settle. */
    const replace = (slot: Slot) => {
      takeJob(slot)
      const worker = slot.worker
      spawn(slot)
      void worker.terminate()
    }

    /** The job ran past the time limit: it fails, and its thread is replaced. */
    const overtime = (slot: Slot, job: Job) => {
      if (slot.job !== job) return
      replace(slot)
      job.settle(Effect.fail(
        new ParseError({
          reason: "TooLarge",
          message: `parsing ${job.input.fileName} took longer than the parse time limit of ${duration(parseTimeoutMs)}`
        })
      ))
    }

    /** A thread could not build its setup: fails the start, or every job from now on. */
    const fatal = (error: Error) => {
      const failure = new ParseError({ reason: "Unavailable", message: `a parser thread could not start: ${error.message}` })
      Deferred.unsafeDone(started, Effect.fail(failure))
      broken = failure
      for (const job of queue.splice(0)) job.settle(Effect.fail(failure))
    }

    const spawn = (slot?: Slot): Slot => {
      const worker = new Worker(bootUrl, {
        workerData: data,
        execArgv: threadExecArgv,
        resourceLimits: { maxOldGenerationSizeMb: maxMemoryMb }
      })
      const current: Slot = slot ?? { worker, ready: false, job: undefined, timer: undefined, idle: undefined }
      current.worker = worker
      current.ready = false
      takeJob(current)
      if (current.idle !== undefined) clearTimeout(current.idle)
      current.idle = undefined
      worker.on("message", (message: FromThread) => {
        if ("ready" in message) {
          current.ready = true
          // An idle thread does not keep the process alive; one with a job does.
          worker.unref()
          if (slots.every((s) => s.ready)) Deferred.unsafeDone(started, Effect.void)
          return dispatch()
        }
        if ("fatal" in message) return fatal(new Error(message.fatal))
        if (current.worker !== worker || current.job?.id !== message.job) return
        const job = takeJob(current)!
        worker.unref()
        if ("done" in message) job.settle(Effect.succeed(message.done))
        else if ("failed" in message) job.settle(Effect.fail(new ParseError(message.failed)))
        else died(job, new Error(message.died), maxMemoryMb)
        dispatch()
      })
      worker.on("error", (error) => {
        if (current.worker !== worker) return
        const job = takeJob(current)
        if (job !== undefined) died(job, error, maxMemoryMb)
        if (!current.ready) fatal(error)
      })
      worker.on("exit", () => {
        if (closed || current.worker !== worker || !slots.includes(current)) return
        // Died (an error, out of memory): its job was failed above; a new thread takes its place.
        const job = takeJob(current)
        if (job !== undefined) died(job, new Error("the thread exited"), maxMemoryMb)
        if (current.ready) spawn(current)
      })
      return current
    }

    /**
     * Starts threads: all of them at once (`startOnDemand` unset), or as many as the queued jobs
     * need beyond the threads that are free or starting, up to `threads`.
     */
    const grow = () => {
      if (closed || broken !== undefined) return
      if (!onDemand) {
        while (slots.length < size) slots.push(spawn())
        return
      }
      const free = slots.filter((slot) => slot.job === undefined).length
      for (let more = queue.length - free; more > 0 && slots.length < size; more--) slots.push(spawn())
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        if (!onDemand) grow()
      }),
      () =>
        Effect.promise(() => {
          closed = true
          for (const job of queue.splice(0)) job.settle(Effect.fail(stopped()))
          for (const slot of slots) {
            if (slot.idle !== undefined) clearTimeout(slot.idle)
            takeJob(slot)?.settle(Effect.fail(stopped()))
          }
          return Promise.all(slots.map((slot) => slot.worker.terminate()))
        })
    )
    if (!onDemand) yield* Deferred.await(started)

    const prepare = (input: DocumentPreparer.PrepareInput): Effect.Effect<DocumentPreparer.PreparedDocument, ParseError> =>
      Effect.flatten(
        Effect.async<Effect.Effect<DocumentPreparer.PreparedDocument, ParseError>>((resume) => {
          if (closed || broken !== undefined) {
            resume(Effect.succeed(Effect.fail(broken ?? stopped())))
            return
          }
          const job: Job = { id: nextJob++, input, settle: (result) => resume(Effect.succeed(result)) }
          queue.push(job)
          grow()
          dispatch()
          // Interrupted: drop the job, or stop the thread that runs it (a new one takes its place).
          return Effect.sync(() => {
            const queued = queue.indexOf(job)
            if (queued >= 0) return void queue.splice(queued, 1)
            const slot = slots.find((s) => s.job === job)
            if (slot !== undefined) replace(slot)
          })
        })
      )

    return DocumentPreparer.DocumentPreparer.of({ prepare })
  })

/** `DocumentPreparer` on a pool of parser threads (see the module doc). */
export const layer = (options: Options = {}): Layer.Layer<DocumentPreparer.DocumentPreparer, ParseError> =>
  Layer.scoped(DocumentPreparer.DocumentPreparer, make(options))
