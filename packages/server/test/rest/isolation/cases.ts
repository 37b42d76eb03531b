/**
 * The format of the REST API's tenant-isolation cases (`../isolation.test.ts`): one file per area
 * (`system.ts`, `datasets.ts`, ...) exports `cases`, keyed by `group.endpoint` of `RestApi`, and
 * `index.ts` gathers them.
 *
 * A case makes the owner's records through the HTTP API and says what a stranger (a user of
 * another tenant) sends: the owner's ids. The matrix calls the endpoint as the stranger and expects
 * HTTP 200 with `code` (102, as for an unknown id, unless RAGFlow answers otherwise), and the owner's
 * `readBack` equal before and after.
 */
import type { Account, Reply, SeedServer } from "../../support/seedServer.js"

export interface Send {
  readonly json?: unknown
  readonly query?: Record<string, string | number | boolean>
  readonly body?: string | Uint8Array | FormData
  /** Values of the path's `:param` segments. */
  readonly params?: Record<string, string>
}

export interface Context {
  readonly server: SeedServer
  readonly owner: Account
  readonly stranger: Account
  /** Calls the REST endpoint `key` (`group.endpoint`) as `who`, with its declared method and path. */
  readonly send: (key: string, who: Account, options?: Send) => Promise<Reply>
  /** A fresh unique name, for records the cases make. */
  readonly unique: (prefix: string) => string
}

export interface RestCase {
  /** Makes the owner's records; answers what the stranger sends (every id field of the route: path params, query, body). */
  readonly setup: (ctx: Context) => Promise<Send>
  /** What the owner sees of the records named; equal before and after the stranger's call. */
  readonly readBack: (ctx: Context, sent: Send) => Promise<unknown>
  /** The code the stranger gets: 102 unless RAGFlow answers otherwise. */
  readonly code?: number
  /** Id-like fields of the route that name no record of a tenant (e.g. a client's free-form `user_id`). */
  readonly notRecords?: ReadonlyArray<string>
}

export type Cases = Readonly<Record<string, RestCase>>

/** The body of a reply that succeeded (code 0), or a thrown error describing it. */
export const dataOf = (reply: Reply): any => {
  if (reply.status !== 200 || reply.body?.code !== 0) {
    throw new Error(`expected success, got ${reply.status} ${typeof reply.body === "string" ? reply.body.slice(0, 300) : JSON.stringify(reply.body)}`)
  }
  return reply.body.data
}
