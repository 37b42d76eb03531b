/**
 * Dify's external knowledge API, so that a Dify knowledge base can be a ragkit one: Dify's
 * "External Knowledge API" set to `http://<host>/api/v1/dify` (Dify appends `/retrieval`), its API
 * key a ragkit API key, the external knowledge ID a knowledge base id. The path is RAGFlow's
 * (`api/apps/restful_apis/dify_retrieval_api.py`).
 *
 * `POST /api/v1/dify/retrieval` with `Authorization: Bearer <api key>` and
 * `{ knowledge_id, query, retrieval_setting: { top_k, score_threshold }, metadata_condition }`
 * answers `{ records: [{ content, score, title, metadata }] }`, best first: the knowledge base's
 * hybrid retrieval (core's `Retrieval`, as RAGFlow's endpoint runs it: `top_k` chunks over
 * `score_threshold`, vector weight 0.3). `metadata` is the document's metadata with `doc_id` and
 * `document_id` (Dify reads the latter). `metadata_condition` (`logical_operator`, `conditions` of
 * `name`, `comparison_operator`, `value`; `null` when Dify has none) filters on it.
 * `GET /api/v1/dify/retrieval/health` answers `{ code: 0, message: "success", data: true }`.
 *
 * Errors are Dify's, `{ error_code, error_msg }`, not RAGFlow's REST convention, so this is an
 * `HttpApi` of its own beside the REST API, with its own credentials check, and the handler reads
 * the body itself (`handleRaw`) so that no request can fail before it: every answer is a response,
 * which the boundary passes through. Dify documents HTTP 403 for a refused request and 500 for a
 * fault:
 *
 * | error_code | HTTP | when |
 * |---|---|---|
 * | 1001 | 403 | no `Authorization: Bearer <key>` header |
 * | 1002 | 403 | the key (or session token) is not valid, or may only chat |
 * | 2001 | 403 | the knowledge base does not exist (another tenant's alike) |
 * | 101 / 102 | 400 | the request is not valid (RAGFlow's codes and messages, `rest/Rest.ts`) |
 * | 100 | 500 | a fault, logged; the message carries the request id |
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpServerResponse } from "@effect/platform"
import type { HttpServerRequest } from "@effect/platform"
import { ApiTokens, Completions, decodeRequest, KnowledgeBaseId, Retrieval, Users } from "@ragkit/core"
import { Cause, Effect, Either, Schema } from "effect"
import { credentialsOf, hasFullAccess } from "../Auth.js"
import * as Rest from "../rest/Rest.js"

// ---------------------------------------------------------------------------------------------
// The wire format (Dify's)

/** Dify's error body. */
const errorFields = {
  error_code: Schema.Int.annotations({ description: "1001 bad Authorization header, 1002 authorization failed, 2001 no such knowledge base; else RAGFlow's code (101 argument, 102 data, 100 fault)." }),
  error_msg: Schema.String
}

/** A refusal (HTTP 403): 1001, 1002 or 2001. */
export class DifyRefused extends Schema.Class<DifyRefused>("DifyRefused")(errorFields) {}
/** A request that is not valid (HTTP 400). */
export class DifyBadRequest extends Schema.Class<DifyBadRequest>("DifyBadRequest")(errorFields) {}
/** A fault (HTTP 500). */
export class DifyFault extends Schema.Class<DifyFault>("DifyFault")(errorFields) {}

export const ErrorCodes = { invalidHeader: 1001, authorizationFailed: 1002, knowledgeNotFound: 2001 } as const

const MetadataCondition = Schema.Struct({
  logical_operator: Schema.optional(Schema.Literal("and", "or")),
  conditions: Schema.Array(Schema.Struct({
    name: Schema.String,
    comparison_operator: Schema.String.annotations({ description: "contains, not contains, start with, end with, is, is not, in, not in, empty, not empty, =, ≠, >, <, ≥, ≤" }),
    value: Schema.optional(Schema.Unknown)
  }))
})

/** What Dify sends (declared for the OpenAPI document and the typed client; the handler checks it). */
export const RetrievalPayload = Schema.Struct({
  knowledge_id: Schema.String.annotations({ description: "The knowledge base's id." }),
  query: Schema.String,
  retrieval_setting: Schema.optional(Schema.Struct({
    top_k: Schema.optional(Schema.Int.annotations({ description: "At most this many records (1 to 1024; default 1024)." })),
    score_threshold: Schema.optional(Schema.Number.annotations({ description: "Records scoring under this are left out (0 to 1; default 0)." }))
  })),
  metadata_condition: Schema.optional(Schema.NullOr(MetadataCondition))
})

