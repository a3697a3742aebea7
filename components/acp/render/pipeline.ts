// The in-cluster pipeline: Tekton Tasks and a Pipeline that build and test the
// catalog's images on the ACP, and a Trigger (EventListener, TriggerBinding,
// TriggerTemplate) that starts it when the image definitions' git repository
// changes.
//
// One owner per tag: the pipeline moves no release tag. It pushes each build to
// its content-addressed `build-<definitionHash>` tag and tests it (as a pod or in
// a VM); its result is the tested digest. The release tags (version, `latest`,
// the channel, a rollout group's channel) belong to the stack's release alone —
// ImageRelease (components/images) and FleetRollout (components/fleet) — because
// rollback, pins, staged rollout and signing are tied to it; a tag task here
// would move the same tags behind the stack's back.
//
// It is rendered from the same catalog and hashes as the local pipeline, by a
// pure function over a neutral input (the catalog's images with their rendered
// Containerfile and definitionHash). How the cluster stays consistent with the
// catalog:
//
// - Each image's build task carries its Containerfile and definitionHash. The
//   build pushes to the tag `build-<hex of definitionHash>` and, first, looks
//   that tag up: an image whose hash is already built is not rebuilt (its digest
//   is reused), exactly like the local pipeline's unchanged hash → no rebuild.
// - The fetch task checks out the pushed revision and computes the digest of the
//   catalog folder (catalogDigest below, the same function in TypeScript and in
//   sh). When it differs from the digest this Pipeline was rendered from, the
//   definitions in git are newer than the rendering: the run builds nothing and
//   says so, instead of building a stale definition. The `pulumi up` that renders
//   them updates the Pipeline and starts a run for the new rendering (`run`,
//   named after the digest of the rendered Tasks and Pipeline, so once per rendering).
// - Child images build after their parent's tests; the parent's digest is
//   passed as build argument PARENT_IMAGE (<registry>/<repo>@sha256:…). A
//   Containerfile that names its parent by the parent's `build-<hash>` tag
//   works too: that tag exists by then.
import { type KubeObject, siteLabels } from "../../kube";
import { sha256Hex } from "../../hash";
import { FactoryError } from "../../errors";

export interface PipelineImage {
    name: string;
    version: string;
    parent: string | null;
    /** "sha256:<hex>": the image's identity in the catalog. */
    definitionHash: string;
    /** The bootc Containerfile the catalog rendered for this image. */
    containerfile: string;
    /** The catalog's test definitions (carried as JSON for the record). */
    tests: unknown[];
    /** The shell script the catalog rendered from `tests`; runs in the image (pod) or in the booted VM. */
    testScript?: string;
}

export const TEST_MODES = ["pod", "vm"] as const;
export type TestMode = (typeof TEST_MODES)[number];

export interface ToolImages {
    git: string;
    buildah: string;
    skopeo: string;
    /** oc and ssh: boots test VMs and runs the tests in them. */
    oc: string;
    /** bootc-image-builder: makes the qcow2 a test VM boots. */
    bootcImageBuilder: string;
}

export interface TektonPipelineInput {
    site: string;
    namespace: string;
    /** The catalog's images, as rendered. */
    images: PipelineImage[];
    /** Which images run in the cluster (their ancestors come along). Default: all. */
    select?: string[];
    /** The catalog folder in the git repository and the digest of its files (catalogDigest). */
    catalog: { path: string; digest: string };
    git: { url: string; revision: string };
    registry: {
        /** host:port the cluster's pods push to. */
        host: string;
        /** Repository prefix: images go to <host>/<repositoryNamespace>/<image>. */
        repositoryNamespace: string;
        /** The kubernetes.io/dockerconfigjson secret with push credentials. */
        pullSecret: string;
        /** CA certificates for the registry (the service CA for in-cluster registries). */
        certDir: string;
    };
    testMode: TestMode;
    serviceAccounts: { pipeline: string; trigger: string };
    toolImages: ToolImages;
    /** Size of the per-run workspace volume (the checkout and VM disks). */
    workspaceSize: string;
    /** The host name git servers send push webhooks to (a Route to the EventListener). None: in-cluster only. */
    webhookHost?: string;
}

