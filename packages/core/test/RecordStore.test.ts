import * as RecordStore from "../src/ports/RecordStore.js"
import { RecordStoreSuite } from "../src/testing/RecordStoreSuite.js"

RecordStoreSuite("memory", RecordStore.layerMemory)
