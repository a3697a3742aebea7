// A builder VM on the ACP: a KubeVirt VirtualMachine that boots from a CDI
// DataVolume, prepared by cloud-init (the SSH key and the packages composes
// need), reached over SSH through a Service.
import { stringify } from "yaml";
import { awaitAnnotations, type KubeObject, siteLabels } from "../../kube";

/** Where the builder's root disk comes from (a CDI DataVolume source). */
export type BootSource =
    /** A container disk in a registry, e.g. "docker://quay.io/containerdisks/centos-stream:9". */
    | { registry: string }
    /** A qcow2/raw image over HTTP(S). */
    | { http: string }
    /** An existing CDI DataSource, e.g. the golden images OpenShift Virtualization keeps. */
    | { dataSource: { name: string; namespace: string } };

/** What composes run on a builder: image tools, and the image builder for RHDE composes. */
export const DEFAULT_BUILDER_PACKAGES = ["podman", "buildah", "skopeo", "qemu-img", "osbuild-composer", "composer-cli"];

export interface BuilderVmInput {
    site: string;
    name: string;
    namespace: string;
    source: BootSource;
    cpu: number;
    /** Guest memory, a Kubernetes quantity ("8Gi"). */
    memory: string;
    /** Root disk size, a Kubernetes quantity ("60Gi"). */
    disk: string;
    storageClass?: string;
    packages: string[];
    sshUser: string;
    sshPublicKey: string;
    /** Started once and not restarted after it powers off (when its composes are done). */
    ephemeral: boolean;
    /**
     * For an ephemeral builder: what it is made for (e.g. a hash of the pending composes).
     * It is part of the VM's name, so new work gets a fresh VM and the spent one is deleted.
     */
    generation?: string;
    serviceType: "LoadBalancer" | "NodePort";
    /** How long `up` waits for the VM to be Ready (its disk imported, the guest booted). */
    waitSeconds?: number;
}

export interface BuilderVmObjects {
    vm: KubeObject;
    service: KubeObject;
}

export function renderCloudInit(input: Pick<BuilderVmInput, "sshUser" | "sshPublicKey" | "packages">): string {
    const config = {
        users: [{ name: input.sshUser, sudo: "ALL=(ALL) NOPASSWD:ALL", shell: "/bin/bash", lock_passwd: true, ssh_authorized_keys: [input.sshPublicKey] }],
        ssh_pwauth: false,
        packages: input.packages,
        // Composes through osbuild-composer talk to its socket.
        runcmd: input.packages.includes("osbuild-composer") ? [["systemctl", "enable", "--now", "osbuild-composer.socket"]] : [],
    };
    return `#cloud-config\n${stringify(config)}`;
}

export function renderBuilderVm(input: BuilderVmInput): BuilderVmObjects {
    const labels = siteLabels(input.site, "builder-vm");
    const selector = { "image-factory/builder": input.name };
    const vmName = input.ephemeral && input.generation ? `${input.name}-${input.generation.replace(/^sha256:/, "").slice(0, 10)}` : input.name;
    const rootDv = `${vmName}-root`;
    const source = input.source;
    const dvSpec: Record<string, unknown> = {
        storage: {
            resources: { requests: { storage: input.disk } },
            ...(input.storageClass ? { storageClassName: input.storageClass } : {}),
        },
        ...("registry" in source
            ? { source: { registry: { url: source.registry, pullMethod: "node" } } }
            : "http" in source
              ? { source: { http: { url: source.http } } }
              : { sourceRef: { kind: "DataSource", name: source.dataSource.name, namespace: source.dataSource.namespace } }),
    };
    const vm: KubeObject = {
        apiVersion: "kubevirt.io/v1",
        kind: "VirtualMachine",
        // `up` waits until KubeVirt reports the VM Ready before composes dial it.
        metadata: { name: vmName, namespace: input.namespace, labels, annotations: awaitAnnotations("condition=Ready", input.waitSeconds) },
        spec: {
            runStrategy: input.ephemeral ? "Once" : "Always",
            dataVolumeTemplates: [{ metadata: { name: rootDv, labels }, spec: dvSpec }],
            template: {
                metadata: { labels: { ...labels, ...selector } },
                spec: {
                    domain: {
                        cpu: { cores: input.cpu },
                        memory: { guest: input.memory },
                        // Limits, so that a compose cannot starve the cluster (policy builder-vm-resource-limits).
                        resources: { requests: { cpu: String(input.cpu), memory: input.memory }, limits: { cpu: String(input.cpu), memory: input.memory } },
                        devices: {
                            disks: [
                                { name: "root", disk: { bus: "virtio" } },
                                { name: "cloudinit", disk: { bus: "virtio" } },
                            ],
                            interfaces: [{ name: "default", masquerade: {} }],
                        },
                    },
                    networks: [{ name: "default", pod: {} }],
                    volumes: [
                        { name: "root", dataVolume: { name: rootDv } },
                        { name: "cloudinit", cloudInitNoCloud: { userData: renderCloudInit(input) } },
                    ],
                },
            },
        },
    };
    const service: KubeObject = {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: `${input.name}-ssh`, namespace: input.namespace, labels },
        spec: { type: input.serviceType, selector, ports: [{ name: "ssh", port: 22, targetPort: 22, protocol: "TCP" }] },
    };
    return { vm, service };
}