/** The key of the webhook Secret that holds the shared secret. */
export const WEBHOOK_SECRET_KEY = "secret";

export interface TektonObjects {
    tasks: KubeObject[];
    pipeline: KubeObject;
    /**
     * `secret` holds the webhook's shared secret (its value is filled in at deploy
     * time, from the stack's webhookSecret): the listener accepts only calls signed
     * with it (GitHub-style HMAC, X-Hub-Signature-256).
     */
    trigger: { secret: KubeObject; binding: KubeObject; template: KubeObject; listener: KubeObject; route?: KubeObject };
    /** The run for this rendering: named after the digest of the Tasks and the Pipeline. */
    run: KubeObject;
    /** The images the Pipeline builds and tests, parents first. */
    order: string[];
}

export class UnknownImageError extends FactoryError {
    constructor(
        readonly unknown: Array<{ index: number; name: string }>,
        known: string[],
    ) {
        super(unknown.map((u) => `unknown image "${u.name}" (the catalog has: ${known.join(", ") || "none"})`).join("; "));
        this.name = "UnknownImageError";
    }
}

/** The selected names that the catalog does not have, with their index in the selection. */
export function unknownImages(select: string[] | undefined, images: Pick<PipelineImage, "name">[]): Array<{ index: number; name: string }> {
    const known = new Set(images.map((i) => i.name));
    return (select ?? []).map((name, index) => ({ index, name })).filter((s) => !known.has(s.name));
}

/**
 * The digest of a catalog folder: sha256 over the lines "<sha256 of file>  ./<path>"
 * sorted bytewise, which is what
 * `find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum` prints in that folder.
 */
export function catalogDigest(files: Array<{ path: string; content: string | Buffer }>): string {
    const lines = files
        .map((f) => ({ name: Buffer.from(`./${f.path}`), sum: sha256Hex(f.content) }))
        .sort((a, b) => Buffer.compare(a.name, b.name))
        .map((f) => `${f.sum}  ${f.name}\n`);
    return `sha256:${sha256Hex(lines.join(""))}`;
}

/** A step script: POSIX sh that stops at the first failing command or unset variable. */
const sh = (...lines: string[]) => ["#!/bin/sh", "set -eu", ...lines].join("\n");

/** The shell twin of catalogDigest, as the fetch task runs it (in the catalog folder). */
export const CATALOG_DIGEST_SH = `find . -type f | LC_ALL=C sort | xargs -r sha256sum | sha256sum | cut -d' ' -f1`;

/** The selected images and their ancestors, parents first. */
export function pipelineOrder(images: PipelineImage[], select?: string[]): PipelineImage[] {
    const byName = new Map(images.map((i) => [i.name, i]));
    const unknown = unknownImages(select, images);
    if (unknown.length) throw new UnknownImageError(unknown, [...byName.keys()]);
    const order: PipelineImage[] = [];
    const state = new Map<string, "visiting" | "done">();
    const visit = (name: string, from?: string) => {
        const img = byName.get(name);
        if (!img) throw new Error(`image "${from}" has parent "${name}", which is not in the catalog`);
        if (state.get(name) === "done") return;
        if (state.get(name) === "visiting") throw new Error(`image "${name}" is its own ancestor`);
        state.set(name, "visiting");
        if (img.parent) visit(img.parent, name);
        state.set(name, "done");
        order.push(img);
    };
    for (const name of select ?? images.map((i) => i.name)) visit(name);
    return order;
}

const TASK_PREFIX = "image-factory";
const hexOf = (hash: string) => hash.replace(/^sha256:/, "");

/** The tag an image's build is pushed to: its definition hash, so an unchanged image is found, not rebuilt. */
export function buildTag(definitionHash: string): string {
    return `build-${hexOf(definitionHash)}`;
}

