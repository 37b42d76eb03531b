/**
 * The Promise facade, for hosts that do not use Effect:
 *
 *   const rag = await createRag(Rag.layer(ports, plugins))
 *   const me = await rag.localCaller()
 *   const kb = await rag.knowledgeBases.create(me, { name: "Manuals" })
 *   await rag.dispose()
 *
 * Every service method becomes an async function with the same arguments. A failure rejects with
 * the typed error itself (`err._tag === "NotFound"`, `err instanceof NotFound`), never a wrapper.
 */
import { Cause, Context, Effect, Exit, Layer, ManagedRuntime, Option } from "effect"
import { Caller } from "./domain/Caller.js"
import type { TenantId } from "./domain/Ids.js"
import { RecordStore } from "./ports/RecordStore.js"
import type { Ports, Services } from "./Rag.js"
import { ApiTokens } from "./services/ApiTokens.js"
import { Conversations } from "./services/Conversations.js"
import { Dialogs } from "./services/Dialogs.js"
import { Documents } from "./services/Documents.js"
import { KnowledgeBases } from "./services/KnowledgeBases.js"
import { Models } from "./services/Models.js"
import { Retrieval } from "./services/Retrieval.js"
import { Tenants } from "./services/Tenants.js"
import { Users } from "./services/Users.js"
import { randomToken } from "./services/internal/secrets.js"

/** A service with each `(...args) => Effect<A, E>` method turned into `(...args) => Promise<A>`. */
export type Promised<S> = {
  readonly [K in keyof S as S[K] extends (...args: ReadonlyArray<any>) => Effect.Effect<any, any, never> ? K : never]: S[K] extends (
    ...args: infer P
  ) => Effect.Effect<infer A, any, never>
    ? (...args: P) => Promise<A>
    : never
}

export interface LocalUserOptions {
  readonly email?: string
  readonly nickname?: string
  /** Sets the tenant's default embedding model when the local user is first created. */
  readonly embeddingModel?: string
  readonly chatModel?: string
}

export interface Rag {
  readonly users: Promised<Context.Tag.Service<Users>>
  readonly tenants: Promised<Context.Tag.Service<Tenants>>
  readonly apiTokens: Promised<Context.Tag.Service<ApiTokens>>
  readonly models: Promised<Context.Tag.Service<Models>>
  readonly knowledgeBases: Promised<Context.Tag.Service<KnowledgeBases>>
  readonly documents: Promised<Context.Tag.Service<Documents>>
  readonly dialogs: Promised<Context.Tag.Service<Dialogs>>
  readonly conversations: Promised<Context.Tag.Service<Conversations>>
  readonly retrieval: Promised<Context.Tag.Service<Retrieval>>
  /**
   * The caller of a single-user host: the local user (by default `local@ragkit.local`) and its
   * tenant, created on first use.
   */
  readonly localCaller: (options?: LocalUserOptions) => Promise<Caller>
  /** Runs any Effect against the engine, for hosts that mix the two styles. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, Services | Ports>) => Promise<A>
  /** Releases every resource (database, files, model sessions). */
  readonly dispose: () => Promise<void>
}

const promised = <S extends object>(service: S, run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>): Promised<S> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(service)) {
    if (typeof value === "function") {
      out[key] = (...args: Array<unknown>) => {
        const result: unknown = (value as (...a: Array<unknown>) => unknown).apply(service, args)
        return Effect.isEffect(result) ? run(result as Effect.Effect<unknown, unknown>) : Promise.resolve(result)
      }
    }
  }
  return out as Promised<S>
}

/**
 * Builds the engine from a layer (stores, parsers and model plugins included) and returns its
 * services as async functions. Resources are acquired here, so a bad configuration fails now.
 */
export const createRag = async <E>(layer: Layer.Layer<Services | Ports, E, never>): Promise<Rag> => {
  const runtime = ManagedRuntime.make(layer)
  const run = async <A, E2>(effect: Effect.Effect<A, E2, Services | Ports>): Promise<A> => {
    const exit = await runtime.runPromiseExit(effect)
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  }
  try {
    const services = await run(
      Effect.all({
        users: Users,
        tenants: Tenants,
        apiTokens: ApiTokens,
        models: Models,
        knowledgeBases: KnowledgeBases,
        documents: Documents,
        dialogs: Dialogs,
        conversations: Conversations,
        retrieval: Retrieval
      })
    )

    const localCaller = (options: LocalUserOptions = {}) =>
      run(
        Effect.gen(function* () {
          const store = yield* RecordStore
          const email = (options.email ?? "local@ragkit.local").trim().toLowerCase()
          const existing = yield* store.users.findFirst({ email })
          if (Option.isSome(existing)) {
            return new Caller({ tenantId: existing.value.id as string as TenantId, userId: existing.value.id })
          }
          const user = yield* services.users.register({
            email,
            nickname: options.nickname ?? "local",
            password: randomToken(24)
          })
          const caller = new Caller({ tenantId: user.id as string as TenantId, userId: user.id })
          if (options.embeddingModel !== undefined || options.chatModel !== undefined) {
            yield* services.models.setDefaults(caller, {
              ...(options.embeddingModel === undefined ? {} : { embd_id: options.embeddingModel }),
              ...(options.chatModel === undefined ? {} : { llm_id: options.chatModel })
            })
          }
          return caller
        })
      )

    return {
      users: promised(services.users, run),
      tenants: promised(services.tenants, run),
      apiTokens: promised(services.apiTokens, run),
      models: promised(services.models, run),
      knowledgeBases: promised(services.knowledgeBases, run),
      documents: promised(services.documents, run),
      dialogs: promised(services.dialogs, run),
      conversations: promised(services.conversations, run),
      retrieval: promised(services.retrieval, run),
      localCaller,
      run,
      dispose: () => runtime.dispose()
    }
  } catch (error) {
    await runtime.dispose()
    throw error
  }
}