export const KnowledgeRecord = Schema.Struct({
  content: Schema.String,
  score: Schema.Number,
  title: Schema.String,
  metadata: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

export const RetrievalResult = Schema.Struct({ records: Schema.Array(KnowledgeRecord) })

export const group = HttpApiGroup.make("dify")
  .add(
    HttpApiEndpoint.post("retrieval", "/api/v1/dify/retrieval")
      .setPayload(RetrievalPayload)
      .addSuccess(RetrievalResult)
      .addError(DifyRefused, { status: 403 })
      .addError(DifyBadRequest, { status: 400 })
      .addError(DifyFault, { status: 500 })
  )
  .add(
    HttpApiEndpoint.get("health", "/api/v1/dify/retrieval/health")
      .addSuccess(Schema.Struct({ code: Schema.Literal(0), message: Schema.String, data: Schema.Boolean }))
  )

export class DifyApi extends HttpApi.make("dify").add(group) {}

// ---------------------------------------------------------------------------------------------
// The handler

/** A Dify error body under its status: returned as a response, never failed. */
const answer = (status: 400 | 403 | 500, error_code: number, error_msg: string) => HttpServerResponse.unsafeJson({ error_code, error_msg }, { status })

const refused = (code: number, message: string) => answer(403, code, message)

/** Why a request cannot be answered: a response to send. */
class Refusal {
  constructor(readonly response: HttpServerResponse.HttpServerResponse) {}
}

const badRequest = (message: string) => new Refusal(answer(400, Rest.Codes.argument, message))

const isObject = (u: unknown): u is { readonly [key: string]: unknown } => typeof u === "object" && u !== null && !Array.isArray(u)

const malformed = (why: string) => badRequest(`invalid or malformed arguments: ${why}; `)

/** The body as JSON, or a refusal (RAGFlow's messages). */
const readBody = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function* () {
    const text = yield* Effect.orElseSucceed(request.text, () => undefined)
    if (text === undefined) return yield* Effect.fail(malformed("the request body could not be read"))
    if (text.trim() === "") return {}
    const parsed = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => malformed("the request body is not valid JSON") })
    if (!isObject(parsed)) return yield* Effect.fail(malformed("the request body is not a JSON object"))
    return parsed
  })

interface Query {
  readonly knowledgeId: string
  readonly question: string
  readonly topK: number
  readonly threshold: number
  readonly metadata: Retrieval.RetrievalRequest["metadata_condition"]
}

/** Dify's request checked as RAGFlow checks it (`_read_retrieval_request`, `_parse_retrieval_options`). */
const queryOf = (body: { readonly [key: string]: unknown }): Either.Either<Query, Refusal> => {
  const present = (key: string) => body[key] !== undefined && body[key] !== null && body[key] !== ""
  const missing = ["knowledge_id", "query"].filter((key) => !present(key))
  if (missing.length > 0) return Either.left(badRequest(`required arguments are missing: ${missing.join(",")}; `))
  const { knowledge_id: knowledgeId, query: question } = body
  if (typeof knowledgeId !== "string") return Either.left(malformed("knowledge_id must be a string"))
  if (typeof question !== "string") return Either.left(malformed("query must be a string"))
  const setting = body["retrieval_setting"] ?? {}
  if (!isObject(setting)) return Either.left(malformed("retrieval_setting must be an object"))
  const topK = setting["top_k"] ?? 1024
  const threshold = setting["score_threshold"] ?? 0
  if (typeof topK !== "number" || !Number.isInteger(topK) || typeof threshold !== "number" || !Number.isFinite(threshold)) {
    return Either.left(malformed("top_k must be integer and score_threshold must be numeric"))
  }
  if (topK < 1 || topK > 1024) return Either.left(malformed("top_k must be between 1 and 1024"))
  if (threshold < 0 || threshold > 1) return Either.left(malformed("score_threshold must be between 0 and 1"))
  const condition = body["metadata_condition"] ?? undefined
  if (condition !== undefined && !(isObject(condition) && Array.isArray(condition["conditions"] ?? []))) {
    return Either.left(malformed("metadata_condition must be an object with a list of conditions"))
  }
  // Dify's condition is RAGFlow's (`convert_conditions`): core reads it as a dialog's manual filter.
  const metadata = condition === undefined
    ? Either.right(undefined)
    : Completions.metadataCondition({ method: "manual", manual: condition["conditions"] ?? [], logic: condition["logical_operator"] ?? condition["logic"] })
  if (Either.isLeft(metadata)) {
    return Either.left(badRequest(metadata.left.message.replaceAll("meta_data_filter.manual", "metadata_condition.conditions").replace(/\.key must be/, ".name must be").replace(/\.op is not/, ".comparison_operator is not")))
  }
  return Either.right({ knowledgeId, question, topK, threshold, metadata: metadata.right })
}

