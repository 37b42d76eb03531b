/**
 * ONNX models declared by the deployment with a folder anywhere on disk: the seed's example
 * embedding model `BAAI/bge-large-zh-v1.5@BAAI` served from an ONNX export (here the tiny BERT
 * fixture standing in for it), listed and checked without loading, and embedding exactly as the
 * PyTorch reference does.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Caller, decoding, KnowledgeBases, Models, ModelProvider, Rag, RecordStore } from "@ragkit/core"
import { aTenant } from "@ragkit/core/testing"
import { OnnxModels } from "@ragkit/adapters/onnx"
import { Effect, Redacted } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { embedderExpected, embedderFolder, maxAbsError, modelsDir, rerankerExpected, rerankerFolder } from "./fixtures.js"

const BAAI: Models.DeploymentProvider = {
  name: "BAAI",
  kind: "onnx",
  models: [
    { name: "BAAI/bge-large-zh-v1.5", type: "embedding", maxTokens: 512, path: embedderFolder },
    { name: "BAAI/bge-reranker-v2-m3", type: "rerank", path: rerankerFolder },
    { name: "BAAI/bge-query", type: "embedding", path: embedderFolder, settings: { queryPrefix: "query: " } },
    { name: "BAAI/bad-settings", type: "embedding", path: embedderFolder, settings: { pooling: "weighted", color: "blue" } },
    { name: "BAAI/not-downloaded", type: "embedding", path: path.join(os.tmpdir(), "ragkit-no-such-model-folder") },
    { name: "BAAI/reranker-as-embedder", type: "embedding", path: rerankerFolder }
  ]
}

const Engine = Rag.layer(Rag.layerMemoryPorts, [OnnxModels.layer({ modelsDir })], { providers: [BAAI] })

const newCaller = Effect.gen(function*() {
  const tenant = aTenant({ embd_id: "" })
  yield* (yield* RecordStore.RecordStore).tenants.insert(tenant)
  return new Caller({ tenantId: tenant.id, userId: tenant.id as never })
})

describe("a deployment's ONNX provider", () => {
  layer(Engine)((it) => {
    it.effect("serves BAAI/bge-large-zh-v1.5@BAAI from its folder, embedding as the reference does", () =>
      Effect.gen(function*() {
        const models = yield* Models.Models
        const me = yield* newCaller
        const embedder = yield* models.embedder(me, "BAAI/bge-large-zh-v1.5@BAAI")
        expect([embedder.modelId, embedder.dimensions]).toEqual(["BAAI/bge-large-zh-v1.5@BAAI", 64])
        const vectors = yield* embedder.embedDocuments(embedderExpected.sentences)
        const errors = vectors.map((v, i) => maxAbsError(v, embedderExpected.mean_pooled_normalized[i]!))
        expect(Math.max(...errors), `errors ${errors}`).toBeLessThanOrEqual(1e-5)

        const reranker = yield* models.reranker(me, "BAAI/bge-reranker-v2-m3@BAAI")
        const [[query, first], [, second]] = rerankerExpected.pairs as [[string, string], [string, string]]
        expect(maxAbsError(yield* reranker.rerank(query, [first, second]), rerankerExpected.logits.slice(0, 2))).toBeLessThanOrEqual(1e-4)

        // The model's settings apply: its queries get the prefix.
        const prefixed = yield* models.embedder(me, "BAAI/bge-query@BAAI")
        const [withPrefix] = yield* embedder.embedDocuments(["query: The cat sat on the mat."])
        expect(maxAbsError(yield* prefixed.embedQuery("The cat sat on the mat."), withPrefix!)).toBeLessThanOrEqual(1e-6)

        // A knowledge base indexes with it: the embedder's identity is the declared name.
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const kb = yield* kbs.create(me, { name: "zh", embedding_model: "BAAI/bge-large-zh-v1.5@BAAI" })
        expect(kb.embedding_model).toBe("BAAI/bge-large-zh-v1.5@BAAI")
      }))

    it.effect("lists its models and the ONNX folders with their types, and why one can't be used, loading none", () =>
      Effect.gen(function*() {
        const models = decoding(yield* Models.Models, Models.Operations)
        const listed = yield* models.listModels(yield* newCaller, {})
        expect(listed.map((m) => [m.id, m.model_type, m.max_tokens, m.usable, m.unusable_reason])).toEqual([
          ["BAAI/bge-large-zh-v1.5@BAAI", "embedding", 512, true, null],
          ["BAAI/bge-reranker-v2-m3@BAAI", "rerank", null, true, null],
          ["BAAI/bge-query@BAAI", "embedding", null, true, null],
          ["BAAI/bad-settings@BAAI", "embedding", null, false, expect.stringMatching(/^its settings: .*pooling/s)],
          ["BAAI/not-downloaded@BAAI", "embedding", null, false, "its model folder does not exist"],
          ["BAAI/reranker-as-embedder@BAAI", "embedding", null, false, "declared as an embedding model, but the onnx plugin finds a rerank model"],
          ["tiny-bert-embedder@ONNX", "embedding", null, true, null],
          ["tiny-bert-reranker@ONNX", "rerank", null, true, null]
        ])
        // The deployment's folders are not shown to tenants.
        expect(JSON.stringify(listed)).not.toContain(embedderFolder)
        expect(yield* models.listPlugins(yield* newCaller, {})).toContainEqual({ kind: "onnx", providers: ["ONNX", "BAAI"] })
      }))

    it.effect("setDefaults checks the folder without loading it, and refuses one that is missing or of another kind", () =>
      Effect.gen(function*() {
        const models = decoding(yield* Models.Models, Models.Operations)
        const me = yield* newCaller
        const tenant = yield* models.setDefaults(me, { embd_id: "BAAI/bge-large-zh-v1.5@BAAI", rerank_id: "tiny-bert-reranker@ONNX" })
        expect([tenant.embd_id, tenant.rerank_id]).toEqual(["BAAI/bge-large-zh-v1.5@BAAI", "tiny-bert-reranker@ONNX"])
        for (const [embd_id, message] of [
          ["BAAI/not-downloaded@BAAI", "BAAI/not-downloaded@BAAI can't be used: its model folder does not exist"],
          ["BAAI/reranker-as-embedder@BAAI", expect.stringContaining("finds a rerank model")],
          ["BAAI/bad-settings@BAAI", expect.stringContaining("its settings:")],
          ["no-such-folder@ONNX", "Unsupported model: no-such-folder@ONNX (provider ONNX has no such model; its embedding models: tiny-bert-embedder@ONNX)"],
          ["tiny-bert-reranker@ONNX", "tiny-bert-reranker@ONNX is a rerank model, not an embedding model"]
        ] as const) {
          expect(yield* Effect.flip(models.setDefaults(me, { embd_id })), embd_id).toMatchObject({ _tag: "InvalidInput", field: "embd_id", message })
        }
        // Resolving them fails the same way, with the folder named for the deployment's logs.
        const missing = yield* Effect.flip((yield* Models.Models).embedder(me, "BAAI/not-downloaded@BAAI"))
        expect(missing).toMatchObject({ reason: "NotConfigured", message: expect.stringContaining("no model folder") })
        const bad = yield* Effect.flip((yield* Models.Models).embedder(me, "BAAI/bad-settings@BAAI"))
        expect(bad.message).toMatch(/^Unsupported model: BAAI\/bad-settings@BAAI \(its settings: /)
      }))
  })

  it.scoped("only the deployment can point the plugin at a folder: a tenant's request is served from the models directory", () =>
    Effect.gen(function*() {
      const empty = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "ragkit-onnx-empty-"))),
        (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
      )
      const plugin = yield* OnnxModels.make({ modelsDir: empty })
      const request = (declaredBy: "tenant" | "deployment"): ModelProvider.ModelRequest => ({
        model: "stolen",
        declared: { name: "stolen", type: "embedding", path: embedderFolder },
        provider: { name: "p", kind: "onnx", apiBase: "", apiKey: Redacted.make(""), settings: {}, declaredBy },
        allowPrivateProviders: false
      })
      const refused = yield* Effect.flip(plugin.embedder!(request("tenant")))
      expect(refused).toMatchObject({ reason: "NotConfigured", message: `Unsupported model: stolen@p (no folder stolen in ${empty})` })
      expect((yield* plugin.embedder!(request("deployment"))).dimensions).toBe(64)
    }))
})