function renderTasks(input: TektonPipelineInput): KubeObject[] {
    const labels = siteLabels(input.site, "pipeline");
    const meta = (name: string) => ({ name: `${TASK_PREFIX}-${name}`, namespace: input.namespace, labels });
    const authEnv = [{ name: "REGISTRY_AUTH_FILE", value: "$(workspaces.dockerconfig.path)/.dockerconfigjson" }];
    const dockerconfig = { name: "dockerconfig", description: "kubernetes.io/dockerconfigjson secret with push credentials", readOnly: true };
    const source = { name: "source", description: "the checked-out image definitions repository" };
    const registryParams = [
        { name: "image", type: "string", description: "<registry>/<repository> of the image, without tag" },
        { name: "cert-dir", type: "string", description: "CA certificates for the registry", default: input.registry.certDir },
    ];
    // Every value reaches scripts through the environment, never pasted into the script text.
    const env = (pairs: Record<string, string>) => Object.entries(pairs).map(([name, value]) => ({ name, value }));

    const fetch: KubeObject = {
        apiVersion: "tekton.dev/v1",
        kind: "Task",
        metadata: meta("fetch"),
        spec: {
            description: "Checks out the image definitions and tells whether they are the ones this Pipeline was rendered from.",
            params: [
                { name: "url", type: "string" },
                { name: "revision", type: "string" },
                { name: "catalog-path", type: "string" },
                { name: "catalog-digest", type: "string", description: "catalogDigest of the rendering" },
            ],
            workspaces: [source],
            results: [
                { name: "commit", type: "string", description: "the checked-out commit" },
                { name: "current", type: "string", description: '"true" when the catalog in git is the rendered one' },
            ],
            steps: [
                {
                    name: "clone",
                    image: input.toolImages.git,
                    env: env({ URL: "$(params.url)", REVISION: "$(params.revision)", CATALOG: "$(params.catalog-path)", RENDERED: "$(params.catalog-digest)", DEST: "$(workspaces.source.path)" }),
                    script: sh(
                        'cd "$DEST"',
                        'git init -q . && git remote add origin "$URL"',
                        'git fetch -q --depth 1 origin "$REVISION"',
                        "git checkout -q --force FETCH_HEAD",
                        "git rev-parse HEAD | tr -d '\\n' > $(results.commit.path)",
                        `found="sha256:$(cd "$CATALOG" && ${CATALOG_DIGEST_SH})"`,
                        'if [ "$found" = "$RENDERED" ]; then',
                        "  printf true > $(results.current.path)",
                        "else",
                        '  echo "the catalog at $(git rev-parse --short HEAD) ($found) is not the one this Pipeline was rendered from ($RENDERED): nothing is built; run pulumi up for this site to render it"',
                        "  printf false > $(results.current.path)",
                        "fi",
                    ),
                },
            ],
        },
    };

    const build: KubeObject = {
        apiVersion: "tekton.dev/v1",
        kind: "Task",
        metadata: meta("build"),
        spec: {
            description: "Builds an image with buildah unless its build-<definitionHash> tag already exists, and pushes it.",
            params: [
                ...registryParams,
                { name: "definition-hash", type: "string" },
                { name: "containerfile", type: "string", description: "the Containerfile the catalog rendered" },
                { name: "parent-ref", type: "string", default: "", description: "the parent image by digest, passed as build argument PARENT_IMAGE" },
            ],
            workspaces: [source, dockerconfig],
            results: [
                { name: "digest", type: "string" },
                { name: "built", type: "string", description: '"true" when this run built the image, "false" when its hash was already built' },
            ],
            steps: [
                {
                    name: "lookup",
                    image: input.toolImages.skopeo,
                    env: [...authEnv, ...env({ IMAGE: "$(params.image)", HASH: "$(params.definition-hash)", CERT_DIR: "$(params.cert-dir)" })],
                    script: sh(
                        'ref="$IMAGE:build-${HASH#sha256:}"',
                        'if digest=$(skopeo inspect --cert-dir "$CERT_DIR" --format "{{.Digest}}" "docker://$ref" 2>/dev/null); then',
                        '  echo "$ref exists ($digest): unchanged, not rebuilt"',
                        '  printf %s "$digest" > $(results.digest.path)',
                        "  printf false > $(results.built.path)",
                        "fi",
                    ),
                },
                {
                    name: "build-and-push",
                    image: input.toolImages.buildah,
                    env: [
                        ...authEnv,
                        ...env({
                            IMAGE: "$(params.image)",
                            HASH: "$(params.definition-hash)",
                            CONTAINERFILE: "$(params.containerfile)",
                            PARENT_REF: "$(params.parent-ref)",
                            CERT_DIR: "$(params.cert-dir)",
                            CONTEXT: "$(workspaces.source.path)",
                        }),
                    ],
                    securityContext: { privileged: true },
                    script: sh(
                        'if [ -s $(results.built.path) ]; then exit 0; fi',
                        'ref="$IMAGE:build-${HASH#sha256:}"',
                        'printf "%s" "$CONTAINERFILE" > /tmp/Containerfile',
                        'set -- --storage-driver vfs build --isolation chroot --cert-dir "$CERT_DIR" -f /tmp/Containerfile --label "image-factory.definition-hash=$HASH" -t "$ref"',
                        'if [ -n "$PARENT_REF" ]; then set -- "$@" --build-arg "PARENT_IMAGE=$PARENT_REF"; fi',
                        'buildah "$@" "$CONTEXT"',
                        'buildah --storage-driver vfs push --cert-dir "$CERT_DIR" --digestfile /tmp/digest "$ref" "docker://$ref"',
                        "cat /tmp/digest > $(results.digest.path)",
                        "printf true > $(results.built.path)",
                    ),
                },
            ],
        },
    };

    const testScriptParam = { name: "test-script", type: "string", default: "", description: "the tests the catalog rendered for this image" };
    const testPod: KubeObject = {
        apiVersion: "tekton.dev/v1",
        kind: "Task",
        metadata: meta("test-pod"),
        spec: {
            description: "Runs the image as a pod: bootc's own lint, then the image's tests.",
            params: [{ name: "image-ref", type: "string", description: "the image by digest" }, testScriptParam],
            steps: [
                {
                    name: "test",
                    image: "$(params.image-ref)",
                    env: env({ TEST_SCRIPT: "$(params.test-script)" }),
                    // The program the local gate runs too; not under -e: it runs every test and exits 1 if one failed.
                    script: sh("if command -v bootc >/dev/null; then bootc container lint; fi", 'if [ -n "$TEST_SCRIPT" ]; then sh -c "$TEST_SCRIPT"; fi'),
                },
            ],
        },
    };

    const testVm: KubeObject = {
        apiVersion: "tekton.dev/v1",
        kind: "Task",
        metadata: meta("test-vm"),
        spec: {
            description: "Boots the image in a KubeVirt VM (bootc-image-builder qcow2 in a container disk) and runs its tests over SSH.",
            params: [
                ...registryParams,
                { name: "digest", type: "string" },
                { name: "definition-hash", type: "string" },
                testScriptParam,
                { name: "memory", type: "string", default: "4Gi" },
            ],
            workspaces: [source, dockerconfig],
            results: [{ name: "disk-ref", type: "string", description: "the container disk the VM booted, by digest" }],
            volumes: [{ name: "work", emptyDir: {} }],
            steps: [
                {
                    name: "disk",
                    image: input.toolImages.bootcImageBuilder,
                    securityContext: { privileged: true },
                    env: [...authEnv, ...env({ IMAGE: "$(params.image)", DIGEST: "$(params.digest)", CERT_DIR: "$(params.cert-dir)" })],
                    volumeMounts: [{ name: "work", mountPath: "/work" }],
                    script: sh(
                        'podman pull --cert-dir "$CERT_DIR" "$IMAGE@$DIGEST"',
                        'bootc-image-builder build --type qcow2 --rootfs xfs --output /work "$IMAGE@$DIGEST"',
                    ),
                },
                {
                    name: "container-disk",
                    image: input.toolImages.buildah,
                    securityContext: { privileged: true },
                    env: [...authEnv, ...env({ IMAGE: "$(params.image)", HASH: "$(params.definition-hash)", CERT_DIR: "$(params.cert-dir)" })],
                    volumeMounts: [{ name: "work", mountPath: "/work" }],
                    script: sh(
                        // KubeVirt boots a container disk: one qcow2 under /disk, owned by qemu (107).
                        'ref="$IMAGE-disk:build-${HASH#sha256:}"',
                        "printf 'FROM scratch\\nADD --chown=107:107 qcow2/disk.qcow2 /disk/\\n' > /work/Containerfile",
                        'buildah --storage-driver vfs build --isolation chroot -f /work/Containerfile -t "$ref" /work',
                        'buildah --storage-driver vfs push --cert-dir "$CERT_DIR" --digestfile /work/disk-digest "$ref" "docker://$ref"',
                        'printf "%s@%s" "$IMAGE-disk" "$(cat /work/disk-digest)" > $(results.disk-ref.path)',
                    ),
                },
                {
                    name: "boot-and-test",
                    image: input.toolImages.oc,
                    // The VM is removed by the next step whether the tests pass or not.
                    onError: "continue",
                    env: env({ MEMORY: "$(params.memory)", TEST_SCRIPT: "$(params.test-script)", NAMESPACE: input.namespace, RUN: "$(context.taskRun.name)" }),
                    volumeMounts: [{ name: "work", mountPath: "/work" }],
                    script: sh(
                        "ssh-keygen -q -t ed25519 -N '' -f /work/id",
                        'disk=$(cat $(results.disk-ref.path))',
                        // The TaskRun's name may be 63 characters already: name the VMI by a hash of it.
                        'vmi="test-$(printf %s "$RUN" | sha256sum | cut -c1-12)"',
                        "cat > /work/vmi.json <<EOF",
                        '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":"$vmi","namespace":"$NAMESPACE"},',
                        ' "spec":{"domain":{"memory":{"guest":"$MEMORY"},"devices":{"disks":[{"name":"root","disk":{"bus":"virtio"}},{"name":"cloudinit","disk":{"bus":"virtio"}}]}},',
                        '  "volumes":[{"name":"root","containerDisk":{"image":"$disk"}},',
                        '   {"name":"cloudinit","cloudInitNoCloud":{"userData":"#cloud-config\\nusers:\\n  - name: test\\n    sudo: ALL=(ALL) NOPASSWD:ALL\\n    ssh_authorized_keys: [\\"$(cat /work/id.pub)\\"]\\n"}}]}}',
                        "EOF",
                        "oc create -f /work/vmi.json",
                        'oc wait -n "$NAMESPACE" --for=condition=Ready --timeout=20m "vmi/$vmi"',
                        'ip=$(oc get -n "$NAMESPACE" "vmi/$vmi" -o jsonpath="{.status.interfaces[0].ipAddress}")',
                        'ssh_test() { ssh -i /work/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 "test@$ip" "$@"; }',
                        "tries=0; until ssh_test true; do tries=$((tries + 1)); [ $tries -lt 60 ] || exit 1; sleep 10; done",
                        'ssh_test "sudo bootc status"',
                        'if [ -n "$TEST_SCRIPT" ]; then printf "%s" "$TEST_SCRIPT" | ssh_test "sudo sh -s"; fi',
                    ),
                },
                {
                    name: "cleanup",
                    image: input.toolImages.oc,
                    env: env({ NAMESPACE: input.namespace, RUN: "$(context.taskRun.name)" }),
                    script: sh(
                        'oc delete -n "$NAMESPACE" --ignore-not-found --wait=false "vmi/test-$(printf %s "$RUN" | sha256sum | cut -c1-12)"',
                        "exit $(cat $(steps.step-boot-and-test.exitCode.path))",
                    ),
                },
            ],
        },
    };

    return [fetch, build, input.testMode === "vm" ? testVm : testPod];
}