const DifyLocal = HttpApi.make("ragkit").add(group)

export const live = HttpApiBuilder.group(DifyLocal, "dify", (handlers) =>
  Effect.gen(function* () {
    const credentials = credentialsOf(yield* Users.Users, yield* ApiTokens.ApiTokens)
    const retrieval = yield* Retrieval.Retrieval

    /** The caller behind `Authorization: Bearer <token>`, or Dify's 1001 / 1002. */
    const callerOf = (header: string | undefined) => {
      const token = /^\s*Bearer\s+(\S+)\s*$/i.exec(header ?? "")?.[1]
      if (token === undefined) {
        return Effect.fail(new Refusal(refused(ErrorCodes.invalidHeader, "Invalid Authorization header format. Expected 'Bearer <api-key>' format.")))
      }
      const failed = new Refusal(refused(ErrorCodes.authorizationFailed, "Authorization failed. Please check your API key."))
      return credentials(token).pipe(
        Effect.filterOrFail(hasFullAccess, () => failed),
        Effect.catchTag("Unauthenticated", () => Effect.fail(failed)),
        Effect.map((c) => c.caller)
      )
    }

    const notFound = (id: string) => new Refusal(refused(ErrorCodes.knowledgeNotFound, `The knowledge does not exist: ${id}`))

    const retrieve = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function* () {
        const caller = yield* callerOf(request.headers["authorization"])
        const query = yield* Either.match(queryOf(yield* readBody(request)), { onLeft: Effect.fail, onRight: Effect.succeed })
        if (!Schema.is(KnowledgeBaseId)(query.knowledgeId)) return yield* Effect.fail(notFound(query.knowledgeId))
        const decoded = yield* decodeRequest(Retrieval.RetrievalRequest)({
          question: query.question,
          kb_ids: [query.knowledgeId],
          page: 1,
          page_size: query.topK,
          similarity_threshold: query.threshold,
          vector_similarity_weight: 0.3,
          ...(query.metadata === undefined ? {} : { metadata_condition: query.metadata })
        })
        const result = yield* retrieval.retrieve(caller, decoded).pipe(
          Effect.catchIf((e) => e._tag === "NotFound" && e.entity === "KnowledgeBase", () => Effect.fail(notFound(query.knowledgeId)))
        )
        return {
          records: result.chunks.map(({ chunk, similarity }) => ({
            content: chunk.content,
            score: similarity,
            title: chunk.docnm_kwd,
            metadata: { ...chunk.metadata, doc_id: chunk.doc_id, document_id: chunk.doc_id }
          }))
        }
      })

    /** Every failure as Dify's body: a refusal as made, a core failure by `Rest.ts`'s table under 400, a fault as 500. */
    const respond = <A, E>(self: Effect.Effect<A, E>) =>
      Effect.catchAllCause(self, (cause): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
        if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
        const failure = Cause.failureOption(cause)
        if (failure._tag === "Some") {
          if (failure.value instanceof Refusal) return Effect.succeed(failure.value.response)
          const known = Rest.failureOf(failure.value)
          if (known !== undefined) return Effect.succeed(answer(400, known.code, known.message))
        }
        return Effect.map(Rest.exception(cause), (fault) => answer(500, fault.code, fault.message))
      })

    return handlers
      .handleRaw("retrieval", ({ request }) => respond(retrieve(request)))
      .handle("health", () => Effect.succeed(Rest.okWithMessage(true)))
  }))
