/**
 * The engine the server runs: embedded defaults (PGlite, blobs on disk) or Postgres when a URL is
 * configured.
 */
import { NodeContext } from "@effect/platform-node"
import { BlobStore, ChunkIndex, Parser, Rag } from "@ragkit/core"
import { TestModels } from "@ragkit/core/doubles"
import * as StorePg from "@ragkit/store-pg"
import { Layer, Option } from "effect"
import { join } from "node:path"
import type { ServerConfig } from "./Config.js"

export const layer = (config: ServerConfig) => {
  const records = Option.match(config.databaseUrl, {
    onNone: () => StorePg.layerEmbedded({ dataDir: join(config.dataDir, "pg") }),
    onSome: (url) => StorePg.layer({ url })
  })
  const ports = Layer.mergeAll(
    records,
    BlobStore.layerFileSystem(join(config.dataDir, "blobs")).pipe(Layer.provide(NodeContext.layer)),
    ChunkIndex.layerMemory,
    Parser.layer([Parser.TextParser])
  )
  return Rag.layer(ports, [TestModels.layer])
}
