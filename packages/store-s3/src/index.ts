/**
 * @ragkit/store-s3: the blob store on S3 or any S3-compatible object store (MinIO, R2, GCS, ...).
 *
 *   const Blobs = S3BlobStore.layer({ bucket: "my-bucket", prefix: "ragkit/", region: "eu-west-1" })
 */
export * as S3BlobStore from "./S3BlobStore.js"
