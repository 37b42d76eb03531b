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
 *   gives. A busy thread is also sent the next job, which it starts as soon as it posts the
 *   current one's result: it never waits for this thread to read a result and send more work.
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
  /** Interrupted after it was sent to a thread: its answer is dropped. */
  abandoned: boolean
}

/** Jobs a thread holds at once: the one it runs and the next, sent ahead. */
const jobsPerThread = 2

interface Slot {
  worker: Worker
  ready: boolean
  /** The jobs sent to the thread, in order: the first runs, the others wait in the thread. */
  jobs: Array<Job>
  /** Ends the running job when it runs past the time limit. */
  timer: ReturnType<typeof setTimeout> | undefined
  /** Stops the thread when it has been idle for `idleTimeoutMs`. */
  idle: ReturnType<typeof setTimeout> | undefined
}

const stopTimer = (slot: Slot) => {
  if (slot.timer !== undefined) clearTimeout(slot.timer)
  slot.timer = undefined
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

    /** The job that runs on the slot's thread from now on: its time limit starts. */
    const running = (slot: Slot) => {
      stopTimer(slot)
      const job = slot.jobs[0]
      if (job !== undefined) slot.timer = setTimeout(() => overtime(slot, job), timerMs)
    }

    const send = (slot: Slot, job: Job) => {
      if (slot.idle !== undefined) clearTimeout(slot.idle)
      slot.idle = undefined
      slot.jobs.push(job)
      if (slot.jobs.length === 1) running(slot)
      slot.worker.ref()
      slot.worker.postMessage({ job: job.id, input: exactBytes(job.input) } satisfies ToThread)
    }

    /**
     * Queued jobs to threads: one to each free thread; then, when every thread the pool may have is
     * up and busy (none is free, starting or left to start), one ahead to each.
     */
    const dispatch = () => {
      for (let depth = 1; depth <= jobsPerThread && queue.length > 0; depth++) {
        if (depth > 1 && (slots.length < size || slots.some((slot) => !slot.ready || slot.jobs.length === 0))) break
        for (const slot of slots) {
          if (!slot.ready || slot.jobs.length >= depth) continue
          const job = queue.shift()
          if (job === undefined) break
          send(slot, job)
        }
      }
      if (idleTimeoutMs !== undefined) {
        for (const slot of slots) if (slot.ready && slot.jobs.length === 0 && slot.idle === undefined) idleFrom(slot)
      }
    }

    /**
     * The slot's thread is gone or going: its running job, which the caller settles, and the jobs
     * it had not started back at the head of the queue (those interrupted meanwhile dropped).
     */
    const evict = (slot: Slot): Job | undefined => {
      stopTimer(slot)
      const [job, ...waiting] = slot.jobs.splice(0)
      queue.unshift(...waiting.filter((w) => !w.abandoned))
      return job
    }

    /** A free thread stops after `idleTimeoutMs` without a job; the pool starts one again on demand. */
    const idleFrom = (slot: Slot) => {
      slot.idle = setTimeout(() => {
        slot.idle = undefined
        if (closed || slot.jobs.length > 0 || !slots.includes(slot)) return
        slots.splice(slots.indexOf(slot), 1)
        void slot.worker.terminate()
        // Jobs that wait (all threads were busy) get their threads started again.
        if (queue.length > 0) grow()
      }, Math.min(idleTimeoutMs!, 2 ** 31 - 1))
      slot.idle.unref()
    }

    /**
     * Stops the thread that runs a job (a new one takes its place); the job is the caller's to
     * settle, the ones sent after it go back to the queue.
     */
    const replace = (slot: Slot) => {
      evict(slot)
      const worker = slot.worker
      spawn(slot)
      void worker.terminate()
    }

    /** The job ran past the time limit: it fails, and its thread is replaced. */
    const overtime = (slot: Slot, job: Job) => {
      if (slot.jobs[0] !== job) return
      replace(slot)
      if (!job.abandoned) job.settle(Effect.fail(
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
      const current: Slot = slot ?? { worker, ready: false, jobs: [], timer: undefined, idle: undefined }
      current.worker = worker
      current.ready = false
      evict(current)
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
        // The thread answers its jobs in the order it was sent them, but a job canceled before it
        // started at once.
        const at = current.worker === worker ? current.jobs.findIndex((j) => j.id === message.job) : -1
        if (at < 0) return
        const job = current.jobs.splice(at, 1)[0]!
        if (at === 0) running(current)
        if (current.jobs.length === 0) worker.unref()
        if (job.abandoned) {
          // Interrupted after it was sent: its answer (or "dropped") goes nowhere.
        } else if ("done" in message) job.settle(Effect.succeed(message.done))
        else if ("failed" in message) job.settle(Effect.fail(new ParseError(message.failed)))
        else if ("died" in message) died(job, new Error(message.died), maxMemoryMb)
        dispatch()
      })
      worker.on("error", (error) => {
        if (current.worker !== worker) return
        // Its answers so far were read first (Node delivers them before the error): the job that
        // runs now is the one that died.
        const job = evict(current)
        if (job !== undefined && !job.abandoned) died(job, error, maxMemoryMb)
        if (!current.ready) fatal(error)
      })
      worker.on("exit", () => {
        if (closed || current.worker !== worker || !slots.includes(current)) return
        // Died (an error, out of memory): its job was failed above; a new thread takes its place.
        const job = evict(current)
        if (job !== undefined && !job.abandoned) died(job, new Error("the thread exited"), maxMemoryMb)
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
      const free = slots.filter((slot) => slot.jobs.length === 0).length
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
            stopTimer(slot)
            for (const job of slot.jobs.splice(0)) if (!job.abandoned) job.settle(Effect.fail(stopped()))
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
          const job: Job = { id: nextJob++, input, settle: (result) => resume(Effect.succeed(result)), abandoned: false }
          queue.push(job)
          grow()
          dispatch()
          // Interrupted: drop the job; stop the thread that runs it (a new one takes its place); or
          // tell the thread that holds it not to start it.
          return Effect.sync(() => {
            const queued = queue.indexOf(job)
            if (queued >= 0) return void queue.splice(queued, 1)
            const slot = slots.find((s) => s.jobs.includes(job))
            if (slot === undefined) return
            job.abandoned = true
            if (slot.jobs[0] === job) replace(slot)
            else slot.worker.postMessage({ cancel: job.id } satisfies ToThread)
          })
        })
      )

    return DocumentPreparer.DocumentPreparer.of({ prepare })
  })

/** `DocumentPreparer` on a pool of parser threads (see the module doc). */
export const layer = (options: Options = {}): Layer.Layer<DocumentPreparer.DocumentPreparer, ParseError> =>
  Layer.scoped(DocumentPreparer.DocumentPreparer, make(options))
