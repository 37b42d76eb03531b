import * as TaskQueue from "../src/ports/TaskQueue.js"
import { TaskQueueSuite } from "../src/testing/TaskQueueSuite.js"

TaskQueueSuite("memory", TaskQueue.layerMemory)
