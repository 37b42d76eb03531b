/**
 * The Promise client, for hosts that do not use Effect:
 *
 *   const rag = await createRagClient(Rag.layer(ports, plugins))
 *   const me = await rag.localCaller()
 *   const kb = await rag.knowledgeBases.create(me, { name: "Manuals" })
 *   await rag.dispose()
 *
 * Every operation a service declares (`KnowledgeBases.Operations`, ...) becomes an async function
 * that takes the caller (when the operation has one) and the request as plain data: the request is
 * decoded with the operation's schema, so bad input rejects with `InvalidInput` naming the field
 * before the service runs. A failure rejects with the typed error itself (`err._tag === "NotFound"`,
 * `err instanceof NotFound`), never a wrapper.
 */
import { Cause, Effect, Exit, Layer, ManagedRuntime, Option, Schema, Stream } from "effect"
import { Caller } from "./domain/Caller.js"
import type { InvalidInput } from "./domain/Errors.js"
import { decodeRequest, type Operation } from "./domain/Fields.js"
import type { TenantId } from "./domain/Ids.js"
import { RecordStore } from "./ports/RecordStore.js"
import type { DocumentChange } from "./services/DocumentChanges.js"
import type { Ports, Services } from "./Rag.js"
import * as ApiTokens from "./services/ApiTokens.js"
import * as Chunks from "./services/Chunks.js"
import * as Completions from "./services/Completions.js"
import * as Conversations from "./services/Conversations.js"
import * as Dialogs from "./services/Dialogs.js"
import * as Documents from "./services/Documents.js"
import * as KnowledgeBases from "./services/KnowledgeBases.js"
import * as Models from "./services/Models.js"
import * as Retrieval from "./services/Retrieval.js"
import * as System from "./services/System.js"
import * as Tenants from "./services/Tenants.js"
import * as Users from "./services/Users.js"
import { randomToken } from "./services/internal/secrets.js"

type Operations = Readonly<Record<string, Operation<Schema.Schema.AnyNoContext, Schema.Schema.AnyNoContext, boolean>>>

/** The result a service method gives. */
type Result<M> = M extends (...args: ReadonlyArray<any>) => Effect.Effect<infer A, any, any> ? A : never

/** A service's operations as async functions over plain (encoded) requests. */
export type Client<S, O extends Operations> = {
  readonly [K in keyof O & keyof S]: O[K] extends Operation<infer Req, any, infer WithCaller>
    ? WithCaller extends false
      ? (request: Schema.Schema.Encoded<Req>) => Promise<Result<S[K]>>
      : (caller: Caller, request: Schema.Schema.Encoded<Req>) => Promise<Result<S[K]>>
    : never
}

/**
 * Holds when every operation's decoded request is what the service method takes: a service and
 * its `Operations` cannot drift apart without a type error here.
 */
type Conforms<S, O extends Operations> = {
  readonly [K in keyof O]: K extends keyof S
    ? O[K] extends Operation<infer Req, any, infer WithCaller>
      ? WithCaller extends false
        ? (request: Schema.Schema.Type<Req>) => Effect.Effect<unknown, unknown>
        : (caller: Caller, request: Schema.Schema.Type<Req>) => Effect.Effect<unknown, unknown>
      : never
    : never
}
const conforms = <S extends Conforms<S, O>, O extends Operations>(_service: S, _operations: O): void => undefined

export interface LocalUserOptions {
  readonly email?: string
  readonly nickname?: string
  /** Sets the tenant's default embedding model when the local user is first created. */
  readonly embeddingModel?: string
  readonly chatModel?: string
}

