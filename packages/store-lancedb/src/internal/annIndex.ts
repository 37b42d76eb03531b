/**
 * The IVF_PQ index of a table's vector column: built once the table holds `annThreshold` vectors,
 * and trained again (partitions and codebooks fitted to the rows the table holds now) each time the
 * vectors have grown `retrainGrowth` times past the count it was trained on. An index trained on the
 * first 50,000 vectors of a table of a million keeps partitions of 4,500 rows sized for a table
 * twenty times smaller, and codebooks fitted to whatever those first documents were about.
 *
 * The count an index was trained on is kept in the vector field's metadata
 * (`ragkit.ann_trained_vectors`), so every process sees it; an index built before that was recorded
 * counts as trained at `annThreshold`. A retrain replaces the index in one commit (`replace`): a
 * search sees the old index or the new one, never none. Rows written while it trains are not in it
 * and are scanned exactly until the next optimize merges them in.
 */
import * as lancedb from "@lancedb/lancedb"
import { Effect } from "effect"
import { lance } from "./lance.js"
import { type TableState, vectorDimension } from "./tables.js"

export interface Settings {
  readonly annThreshold: number
  /** Retrain once the vectors reach this multiple of the count the index was trained on. */
  readonly retrainGrowth: number
}

/** Field metadata key of the vector column: the vector count the ANN index was trained on. */
export const trainedKey = "ragkit.ann_trained_vectors"

/** IVF_PQ sub-vectors of 8 dimensions (or the fewest larger ones that divide the dimension). */
const subVectors = (dimension: number): number => {
  for (let width = 8; width <= dimension; width++) if (dimension % width === 0) return dimension / width
  return 1
}

/**
 * IVF partitions for `vectors` vectors: about 4,096 rows each, and at least √n up to 32 (a small
 * table). √n partitions (LanceDB's default) cost 20 times the k-means work at 1M (1,000 centroids
 * over a sample of 256 per partition) and made a retrain take minutes on 2 busy cores.
 */
export const partitionsFor = (vectors: number): number =>
  Math.max(1, Math.round(vectors / 4096), Math.min(32, Math.round(Math.sqrt(vectors))))

/** The vector count the table's ANN index was trained on (`fallback` when the index did not record it). */
export const trainedVectors = (state: TableState, fallback: number) =>
  Effect.map(lance("read schema", () => state.table.schema()), (schema) => {
    const recorded = Number(schema.fields.find((f) => f.name === "vector")?.metadata.get(trainedKey))
    return Number.isFinite(recorded) && recorded > 0 ? recorded : fallback
  })

/**
 * Builds the IVF_PQ index once the table holds `annThreshold` vectors, or trains it again once they
 * are `retrainGrowth` times the count it was trained on; does nothing otherwise.
 */
export const buildIfDue = (settings: Settings, state: TableState) =>
  Effect.gen(function*() {
    const due = state.ann
      ? Math.max(settings.annThreshold, (yield* trainedVectors(state, settings.annThreshold)) * settings.retrainGrowth)
      : settings.annThreshold
    if ((yield* lance("count rows", () => state.table.countRows())) < due) return
    const vectors = yield* lance("count vectors", () => state.table.countRows("has_vector"))
    if (vectors < due) return
    const dimension = yield* vectorDimension(state)
    if (dimension === undefined) return
    yield* lance(state.ann ? "retrain vector index" : "create vector index", () =>
      state.table.createIndex("vector", {
        replace: true,
        config: lancedb.Index.ivfPq({
          distanceType: "cosine",
          numPartitions: partitionsFor(vectors),
          numSubVectors: subVectors(dimension)
        })
      }))
    yield* lance("record vector index size", () =>
      state.table.updateFieldMetadata([{ path: "vector", metadata: { [trainedKey]: String(vectors) } }]))
    state.ann = true
  })