export function pipelineName(site: string): string {
    return `${TASK_PREFIX}-${site}`;
}

export function renderTektonPipeline(input: TektonPipelineInput): TektonObjects {
    const images = pipelineOrder(input.images, input.select);
    for (const img of images) {
        // Task names in a Pipeline are DNS labels: "build-" + name must fit 63 characters.
        if (img.name.length > 57) throw new Error(`image "${img.name}": names of images built in the cluster must be at most 57 characters`);
    }
    const labels = siteLabels(input.site, "pipeline");
    const tasks = renderTasks(input);
    const repo = (name: string) => `${input.registry.host}/${input.registry.repositoryNamespace}/${name}`;
    const ws = (...names: string[]) => names.map((name) => ({ name, workspace: name }));
    const p = (params: Record<string, string | string[]>) => Object.entries(params).map(([name, value]) => ({ name, value }));
    const current = [{ input: "$(tasks.fetch.results.current)", operator: "in", values: ["true"] }];

    const pipelineTasks: unknown[] = [
        {
            name: "fetch",
            taskRef: { kind: "Task", name: `${TASK_PREFIX}-fetch` },
            params: p({ url: "$(params.repo-url)", revision: "$(params.revision)", "catalog-path": input.catalog.path, "catalog-digest": input.catalog.digest }),
            workspaces: ws("source"),
        },
    ];
    for (const img of images) {
        // A child builds on its parent's tested digest (a test skipped because the parent's hash was built before does not hold it back).
        const parentTested = img.parent ? [`test-${img.parent}`] : [];
        pipelineTasks.push(
            {
                name: `build-${img.name}`,
                taskRef: { kind: "Task", name: `${TASK_PREFIX}-build` },
                runAfter: ["fetch", ...parentTested],
                when: current,
                params: p({
                    image: repo(img.name),
                    "definition-hash": img.definitionHash,
                    containerfile: img.containerfile,
                    "parent-ref": img.parent ? `${repo(img.parent)}@$(tasks.build-${img.parent}.results.digest)` : "",
                }),
                workspaces: ws("source", "dockerconfig"),
            },
            {
                name: `test-${img.name}`,
                taskRef: { kind: "Task", name: `${TASK_PREFIX}-test-${input.testMode}` },
                runAfter: [`build-${img.name}`],
                // An image whose hash was already built was tested when it was built.
                when: [{ input: `$(tasks.build-${img.name}.results.built)`, operator: "in", values: ["true"] }],
                params: p(
                    input.testMode === "vm"
                        ? { image: repo(img.name), digest: `$(tasks.build-${img.name}.results.digest)`, "definition-hash": img.definitionHash, "test-script": img.testScript ?? "" }
                        : { "image-ref": `${repo(img.name)}@$(tasks.build-${img.name}.results.digest)`, "test-script": img.testScript ?? "" },
                ),
                ...(input.testMode === "vm" ? { workspaces: ws("source", "dockerconfig") } : {}),
            },
        );
    }

    const name = pipelineName(input.site);
    const pipeline: KubeObject = {
        apiVersion: "tekton.dev/v1",
        kind: "Pipeline",
        metadata: {
            name,
            namespace: input.namespace,
            labels,
            annotations: {
                "image-factory/catalog-digest": input.catalog.digest,
                // Which definition each image is built from, for `oc describe` and the PipelineRun's record.
                "image-factory/definition-hashes": JSON.stringify(Object.fromEntries(images.map((i) => [i.name, i.definitionHash]))),
            },
        },
        spec: {
            description: `Build and test the image-factory catalog for site ${input.site}; the stack's release moves the release tags.`,
            params: [
                { name: "repo-url", type: "string", default: input.git.url },
                { name: "revision", type: "string", default: input.git.revision },
            ],
            workspaces: [{ name: "source" }, { name: "dockerconfig" }],
            tasks: pipelineTasks,
        },
    };

    const binding: KubeObject = {
        apiVersion: "triggers.tekton.dev/v1beta1",
        kind: "TriggerBinding",
        metadata: { name: `${name}-git-push`, namespace: input.namespace, labels },
        // GitHub, GitLab and Gitea push events all carry the new commit as `after`.
        spec: { params: [{ name: "revision", value: "$(body.after)" }] },
    };
    const template: KubeObject = {
        apiVersion: "triggers.tekton.dev/v1beta1",
        kind: "TriggerTemplate",
        metadata: { name, namespace: input.namespace, labels },
        spec: {
            params: [{ name: "revision", description: "the pushed commit" }],
            resourcetemplates: [pipelineRunSpec(input, { generateName: `${name}-` }, "$(tt.params.revision)")],
        },
    };
    const secret: KubeObject = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `${name}-webhook`, namespace: input.namespace, labels },
        type: "Opaque",
    };
    const listener: KubeObject = {
        apiVersion: "triggers.tekton.dev/v1beta1",
        kind: "EventListener",
        metadata: { name, namespace: input.namespace, labels },
        spec: {
            serviceAccountName: input.serviceAccounts.trigger,
            triggers: [
                {
                    name: "git-push",
                    interceptors: [
                        {
                            // First: the call must carry an HMAC of its body made with the shared
                            // secret, and be a push event; anything else is rejected before the filter.
                            ref: { name: "github", kind: "ClusterInterceptor" },
                            params: [
                                { name: "secretRef", value: { secretName: secret.metadata.name, secretKey: WEBHOOK_SECRET_KEY } },
                                { name: "eventTypes", value: ["push"] },
                            ],
                        },
                        {
                            ref: { name: "cel", kind: "ClusterInterceptor" },
                            // Only pushes to the branch this site follows.
                            params: [{ name: "filter", value: `body.ref == 'refs/heads/${input.git.revision}'` }],
                        },
                    ],
                    bindings: [{ ref: binding.metadata.name, kind: "TriggerBinding" }],
                    template: { ref: template.metadata.name },
                },
            ],
        },
    };
    // Tekton names an EventListener's Service el-<name>, port http-listener.
    const route: KubeObject | undefined = input.webhookHost
        ? {
              apiVersion: "route.openshift.io/v1",
              kind: "Route",
              metadata: { name: `el-${name}`, namespace: input.namespace, labels },
              spec: {
                  host: input.webhookHost,
                  to: { kind: "Service", name: `el-${name}`, weight: 100 },
                  port: { targetPort: "http-listener" },
                  tls: { termination: "edge", insecureEdgeTerminationPolicy: "Redirect" },
                  wildcardPolicy: "None",
              },
          }
        : undefined;
    const rendering = sha256Hex(JSON.stringify([tasks, pipeline]));
    const run = pipelineRunSpec(input, { name: `${name}-${rendering.slice(0, 12)}`, annotations: { "image-factory/rendering": `sha256:${rendering}` } }, input.git.revision);
    return { tasks, pipeline, trigger: { secret, binding, template, listener, route }, run, order: images.map((i) => i.name) };
}

function pipelineRunSpec(input: TektonPipelineInput, metadata: Record<string, unknown>, revision: string): KubeObject {
    const name = pipelineName(input.site);
    return {
        apiVersion: "tekton.dev/v1",
        kind: "PipelineRun",
        metadata: { ...metadata, namespace: input.namespace, labels: siteLabels(input.site, "pipeline") } as KubeObject["metadata"],
        spec: {
            pipelineRef: { name },
            params: [
                { name: "repo-url", value: input.git.url },
                { name: "revision", value: revision },
            ],
            taskRunTemplate: { serviceAccountName: input.serviceAccounts.pipeline },
            workspaces: [
                {
                    name: "source",
                    volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: input.workspaceSize } } } },
                },
                { name: "dockerconfig", secret: { secretName: input.registry.pullSecret } },
            ],
        },
    };
}
