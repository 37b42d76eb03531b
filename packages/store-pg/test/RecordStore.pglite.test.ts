import { RecordStoreSuite } from "@ragkit/core/testing"
import * as StorePg from "../src/index.js"

RecordStoreSuite("PGlite", StorePg.layerEmbedded())
