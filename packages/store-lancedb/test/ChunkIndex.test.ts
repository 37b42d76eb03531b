import { ChunkIndexSuite } from "@ragkit/core/testing"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { LanceChunkIndex } from "../src/index.js"

ChunkIndexSuite("lancedb", LanceChunkIndex.layer({ uri: mkdtempSync(join(tmpdir(), "ragkit-lancedb-")) }))
