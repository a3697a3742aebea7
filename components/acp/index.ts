// The acp package's public face: the site's services on its cluster (operators,
// builder VM, in-cluster pipeline, VM templates). Kubernetes plumbing is in components/kube.
export { DEFAULT_WAIT_SECONDS, kubeProvider } from "../kube";
export { BuilderVm } from "./builder-vm";
export { TektonPipeline } from "./pipeline";
export { type BootSource, type BuilderVmInput, DEFAULT_BUILDER_PACKAGES } from "./render/builder-vm";
export { catalogDigest, type PipelineImage, TEST_MODES, type TestMode, type ToolImages, unknownImages } from "./render/pipeline";
export { OPERATOR_NAMES, OPERATORS, type OperatorName } from "./render/services";
export type { ReleasedDisk } from "./render/vm-templates";
export { AcpServices } from "./services";
export { VmTemplates } from "./vm-templates";
