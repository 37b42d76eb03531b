/** `Models` over a memory record store with the ONNX plugin serving the fixtures folder. */
import { Caller, Models, RecordStore } from "@ragkit/core"
import { anId } from "@ragkit/core/testing"
import { OnnxModels } from "@ragkit/adapters/onnx"
import { Layer } from "effect"
import { modelsDir } from "./fixtures.js"

export const caller = new Caller({ tenantId: anId(), userId: anId() })

export const ModelsLive = OnnxModels.layer({ modelsDir }).pipe(
  Layer.provideMerge(Models.layer()),
  Layer.provide(RecordStore.layerMemory)
)
