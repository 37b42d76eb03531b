import { RecordStoreSuite } from "@ragkit/core/testing"
import * as StorePglite from "../src/Embedded.js"

RecordStoreSuite("PGlite", StorePglite.layerEmbedded())
