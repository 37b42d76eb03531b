/**
 * The HTTP surface. For now the system routes; the seed API, the RAGFlow REST API and the
 * OpenAI-compatible chat come with the server issue.
 */
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { RecordStore } from "@ragkit/core"
import { Effect } from "effect"

export const version = "0.0.0"

const ok = (data: unknown) => HttpServerResponse.unsafeJson({ code: 0, data, message: "success" })

export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/api/v1/system/ping", HttpServerResponse.text("pong")),
  HttpRouter.get("/api/v1/system/version", Effect.succeed(ok(version))),
  HttpRouter.get(
    "/api/v1/system/healthz",
    Effect.gen(function* () {
      const store = yield* RecordStore.RecordStore
      const db = yield* store.tenants.count({}).pipe(
        Effect.as("ok" as const),
        Effect.catchAll(() => Effect.succeed("nok" as const))
      )
      const body = { db, status: db === "ok" ? "ok" : "nok" }
      return HttpServerResponse.unsafeJson(body, { status: db === "ok" ? 200 : 500 })
    })
  )
)

export const app = router.pipe(
  HttpRouter.catchAllCause(() => Effect.succeed(HttpServerResponse.unsafeJson({ code: 100, data: null, message: "internal error" }, { status: 500 }))),
  HttpServer.serve(),
  HttpServer.withLogAddress
)