export interface RagClient {
  readonly users: Client<Users.UsersService, typeof Users.Operations>
  readonly tenants: Client<Tenants.TenantsService, typeof Tenants.Operations>
  readonly apiTokens: Client<ApiTokens.ApiTokensService, typeof ApiTokens.Operations>
  readonly models: Client<Models.ModelsService, typeof Models.Operations>
  readonly knowledgeBases: Client<KnowledgeBases.KnowledgeBasesService, typeof KnowledgeBases.Operations>
  /**
   * `changes` gives the run state changes of the caller's documents as they come (`for await`),
   * subscribed when the loop starts (see `Documents.changes`); leaving the loop unsubscribes.
   */
  readonly documents: Client<Documents.DocumentsService, typeof Documents.Operations> & {
    readonly changes: (
      caller: Caller,
      request: Schema.Schema.Encoded<typeof Documents.ChangesRequest>
    ) => AsyncIterable<DocumentChange>
  }
  readonly chunks: Client<Chunks.ChunksService, typeof Chunks.Operations>
  readonly dialogs: Client<Dialogs.DialogsService, typeof Dialogs.Operations>
  readonly conversations: Client<Conversations.ConversationsService, typeof Conversations.Operations>
  readonly retrieval: Client<Retrieval.RetrievalService, typeof Retrieval.Operations>
  readonly system: Client<System.SystemService, typeof System.Operations>
  /**
   * `complete` answers at once; `stream` gives the same answer's events as they come (`for await`),
   * rejecting with the typed error; leaving the loop early stops the answer, which is stored as
   * incomplete.
   */
  readonly completions: Client<Completions.CompletionsService, typeof Completions.Operations> & {
    readonly stream: (
      caller: Caller,
      request: Schema.Schema.Encoded<typeof Completions.CompleteRequest>
    ) => AsyncIterable<Completions.CompletionEvent>
  }
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

/** A service's operations over plain (encoded) requests, decoded first: for Effect hosts taking untrusted input. */
export type Decoding<S, O extends Operations> = {
  readonly [K in keyof O & keyof S]: O[K] extends Operation<infer Req, any, infer WithCaller>
    ? S[K] extends (...args: ReadonlyArray<any>) => Effect.Effect<infer A, infer E, infer R>
      ? WithCaller extends false
        ? (request: Schema.Schema.Encoded<Req>) => Effect.Effect<A, E | InvalidInput, R>
        : (caller: Caller, request: Schema.Schema.Encoded<Req>) => Effect.Effect<A, E | InvalidInput, R>
      : never
    : never
}

/**
 * The service with each operation decoding its request first (`InvalidInput` naming the field),
 * as the HTTP surfaces and the Promise client do.
 */
export const decoding = <S extends object, O extends Operations>(service: S, operations: O): Decoding<S, O> => {
  const out: Record<string, unknown> = {}
  for (const [name, operation] of Object.entries(operations)) {
    const method = (service as Record<string, (...args: Array<unknown>) => Effect.Effect<unknown, unknown>>)[name]!
    const decode = decodeRequest(operation.request)
    out[name] = operation.caller
      ? (caller: Caller, request: unknown) => Effect.flatMap(decode(request), (decoded) => method(caller, decoded))
      : (request: unknown) => Effect.flatMap(decode(request), (decoded) => method(decoded))
  }
  return out as Decoding<S, O>
}

type Run = <A, E>(effect: Effect.Effect<A, E>) => Promise<A>

const client = <S extends object, O extends Operations>(service: S, operations: O, run: Run): Client<S, O> => {
  const out: Record<string, unknown> = {}
  for (const [name, method] of Object.entries(decoding(service, operations))) {
    out[name] = (...args: Array<unknown>) => run((method as (...a: Array<unknown>) => Effect.Effect<unknown, unknown>)(...args))
  }
  return out as Client<S, O>
}

/**
 * Builds the engine from a layer (stores, parsers and model plugins included) and returns its
 * operations as async functions. Resources are acquired here, so a bad configuration fails now.
 */
export const createRagClient = async <E>(layer: Layer.Layer<Services | Ports, E, never>): Promise<RagClient> => {
  const runtime = ManagedRuntime.make(layer)
  const run = async <A, E2>(effect: Effect.Effect<A, E2, Services | Ports>): Promise<A> => {
    const exit = await runtime.runPromiseExit(effect)
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  }
  try {
    const services = await run(
      Effect.all({
        users: Users.Users,
        tenants: Tenants.Tenants,
        apiTokens: ApiTokens.ApiTokens,
        models: Models.Models,
        knowledgeBases: KnowledgeBases.KnowledgeBases,
        documents: Documents.Documents,
        chunks: Chunks.Chunks,
        dialogs: Dialogs.Dialogs,
        conversations: Conversations.Conversations,
        retrieval: Retrieval.Retrieval,
        completions: Completions.Completions,
        system: System.System
      })
    )
    conforms(services.users, Users.Operations)
    conforms(services.tenants, Tenants.Operations)
    conforms(services.apiTokens, ApiTokens.Operations)
    conforms(services.models, Models.Operations)
    conforms(services.knowledgeBases, KnowledgeBases.Operations)
    conforms(services.documents, Documents.Operations)
    conforms(services.chunks, Chunks.Operations)
    conforms(services.dialogs, Dialogs.Operations)
    conforms(services.conversations, Conversations.Operations)
    conforms(services.retrieval, Retrieval.Operations)
    conforms(services.completions, Completions.Operations)
    conforms(services.system, System.Operations)
    const engineRuntime = await runtime.runtime()
    const decodeCompletion = decodeRequest(Completions.CompleteRequest)
    const decodeChanges = decodeRequest(Documents.ChangesRequest)

    const localCaller = (options: LocalUserOptions = {}) =>
      run(
        Effect.gen(function* () {
          const store = yield* RecordStore
          const email = (options.email ?? "local@ragkit.local").trim().toLowerCase()
          const existing = yield* store.users.findFirst({ email })
          if (Option.isSome(existing)) {
            return new Caller({ tenantId: existing.value.id as string as TenantId, userId: existing.value.id })
          }
          const registration = yield* decodeRequest(Users.RegisterRequest)({
            email,
            nickname: options.nickname ?? "local",
            password: randomToken(24)
          })
          const user = yield* services.users.register(registration, { byHost: true })
          const caller = new Caller({ tenantId: user.id as string as TenantId, userId: user.id })
          if (options.embeddingModel !== undefined || options.chatModel !== undefined) {
            const defaults = yield* decodeRequest(Models.SetDefaultsRequest)({
              ...(options.embeddingModel === undefined ? {} : { embd_id: options.embeddingModel }),
              ...(options.chatModel === undefined ? {} : { llm_id: options.chatModel })
            })
            yield* services.models.setDefaults(caller, defaults)
          }
          return caller
        })
      )

    return {
      users: client(services.users, Users.Operations, run),
      tenants: client(services.tenants, Tenants.Operations, run),
      apiTokens: client(services.apiTokens, ApiTokens.Operations, run),
      models: client(services.models, Models.Operations, run),
      knowledgeBases: client(services.knowledgeBases, KnowledgeBases.Operations, run),
      documents: {
        ...client(services.documents, Documents.Operations, run),
        changes: (caller, request) =>
          Stream.toAsyncIterableRuntime(
            Stream.unwrapScoped(Effect.flatMap(decodeChanges(request), (decoded) => services.documents.changes(caller, decoded))),
            engineRuntime
          )
      },
      chunks: client(services.chunks, Chunks.Operations, run),
      dialogs: client(services.dialogs, Dialogs.Operations, run),
      conversations: client(services.conversations, Conversations.Operations, run),
      retrieval: client(services.retrieval, Retrieval.Operations, run),
      system: client(services.system, System.Operations, run),
      completions: {
        ...client(services.completions, Completions.Operations, run),
        stream: (caller, request) =>
          Stream.toAsyncIterableRuntime(
            Stream.unwrap(Effect.map(decodeCompletion(request), (decoded) => services.completions.stream(caller, decoded))),
            engineRuntime
          )
      },
      localCaller,
      run,
      dispose: () => runtime.dispose()
    }
  } catch (error) {
    await runtime.dispose()
    throw error
  }
}

