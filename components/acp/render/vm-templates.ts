// VM templates on the ACP, so composed images run as VMs on the ACP itself. For
// each released disk image (a container disk in the registry, pinned by digest):
// a CDI DataVolume that imports that release, a DataSource that names the
// current release (it moves like a `latest` tag), and an OpenShift Template whose
// VirtualMachine clones its root disk from the DataSource.
import { awaitAnnotations, type KubeObject, siteLabels } from "../../kube";

export interface ReleasedDisk<Ref = string> {
    /** The catalog image the disk was made from. */
    name: string;
    version: string;
    /** The container disk (qcow2 under /disk) by digest: <registry>/<repository>@sha256:… */
    diskRef: Ref;
}

export interface VmTemplatesInput {
    site: string;
    namespace: string;
    disks: ReleasedDisk[];
    /** Size of each imported disk and of each VM's root disk. */
    storage: string;
    storageClass?: string;
    /** CDI's registry credentials (accessKeyId/secretKey) in `namespace`, when the registry needs them. */
    registrySecret?: string;
    cpu: number;
    memory: string;
    /** How long `up` waits for each disk import to succeed. */
    waitSeconds?: number;
}

export interface VmTemplateObjects {
    name: string;
    version: string;
    diskRef: string;
    dataVolume: KubeObject;
    dataSource: KubeObject;
    template: KubeObject;
}

const dnsLabel = (s: string) => s.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");

export function renderVmTemplates(input: VmTemplatesInput): VmTemplateObjects[] {
    const labels = siteLabels(input.site, "vm-templates");
    const storage = { resources: { requests: { storage: input.storage } }, ...(input.storageClass ? { storageClassName: input.storageClass } : {}) };
    return input.disks.map((disk) => {
        const dvName = dnsLabel(`${disk.name}-${disk.version}`);
        const dataVolume: KubeObject = {
            apiVersion: "cdi.kubevirt.io/v1beta1",
            kind: "DataVolume",
            metadata: {
                name: dvName,
                namespace: input.namespace,
                labels: { ...labels, "image-factory/image": disk.name, "image-factory/version": dnsLabel(disk.version) },
                // Bind at once (not at the first consumer), so the import runs now and `up`
                // waits until it succeeded: a template whose disk failed to import is an error.
                annotations: { "cdi.kubevirt.io/storage.bind.immediate.requested": "true", ...awaitAnnotations("jsonpath={.status.phase}=Succeeded", input.waitSeconds) },
            },
            spec: {
                source: { registry: { url: `docker://${disk.diskRef}`, pullMethod: "pod", ...(input.registrySecret ? { secretRef: input.registrySecret } : {}) } },
                storage,
            },
        };
        const dataSource: KubeObject = {
            apiVersion: "cdi.kubevirt.io/v1beta1",
            kind: "DataSource",
            metadata: { name: disk.name, namespace: input.namespace, labels: { ...labels, "image-factory/image": disk.name } },
            spec: { source: { pvc: { name: dvName, namespace: input.namespace } } },
        };
        const vm = {
            apiVersion: "kubevirt.io/v1",
            kind: "VirtualMachine",
            metadata: { name: "${NAME}", labels: { ...labels, "image-factory/image": disk.name, "vm.kubevirt.io/template": disk.name } },
            spec: {
                runStrategy: "Halted",
                dataVolumeTemplates: [
                    {
                        metadata: { name: "${NAME}-root" },
                        spec: { sourceRef: { kind: "DataSource", name: disk.name, namespace: input.namespace }, storage },
                    },
                ],
                template: {
                    metadata: { labels: { "image-factory/image": disk.name, "kubevirt.io/domain": "${NAME}" } },
                    spec: {
                        domain: {
                            cpu: { cores: input.cpu },
                            memory: { guest: input.memory },
                            devices: { disks: [{ name: "root", disk: { bus: "virtio" } }], interfaces: [{ name: "default", masquerade: {} }] },
                        },
                        networks: [{ name: "default", pod: {} }],
                        volumes: [{ name: "root", dataVolume: { name: "${NAME}-root" } }],
                    },
                },
            },
        };
        const template: KubeObject = {
            apiVersion: "template.openshift.io/v1",
            kind: "Template",
            metadata: {
                name: disk.name,
                namespace: input.namespace,
                // These labels and annotations put the template in the console's VM catalog.
                labels: { ...labels, "template.kubevirt.io/type": "vm", "image-factory/image": disk.name },
                annotations: {
                    "openshift.io/display-name": `${disk.name} (image-factory)`,
                    description: `A VM running the ${disk.name} image released by image-factory (${disk.version}).`,
                    "template.kubevirt.io/provider": "image-factory",
                    "template.kubevirt.io/version": disk.version,
                    "image-factory/disk": disk.diskRef,
                },
            },
            objects: [vm],
            parameters: [{ name: "NAME", description: "Name of the VM", generate: "expression", from: `${dnsLabel(disk.name).slice(0, 40)}-[a-z0-9]{8}`, required: true }],
        };
        return { name: disk.name, version: disk.version, diskRef: disk.diskRef, dataVolume, dataSource, template };
    });
}
