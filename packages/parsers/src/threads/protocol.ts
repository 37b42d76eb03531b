/** Messages between the `ParserThreads` pool and its threads (structured-cloned). */
import type { DocumentPreparer, ParseError } from "@ragkit/core"

/** What a thread is started with (`workerData`). */
export interface ThreadData {
  /** URL of the module the boot script imports: the thread's main. */
  readonly entry: string
  /** URL of the module that builds the thread's parsing layer. */
  readonly setup: string
  /** Passed to the setup module's `layer` when it is a function. */
  readonly options: unknown
}

/**
 * A job, or the cancel of a job sent earlier. The thread answers every job once, in the order it
 * was sent them, except a job canceled before it started: that one is answered `dropped` at once
 * (a job already started runs to its end).
 */
export type ToThread =
  | { readonly job: number; readonly input: DocumentPreparer.PrepareInput }
  | { readonly cancel: number }

export type FromThread =
  | { readonly ready: true }
  | { readonly fatal: string }
  | { readonly job: number; readonly done: DocumentPreparer.PreparedDocument }
  | { readonly job: number; readonly failed: { readonly reason: ParseError["reason"]; readonly message: string } }
  | { readonly job: number; readonly died: string }
  | { readonly job: number; readonly dropped: true }
