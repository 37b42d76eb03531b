/**
 * Stores that fail for a while: layers that wrap a real `RecordStore` or `TaskQueue` so that the
 * next `n` calls fail with `StoreError` `Unavailable` (as a database that restarts or drops its
 * connections), then pass through again. For testing what a host or a worker does meanwhile.
 *
 *   const Records = StoreFaults.recordStore.pipe(Layer.provide(RecordStore.layerMemory))
 *   ...
 *   const faults = yield* StoreFaults.RecordStoreFaults
 *   yield* faults.failNext(5)
 */
import { Context, Effect, Layer } from "effect"
import { StoreError } from "../domain/Errors.js"
import { RecordStore, type RecordStoreService, type Table } from "../ports/RecordStore.js"
import { TaskQueue, type TaskQueueService } from "../ports/TaskQueue.js"

/** Controls the failures of a wrapped store. */
export interface Faults {
  /** The next `n` calls fail (more calls than that, when some are already pending). */
  readonly failNext: (n: number) => Effect.Effect<void>
  /** How many calls failed so far. */
  readonly failed: Effect.Effect<number>
}

export class RecordStoreFaults extends Context.Tag("@ragkit/core/testing/RecordStoreFaults")<RecordStoreFaults, Faults>() {}
export class TaskQueueFaults extends Context.Tag("@ragkit/core/testing/TaskQueueFaults")<TaskQueueFaults, Faults>() {}

const makeGate = (what: string) => {
  let pending = 0
  let failed = 0
  const faults: Faults = {
    failNext: (n) => Effect.sync(() => void (pending += n)),
    failed: Effect.sync(() => failed)
  }
  /** Fails the call while failures are pending, else runs it. */
  const guard = <A, E, R>(call: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StoreError, R> =>
    Effect.suspend((): Effect.Effect<A, E | StoreError, R> => {
      if (pending === 0) return effect
      pending--
      failed++
      return Effect.fail(new StoreError({ reason: "Unavailable", message: `${what}.${call}: the store is unavailable (injected fault)` }))
    })
  return { faults, guard }
}

type Guard = ReturnType<typeof makeGate>["guard"]

const wrapTable = <A extends { readonly id: string }>(name: string, table: Table<A>, guard: Guard): Table<A> => ({
  get: (id) => guard(`${name}.get`, table.get(id)),
  getMany: (ids) => guard(`${name}.getMany`, table.getMany(ids)),
  insert: (record) => guard(`${name}.insert`, table.insert(record)),
  insertNew: (records) => guard(`${name}.insertNew`, table.insertNew(records)),
  update: (record) => guard(`${name}.update`, table.update(record)),
  modify: (id, f) => guard(`${name}.modify`, table.modify(id, f)),
  modifyMany: (ids, f) => guard(`${name}.modifyMany`, table.modifyMany(ids, f)),
  remove: (ids) => guard(`${name}.remove`, table.remove(ids)),
  removeWhere: (where) => guard(`${name}.removeWhere`, table.removeWhere(where)),
  find: (query) => guard(`${name}.find`, table.find(query)),
  findFirst: (where) => guard(`${name}.findFirst`, table.findFirst(where)),
  count: (where) => guard(`${name}.count`, table.count(where))
})

/** Wraps every table call and every transaction of the store. */
export const wrapRecordStore = (store: RecordStoreService): { readonly store: RecordStoreService; readonly faults: Faults } => {
  const { faults, guard } = makeGate("RecordStore")
  const wrapped = { ...store } as Record<string, unknown>
  for (const [key, value] of Object.entries(store)) {
    if (key !== "transaction") wrapped[key] = wrapTable(key, value as Table<{ readonly id: string }>, guard)
  }
  wrapped.transaction = <A, E, R>(effect: Effect.Effect<A, E, R>) => guard("transaction", store.transaction(effect))
  return { store: wrapped as unknown as RecordStoreService, faults }
}

/** The methods of a queue that can be made to fail. */
export type QueueMethod = keyof TaskQueueService

/** Wraps the given methods of the queue (all by default). */
export const wrapTaskQueue = (
  queue: TaskQueueService,
  methods: ReadonlyArray<QueueMethod> = Object.keys(queue) as Array<QueueMethod>
): { readonly queue: TaskQueueService; readonly faults: Faults } => {
  const { faults, guard } = makeGate("TaskQueue")
  const wrapped = { ...queue } as Record<string, unknown>
  for (const method of methods) {
    const original = queue[method] as unknown
    wrapped[method] = Effect.isEffect(original)
      ? guard(method, original)
      : (...args: Array<unknown>) => guard(method, (original as (...a: Array<unknown>) => Effect.Effect<unknown, unknown>)(...args))
  }
  return { queue: wrapped as unknown as TaskQueueService, faults }
}

/** A `RecordStore` over the one in the context, with its `RecordStoreFaults`. */
export const recordStore: Layer.Layer<RecordStore | RecordStoreFaults, never, RecordStore> = Layer.effectContext(
  Effect.map(RecordStore, (inner) => {
    const { faults, store } = wrapRecordStore(inner)
    return Context.make(RecordStore, store).pipe(Context.add(RecordStoreFaults, faults))
  })
)

/** A `TaskQueue` over the one in the context whose `methods` (all by default) can fail, with its `TaskQueueFaults`. */
export const taskQueue = (
  methods?: ReadonlyArray<QueueMethod>
): Layer.Layer<TaskQueue | TaskQueueFaults, never, TaskQueue> =>
  Layer.effectContext(
    Effect.map(TaskQueue, (inner) => {
      const { faults, queue } = wrapTaskQueue(inner, methods)
      return Context.make(TaskQueue, queue).pipe(Context.add(TaskQueueFaults, faults))
    })
  )
