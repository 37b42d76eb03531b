/**
 * Completions: a dialog answers the last question of a conversation from its knowledge bases, with
 * citations, as a stream of events (RAGFlow's `chat` and `decorate_answer`).
 *
 * 1. The message list the client sends replaces the conversation's stored history (ids it sends are
 *    kept); its last message is the question. `dialog_id` without `conversation_id` starts a new
 *    conversation, created when the answer is stored.
 * 2. The chat model is the request's `llm_id`, else the dialog's, else the tenant's default. The
 *    prompt's declared parameters take their values from the request; a required one without a
 *    value is `InvalidInput` naming it, before any model call.
 * 3. With `refine_multiturn`, the model first rewrites the question from the conversation (when
 *    there was an earlier question); with `keyword`, it names keywords that are appended to the
 *    retrieval query.
 * 4. Retrieval uses the dialog's settings: `kb_ids`, `top_n` chunks, `top_k`, `similarity_threshold`,
 *    `vector_similarity_weight`, `rerank_id`, the request's `doc_ids`, and `meta_data_filter` (its
 *    `manual` conditions, RAGFlow's operators; the `auto` and `semi_auto` methods, which ask a model
 *    for conditions, are not applied).
 * 5. When the dialog has knowledge bases, nothing is retrieved (or nothing fits) and the prompt
 *    config has an `empty_response`, that is the answer: no model is called.
 * 6. The system prompt (`prompt_config.system` with `{knowledge}` and the parameters, plus the
 *    citation guidelines when `quote` is on) and the conversation are fitted to the model's context
 *    window (`chat/Budget.ts`): least relevant passages and oldest turns go first, never the
 *    question. The passages also go to the model as its `ChatGrounding`.
 * 7. The answer streams as `Delta` events. At its end, with `quote` on, markers are read (or
 *    inserted when the model cited nothing: `chat/Citations.ts`, with the knowledge bases'
 *    embedder, by tokens alone when it fails), the question and the answer with its reference are
 *    stored, and a `Done` event carries the answer, reference, ids and usage.
 *
 * If the stream stops before its end (the client went away, or the model failed mid-answer), what
 * was generated is stored as an answer marked `incomplete`.
 */
import { Clock, Context, Effect, Either, Layer, Option, Schema, Stream } from "effect"
import * as Budget from "../chat/Budget.js"
import * as Citations from "../chat/Citations.js"
import * as Prompt from "../chat/Prompt.js"
import { Caller } from "../domain/Caller.js"
import { ChunkPosition } from "../domain/Chunk.js"
import {
  type ChunkIndexError,
  invalid,
  type InvalidInput,
  ModelError,
  notFound,
  type NotFound,
  type StoreError
} from "../domain/Errors.js"
import * as Fields from "../domain/Fields.js"
import { ChunkId, ConversationId, DialogId, DocumentId, KnowledgeBaseId, MessageId, randomHex32 } from "../domain/Ids.js"
import { type Conversation, type Dialog, type JsonObject, Message, MessageRole } from "../domain/Records.js"
import { ChatDelta, type ChatMessage, type ChatModelService, type ChatSettings, type ChatUsage } from "../ports/ChatModel.js"
import { RecordStore } from "../ports/RecordStore.js"
import { ChineseStopWords, EnglishStopWords } from "../text/StopWords.js"
import { Tokenizer } from "../text/Tokenizer.js"
import { Conversations, DEFAULT_CONVERSATION_NAME } from "./Conversations.js"
import { LlmSetting, type PromptConfig } from "./Dialogs.js"
import { ownRecord, readableKnowledgeBase } from "./internal/access.js"
import { Models } from "./Models.js"
import { DocAgg, type MetadataCondition, MetadataOperator, Retrieval, type RetrievalResult } from "./Retrieval.js"

// ---------------------------------------------------------------------------------------------
// Requests and results

/** A message of the history a client sends; `id` is kept when given. */
export const ClientMessage = Schema.Struct({
  id: Schema.optional(MessageId),
  role: MessageRole,
  content: Fields.Text(1_000_000)
})
export type ClientMessage = typeof ClientMessage.Type

