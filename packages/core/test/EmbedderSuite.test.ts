import { EmbedderSuite, HashEmbedder } from "../src/testing/index.js"

EmbedderSuite("hash", HashEmbedder.layer(), { normalized: true })
