import { TaskQueueSuite } from "@ragkit/core/testing"
import * as StorePg from "../src/index.js"

TaskQueueSuite("PGlite", StorePg.layerEmbedded())