/** The history, ending with the question (a user message with text); ids once each. */
const History = Fields.List(ClientMessage).pipe(
  Schema.filter((messages) => {
    const last = messages.length - 1
    if (last < 0) return "can't be empty"
    if (messages[last]!.role !== "user") return { path: [last, "role"], message: "must be user: the last message is the question" }
    if (messages[last]!.content.trim() === "") return { path: [last, "content"], message: "can't be empty: it is the question" }
    const seen = new Set<string>()
    for (const [i, m] of messages.entries()) {
      if (m.id === undefined) continue
      if (seen.has(m.id)) return { path: [i, "id"], message: "is the id of an earlier message" }
      seen.add(m.id)
    }
    return true
  })
)

export const CompleteRequest = Schema.Struct({
  /** The conversation to answer in; absent to start one for `dialog_id`. */
  conversation_id: Schema.optional(ConversationId),
  /** The dialog of a new conversation (or, with `conversation_id`, the one it must belong to). */
  dialog_id: Schema.optional(DialogId),
  /** The history, oldest first, ending with the question: it replaces the stored messages. */
  messages: History,
  /** Overrides of the dialog's `llm_setting` for this answer (`null` unsets a key). */
  llm_setting: Schema.optional(LlmSetting),
  /** The chat model (`name@provider`) for this answer instead of the dialog's; it must be usable by the tenant. */
  llm_id: Schema.optional(Fields.Name(255)),
  /** Retrieve only from these documents of the dialog's knowledge bases. */
  doc_ids: Schema.optional(Fields.IdList(DocumentId)),
  /** Values of the system prompt's declared parameters, by key. */
  parameters: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Fields.Text(65_535) }), { default: () => ({}) }),
  /**
   * Whether the caller wants the events as they come (the default) or the answer at once: the
   * surfaces choose `stream` or `complete` by it; the service methods ignore it.
   */
  stream: Schema.optionalWith(Fields.Boolean, { default: () => true })
}).pipe(
  Schema.filter((r) =>
    r.conversation_id !== undefined || r.dialog_id !== undefined
      ? true
      : { path: ["conversation_id"], message: "is required (or dialog_id, to start a conversation)" }
  )
)
export type CompleteRequest = typeof CompleteRequest.Type

/** A chunk of a reference, named as RAGFlow's answers name them. */
export const ReferenceChunk = Schema.Struct({
  id: ChunkId,
  content: Schema.String,
  document_id: DocumentId,
  document_name: Schema.String,
  dataset_id: KnowledgeBaseId,
  /** The chunk's image, empty when it has none. */
  image_id: Schema.String,
  positions: Schema.Array(ChunkPosition),
  similarity: Schema.Number,
  vector_similarity: Schema.Number,
  term_similarity: Schema.Number
})
export type ReferenceChunk = typeof ReferenceChunk.Type

/**
 * What an answer draws on: the retrieved chunks, best first (`[ID:n]` cites `chunks[n]`; the first
 * ones are those the model read), the documents of the cited chunks (all retrieved documents when
 * none is cited), and how many chunks passed the threshold. Empty when the dialog does not quote.
 */
export const CompletionReference = Schema.Struct({
  chunks: Schema.Array(ReferenceChunk),
  doc_aggs: Schema.Array(DocAgg),
  total: Schema.Number
})
export type CompletionReference = typeof CompletionReference.Type

/** Tokens of the answer's model call: reported by the model, or counted (tiktoken) when it does not say. */
export const Usage = Schema.Struct({ prompt_tokens: Schema.Number, completion_tokens: Schema.Number, total_tokens: Schema.Number })
export type Usage = typeof Usage.Type

const answerFields = {
  /** The whole answer, citations included. */
  answer: Schema.String,
  reference: CompletionReference,
  /** The stored answer's id. */
  message_id: MessageId,
  conversation_id: ConversationId,
  usage: Usage,
  /** The model stopped at `max_tokens`: the answer may be cut. */
  incomplete: Schema.Boolean
}

