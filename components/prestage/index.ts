// The prestage package's public face: factory pre-staged disks and the limits
// their configuration is checked against.
export { PreStagedDisk } from "./disk";
export { type DiskFormat, FILESYSTEMS, type Filesystem, FORMATS, parseSize } from "./layout";
export { DEFAULT_MOUNT_POINT, LABEL, PARTITION_PATH, RESERVED_NAMES, SET_NAME } from "./tooling";
