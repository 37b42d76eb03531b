/**
 * TaskQueue: durable work items (document parsing) claimed by workers under a lease.
 *
 * A worker claims tasks, renews its lease with `heartbeat` while it works and ends each task with
 * `complete` or `fail`; a document's progress is written on the document, not on its task. A task
 * whose lease runs out (its worker died) is claimed again by the next `claim`. `cancel` marks a task; the working worker learns it from the
 * next `heartbeat` and stops. Times come from the Effect clock.
 *
 * The queue also keeps the workers' registry: each worker's latest `WorkerStatus`
 * (`reportWorker`), readable by every process that shares the queue (`listWorkers`).
 */
import { Context, Layer } from "effect"
import { makeMemoryQueue } from "../internal/memoryQueue.js"
import type { TaskQueueService } from "./TaskQueueService.js"

export * from "./TaskQueueService.js"

export class TaskQueue extends Context.Tag("@ragkit/core/TaskQueue")<TaskQueue, TaskQueueService>() {}

/** An in-memory queue with the same semantics; nothing persists. */
export const layerMemory: Layer.Layer<TaskQueue> = Layer.effect(TaskQueue, makeMemoryQueue)
