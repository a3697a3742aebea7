// The storage package's public face: the S3 artifact store (buckets, objects,
// boot artifact sets).
export { ARTIFACT_STORE_KINDS, ArtifactStore, type ArtifactStoreKind, type BucketNames, DEFAULT_BUCKETS } from "./artifact-store";
export { BootArtifacts } from "./boot-artifacts";
export type { BootArtifact } from "./boot-artifacts.provider";
export { bucketNameProblem } from "./s3";