/** The answer, stored. */
export const CompletionResult = Schema.Struct(answerFields)
export type CompletionResult = typeof CompletionResult.Type

/** A piece of the answer as the model writes it (before citations are inserted or repaired). */
export const Delta = Schema.TaggedStruct("Delta", { text: Schema.String })
export type Delta = typeof Delta.Type
/** The last event: the answer, stored. */
export const Done = Schema.TaggedStruct("Done", answerFields)
export type Done = typeof Done.Type

export const CompletionEvent = Schema.Union(Delta, Done)
export type CompletionEvent = typeof CompletionEvent.Type

/**
 * `complete` is the operation; `stream` (the same answer as events) is not, since an operation's
 * method returns one value (an `Effect`), which is what `decoding` and the Promise client are typed
 * from: the Promise client has `completions.stream` as an async iterable of its own, and a surface
 * decodes `CompleteRequest` and calls `stream` itself.
 */
export const Operations = {
  complete: Fields.operation(CompleteRequest, CompletionResult)
}

// ---------------------------------------------------------------------------------------------
// The service

export type CompletionError = InvalidInput | NotFound | StoreError | ChunkIndexError | ModelError

export interface CompletionsService {
  /** The answer as it is written (`Delta`s), then `Done` once it is stored. */
  readonly stream: (caller: Caller, request: CompleteRequest) => Stream.Stream<CompletionEvent, CompletionError>
  /** The stream run to its end. */
  readonly complete: (caller: Caller, request: CompleteRequest) => Effect.Effect<CompletionResult, CompletionError>
}

export class Completions extends Context.Tag("@ragkit/core/Completions")<Completions, CompletionsService>() {}

/** RAGFlow's names of the chunk index's operators (`meta_data_filter` conditions), besides their own. */
const ragflowOperators: Readonly<Record<string, MetadataOperator>> = {
  "=": "eq",
  is: "eq",
  "≠": "ne",
  "!=": "ne",
  "not is": "ne",
  "≥": "gte",
  ">=": "gte",
  "≤": "lte",
  "<=": "lte",
  ">": "gt",
  "<": "lt",
  "not contains": "not_contains",
  "not in": "not_in",
  "start with": "starts_with",
  "end with": "ends_with",
  "not empty": "not_empty"
}

/**
 * The retrieval's metadata condition from a dialog's `meta_data_filter`: `{ method: "manual",
 * manual: [{ key, op, value }], logic }` (RAGFlow's shape; `name` and `comparison_operator` are
 * accepted too). Other methods, and no conditions, filter nothing.
 */
const isOperator = Schema.is(MetadataOperator)

export const metadataCondition = (
  filter: JsonObject
): Either.Either<{ readonly logic: "and" | "or"; readonly conditions: ReadonlyArray<MetadataCondition> } | undefined, InvalidInput> => {
  if (filter["method"] !== "manual") return Either.right(undefined)
  const manual = filter["manual"]
  if (!Array.isArray(manual) || manual.length === 0) return Either.right(undefined)
  const conditions: Array<MetadataCondition> = []
  for (const [i, raw] of manual.entries()) {
    const c = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>
    const key = c["key"] ?? c["name"]
    const op = c["op"] ?? c["comparison_operator"]
    const known = typeof op !== "string" ? undefined : isOperator(op) ? op : Object.hasOwn(ragflowOperators, op) ? ragflowOperators[op] : undefined
    if (typeof key !== "string" || key.trim() === "") return Either.left(invalid(`meta_data_filter.manual[${i}].key`, `meta_data_filter.manual[${i}].key must be a metadata key`))
    if (known === undefined) {
      return Either.left(invalid(`meta_data_filter.manual[${i}].op`, `meta_data_filter.manual[${i}].op is not an operator: ${String(op)}`))
    }
    conditions.push({ key: key.trim(), op: known, value: c["value"] })
  }
  return Either.right({ logic: filter["logic"] === "or" ? "or" : "and", conditions })
}

