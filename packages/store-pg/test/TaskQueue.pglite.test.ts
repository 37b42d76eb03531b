import { TaskQueueSuite } from "@ragkit/core/testing"
import * as StorePglite from "../src/Embedded.js"

TaskQueueSuite("PGlite", StorePglite.layerEmbedded())