/** The dialog's generation settings with the request's overrides (`null` unsets a key). */
export const chatSettings = (dialog: JsonObject, overrides: LlmSetting | undefined): ChatSettings => {
  const merged: Record<string, unknown> = { ...dialog, ...overrides }
  const settings: { -readonly [K in keyof ChatSettings]: ChatSettings[K] } = {}
  const num = (key: "temperature" | "top_p" | "max_tokens" | "presence_penalty" | "frequency_penalty") => {
    const value = merged[key]
    if (typeof value === "number" && Number.isFinite(value)) settings[key] = value
  }
  num("temperature")
  num("top_p")
  num("max_tokens")
  num("presence_penalty")
  num("frequency_penalty")
  const stop = merged["stop"]
  if (Array.isArray(stop) && stop.every((s) => typeof s === "string")) settings.stop = stop
  return settings
}

/** Old-style citation markers (`##3$$`) taken out of earlier messages, as RAGFlow does. */
const OLD_MARKERS = /##\d+\$\$/g

const emptyReference: CompletionReference = { chunks: [], doc_aggs: [], total: 0 }

/** The chunk as a reference shows it. */
const referenceChunk = (c: RetrievalResult["chunks"][number]): ReferenceChunk => ({
  id: c.chunk.id,
  content: c.chunk.content,
  document_id: c.chunk.doc_id,
  document_name: c.chunk.docnm_kwd,
  dataset_id: c.chunk.kb_id,
  image_id: c.chunk.img_id ?? "",
  positions: c.chunk.positions,
  similarity: c.similarity,
  vector_similarity: c.vector_similarity,
  term_similarity: c.term_similarity
})

/** Everything decided before the model is called. */
interface Plan {
  readonly conversationId: ConversationId
  readonly dialog: Dialog
  readonly conversationName: string
  readonly sent: ReadonlyArray<ClientMessage>
  readonly quote: boolean
  readonly retrieved: RetrievalResult
  /** How many retrieved chunks the model reads. */
  readonly passages: number
  /** The answer without a model call (`empty_response`). */
  readonly fixedAnswer: Option.Option<string>
  readonly chat: Option.Option<{
    readonly model: ChatModelService
    readonly messages: ReadonlyArray<ChatMessage>
    readonly settings: ChatSettings
    readonly question: string
    readonly promptTokens: number
  }>
}

export const make = Effect.gen(function* () {
  const store = yield* RecordStore
  const models = yield* Models
  const retrieval = yield* Retrieval
  const conversations = yield* Conversations
  const tokenizer = yield* Tokenizer

  const stopTokens = new Set([
    ...EnglishStopWords,
    ...ChineseStopWords,
    ...[...EnglishStopWords].map((w) => tokenizer.tokenize(w))
  ])
  const searchTokens = (text: string) => text.split(" ").filter((t) => t !== "" && !stopTokens.has(t))

  const validDialog = (caller: Caller, id: DialogId) =>
    Effect.flatMap(ownRecord(store.dialogs, "Dialog", caller, id), (dialog) =>
      dialog.status === "1" ? Effect.succeed(dialog) : Effect.fail(notFound("Dialog", id))
    )

  /** The conversation (when it exists) and its dialog. */
  const target = (caller: Caller, request: CompleteRequest) =>
    Effect.gen(function* () {
      if (request.conversation_id === undefined) {
        return { conversation: Option.none<Conversation>(), dialog: yield* validDialog(caller, request.dialog_id!) }
      }
      const conversation = yield* ownRecord(store.conversations, "Conversation", caller, request.conversation_id)
      if (request.dialog_id !== undefined && request.dialog_id !== conversation.dialog_id) {
        return yield* Effect.fail(notFound("Conversation", request.conversation_id))
      }
      return { conversation: Option.some(conversation), dialog: yield* validDialog(caller, conversation.dialog_id) }
    })

  const chatModelOf = (caller: Caller, dialog: Dialog, requested: string | undefined) =>
    Effect.gen(function* () {
      if (requested !== undefined) return yield* models.chatModel(caller, requested)
      const tenant = yield* store.tenants.get(caller.tenantId)
      const ref = dialog.llm_id !== "" ? dialog.llm_id : Option.match(tenant, { onNone: () => "", onSome: (t) => t.llm_id })
      if (ref === "") {
        return yield* Effect.fail(
          new ModelError({
            reason: "NotConfigured",
            model: "",
            message: "No chat model: set the dialog's llm_id or the tenant's default chat model (llm_id)"
          })
        )
      }
      return yield* models.chatModel(caller, ref)
    })

  /** A helper call (refinement, keywords): the model's cleaned answer, or `fallback` when it gave none. */
  const ask = (model: ChatModelService, messages: ReadonlyArray<ChatMessage>, fallback: string, settings: ChatSettings = {}) =>
    Effect.map(model.generate(messages, settings), (result) => {
      const text = Prompt.cleanHelperAnswer(result.text)
      return text === "" ? fallback : text
    })

  const plan = (caller: Caller, request: CompleteRequest) =>
    Effect.gen(function* () {
      const { conversation, dialog } = yield* target(caller, request)
      const config = dialog.prompt_config as PromptConfig
      const values = yield* Prompt.parameterValues(config.parameters ?? [], request.parameters)
      const metadata = yield* metadataCondition(dialog.meta_data_filter)
      const model = yield* chatModelOf(caller, dialog, request.llm_id)

      // What the model reads of the history: no system messages, no greeting before the first question.
      const sent = request.messages
      const said: Array<ChatMessage> = []
      for (const m of sent) {
        if (m.role === "system" || (m.role === "assistant" && said.length === 0)) continue
        said.push({ role: m.role, content: m.content.replace(OLD_MARKERS, "") })
      }
      const question = said[said.length - 1]!
      const earlier = said.slice(0, -1)

      // A model that only quotes (the extractive answerer) cannot rewrite a question or name keywords.
      let query = question.content
      if (model.generative && config.refine_multiturn === true && earlier.some((m) => m.role === "user")) {
        const today = new Date(yield* Clock.currentTimeMillis).toISOString().slice(0, 10)
        query = yield* ask(model, Prompt.refineQuestionMessages(said, today), question.content)
      }
      const refined = query
      if (model.generative && config.keyword === true) {
        const keywords = yield* ask(model, Prompt.keywordMessages(refined), "", { temperature: 0.2 })
        if (keywords !== "") query = `${refined}, ${keywords}`
      }

      const retrieved: RetrievalResult =
        dialog.kb_ids.length === 0 || dialog.top_n === 0
          ? { chunks: [], doc_aggs: [], total: 0 }
          : yield* retrieval.retrieve(caller, {
              question: query,
              kb_ids: dialog.kb_ids,
              doc_ids: request.doc_ids,
              page: 1,
              page_size: Math.min(dialog.top_n, 1024),
              similarity_threshold: dialog.similarity_threshold,
              vector_similarity_weight: dialog.vector_similarity_weight,
              top_k: dialog.top_k,
              rerank_id: dialog.rerank_id === "" ? undefined : dialog.rerank_id,
              highlight: false,
              metadata_condition: metadata,
              term_similarity: "bm25"
            })

      const quote = config.quote !== false
      const emptyResponse = config.empty_response ?? ""
      const conversationId = Option.match(conversation, {
        onNone: () => randomHex32() as ConversationId,
        onSome: (c) => c.id
      })
      const base = {
        conversationId,
        dialog,
        conversationName: [...question.content.trim()].slice(0, 255).join("") || DEFAULT_CONVERSATION_NAME,
        sent,
        quote,
        retrieved
      }
      const answerWithout = (text: string): Plan => ({ ...base, passages: 0, fixedAnswer: Option.some(text), chat: Option.none() })
      const grounded = dialog.kb_ids.length > 0
      if (grounded && retrieved.chunks.length === 0 && emptyResponse !== "") return answerWithout(emptyResponse)

      const settings = chatSettings(dialog.llm_setting, request.llm_setting)
      const texts = retrieved.chunks.map((c, i) => Prompt.passage(i, c.chunk.docnm_kwd, c.chunk.content))
      const template = config.system ?? ""
      const fitted = Budget.fit({
        contextTokens: model.contextTokens,
        maxTokens: settings.max_tokens,
        countTokens: tokenizer.countTokens,
        system: (kept) =>
          Prompt.systemPrompt(template, values, Prompt.knowledge(kept)) + (quote && kept.length > 0 ? Prompt.citationGuidelines : ""),
        passages: texts,
        history: earlier,
        question
      })
      if (Either.isLeft(fitted)) {
        const { limit, needed } = fitted.left
        return yield* Effect.fail(
          invalid(
            "messages",
            `The question and the system prompt take ${needed} tokens; ${model.modelId} reads ${limit} besides its answer`
          )
        )
      }
      const fit = fitted.right
      if (grounded && fit.passages === 0 && emptyResponse !== "") return answerWithout(emptyResponse)
      const { max_tokens: _, ...rest } = settings
      const modelSettings: ChatSettings = fit.maxTokens === undefined ? rest : { ...rest, max_tokens: fit.maxTokens }
      return {
        ...base,
        passages: fit.passages,
        fixedAnswer: Option.none(),
        chat: Option.some({
          model,
          messages: fit.messages,
          settings: modelSettings,
          question: refined,
          promptTokens: fit.promptTokens
        })
      } satisfies Plan
    })

  /** The answer with its citations, and the reference. */
  const decorate = (caller: Caller, p: Plan, raw: string) =>
    Effect.gen(function* () {
      if (!p.quote || p.passages === 0) return { answer: raw, reference: emptyReference }
      const shown = p.retrieved.chunks.slice(0, p.passages)
      let answer = Citations.repair(raw, p.passages)
      if (Citations.cited(answer, p.passages).size === 0) {
        const parts = Citations.pieces(answer)
        const sentences = Citations.sentences(parts).map((i) => parts[i]!)
        const vectors = yield* embeddings(caller, p, sentences, shown.map((c) => c.chunk))
        answer = Citations.insert({
          answer,
          passageTokens: shown.map((c) => searchTokens(c.chunk.content_ltks)),
          tokens: (s) => searchTokens(tokenizer.tokenize(s)),
          vectors: Option.getOrUndefined(vectors),
          tokenWeight: 1 - p.dialog.vector_similarity_weight,
          vectorWeight: p.dialog.vector_similarity_weight
        }).answer
      }
      const cited = Citations.cited(answer, p.passages)
      const citedDocs = new Set([...cited].map((i) => shown[i]!.chunk.doc_id as string))
      const docAggs = p.retrieved.doc_aggs.filter((d) => citedDocs.has(d.doc_id))
      return {
        answer,
        reference: {
          chunks: p.retrieved.chunks.map(referenceChunk),
          doc_aggs: docAggs.length > 0 ? docAggs : p.retrieved.doc_aggs,
          total: p.retrieved.total
        }
      }
    })

  /**
   * The sentences' and passages' embeddings, from the knowledge bases' embedder (the passages' stored
   * vectors when the index returned them); none when the embedder fails, so citations fall back to
   * tokens.
   */
  const embeddings = (
    caller: Caller,
    p: Plan,
    sentences: ReadonlyArray<string>,
    chunks: ReadonlyArray<RetrievalResult["chunks"][number]["chunk"]>
  ) =>
    Effect.gen(function* () {
      if (sentences.length === 0) return Option.none()
      const kb = yield* readableKnowledgeBase(store, caller, chunks[0]!.kb_id)
      const embedder = yield* models.embedder(new Caller({ tenantId: kb.tenant_id, userId: caller.userId }), kb.embedding_model)
      const stored = chunks.every((c) => c.vector !== undefined && c.vector.length === embedder.dimensions)
      const passages = stored ? chunks.map((c) => c.vector!) : yield* embedder.embedDocuments(chunks.map((c) => c.content))
      return Option.some({ sentences: yield* embedder.embedDocuments(sentences), passages })
    }).pipe(
      Effect.catchAll((error) =>
        Effect.as(Effect.logWarning("citations by tokens only: the embedder failed", error), Option.none())
      )
    )

  const storeAnswer = (caller: Caller, p: Plan, answer: Message) =>
    conversations.storeExchange(caller, {
      conversation_id: p.conversationId,
      dialog_id: p.dialog.id,
      name: p.conversationName,
      sent: p.sent,
      answer
    })

  const answerMessage = (id: MessageId, content: string, reference: CompletionReference, incomplete: boolean, now: number) =>
    new Message({ id, role: "assistant", content, created_at: now, reference, thumbup: null, feedback: null, incomplete })

  const stream = (caller: Caller, request: CompleteRequest): Stream.Stream<CompletionEvent, CompletionError> =>
    Stream.unwrapScoped(
      Effect.gen(function* () {
        const p = yield* plan(caller, request)
        const messageId = randomHex32() as MessageId

        const state = { text: "", usage: Option.none<ChatUsage>(), stored: false }

        /** Stores the answer and gives the `Done` event. */
        const finish = (raw: string, usage: Usage, cut: boolean) =>
          Effect.gen(function* () {
            const { answer, reference } = yield* decorate(caller, p, raw)
            const now = yield* Clock.currentTimeMillis
            // Stored and marked so at once: the finalizer below must not store it again as incomplete.
            yield* Effect.uninterruptible(
              Effect.tap(storeAnswer(caller, p, answerMessage(messageId, answer, reference, cut, now)), () =>
                Effect.sync(() => (state.stored = true)))
            )
            return Done.make({ answer, reference, message_id: messageId, conversation_id: p.conversationId, usage, incomplete: cut })
          })

        if (Option.isSome(p.fixedAnswer)) {
          const text = p.fixedAnswer.value
          return Stream.concat(
            Stream.succeed(Delta.make({ text })),
            Stream.fromEffect(finish(text, { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }, false))
          )
        }
        const chat = Option.getOrThrow(p.chat)
        // A stream that stops early (interrupted, or the model failed) stores what was generated.
        yield* Effect.addFinalizer(() =>
          state.stored || state.text === ""
            ? Effect.void
            : Effect.gen(function* () {
                const now = yield* Clock.currentTimeMillis
                yield* storeAnswer(caller, p, answerMessage(messageId, state.text, emptyReference, true, now))
              }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("could not store an incomplete answer", cause)))
        )
        const answer = chat.model.stream(chat.messages, chat.settings, {
          question: chat.question,
          passages: p.retrieved.chunks.slice(0, p.passages).map((c, id) => ({ id, title: c.chunk.docnm_kwd, content: c.chunk.content }))
        })
        const deltas = Stream.filterMap(answer, (delta) =>
          ChatDelta.$match(delta, {
            Text: ({ text }) => {
              state.text += text
              return text === "" ? Option.none() : Option.some<CompletionEvent>(Delta.make({ text }))
            },
            Usage: (usage) => {
              state.usage = Option.some(usage)
              return Option.none()
            }
          })
        )
        const done = Effect.suspend(() => {
          const prompt = Option.match(state.usage, { onNone: () => chat.promptTokens, onSome: (u) => u.promptTokens })
          const completion = Option.match(state.usage, {
            onNone: () => tokenizer.countTokens(state.text),
            onSome: (u) => u.completionTokens
          })
          const max = chat.settings.max_tokens
          return finish(
            state.text,
            { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
            max !== undefined && completion >= max
          )
        })
        return Stream.concat(deltas, Stream.fromEffect(done))
      })
    ).pipe(Stream.withSpan("Completions.stream"))

  const complete = Effect.fn("Completions.complete")(function* (caller: Caller, request: CompleteRequest) {
    const last = yield* Stream.runLast(stream(caller, request))
    if (Option.isNone(last) || last.value._tag !== "Done") return yield* Effect.dieMessage("a completion ended without its answer")
    const { _tag, ...result } = last.value
    return result
  })

  return Completions.of({ stream, complete })
})

/** Requires RecordStore, Models, Retrieval, Conversations and Tokenizer. */
export const layer = Layer.effect(Completions, make)
