// The schema of one catalog file (images/*.yaml), and of a site's customization
// of an image (stack config images.customizations.<name>), which shares its file
// entries. Published as schemas/image.schema.json (npm run schemas).
//
// Names that end up in a Containerfile, a blueprint or a shell inside the image
// have strict patterns, so that nothing can smuggle in a shell metacharacter.
import { exactlyOne, MapOf, OneOf, Pattern, PATTERNS, type Static, Strict, Type, Whole } from "../schema";

export const IMAGE_PATTERNS = {
    imageName: /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/,
    version: /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/,
    package: /^[A-Za-z0-9][A-Za-z0-9+._-]{0,127}$/,
    unit: /^[A-Za-z0-9][A-Za-z0-9:_.\\@-]{0,250}\.(service|socket|timer|target|path|mount|automount|slice)$/,
    user: /^[a-z_][a-z0-9_-]{0,31}$/,
    owner: /^[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?$/,
    labelKey: /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(\/[A-Za-z0-9._-]+)?$/,
    suite: /^[a-z][a-z0-9-]*$/,
    kernelModule: /^[a-z0-9][a-z0-9_-]{0,62}$/,
};

const safe = { shellSafe: true };
export const ImageName = Pattern(IMAGE_PATTERNS.imageName, "an image name (lower case letters, digits, . _ -)", safe);
export const PackageName = Pattern(IMAGE_PATTERNS.package, "a package name", safe);
const UnitName = Pattern(IMAGE_PATTERNS.unit, "a systemd unit name", safe);
const UserName = Pattern(IMAGE_PATTERNS.user, "a user name", safe);
const ImagePath = Pattern(PATTERNS.imagePath, "an absolute path in the image");
const Argv = Type.Array(Type.String(), { minItems: 1, hint: "a non-empty list of arguments (a command, not a shell string)" });

/** A file placed in the image: inline content or a catalog-relative source file. */
export const FileEntry = Strict(
    {
        path: ImagePath,
        content: Type.Optional(Type.String()),
        source: Type.Optional(Type.String({ description: "A file relative to the catalog folder." })),
        mode: Type.Optional(Pattern(PATTERNS.mode, 'an octal mode such as "0644"', { default: "0644" })),
        owner: Type.Optional(Pattern(IMAGE_PATTERNS.owner, "an owner (user or user:group)", { default: "root:root" })),
    },
    exactlyOne(["content", "source"], "needs exactly one of `content` or `source`"),
);
export type FileEntry = Static<typeof FileEntry>;

export const Labels = MapOf(Pattern(/^[ -~\u00a0-\uffff]*$/, "a label value (one line, no control characters)"), { pattern: IMAGE_PATTERNS.labelKey, hint: "a label key" });

const RootfsSource = Strict({
    distro: Type.Optional(OneOf(["debian"] as const, { default: "debian" })),
    suite: Pattern(IMAGE_PATTERNS.suite, "a suite name such as bookworm"),
    mirror: Type.Optional(Pattern(/^https?:\/\/[^\s]+$/, "a mirror URL", { default: "http://deb.debian.org/debian" })),
    variant: Type.Optional(OneOf(["minbase", "apt", "required", "important", "standard"] as const, { default: "minbase" })),
    packages: Type.Optional(Type.Array(PackageName, { default: [] })),
});
const ImageRef = Pattern(/^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/, "an image reference host/repository[:tag][@digest]");
const ImageSource = Strict({
    ref: ImageRef,
    packageManager: Type.Optional(OneOf(["dnf", "apt"] as const, { default: "dnf" })),
});

const Test = Strict(
    {
        name: Type.String(),
        run: Type.Optional(Argv),
        exitCode: Type.Optional(Whole(0, 255, { default: 0 })),
        stdoutContains: Type.Optional(Type.String()),
        file: Type.Optional(ImagePath),
        contains: Type.Optional(Type.String()),
        mode: Type.Optional(Pattern(PATTERNS.mode, "an octal mode")),
        service: Type.Optional(
            Strict(
                {
                    start: Argv,
                    timeoutSeconds: Type.Optional(Whole(1, 600, { default: 60 })),
                    http: Type.Optional(
                        Strict({
                            port: Type.Optional(Whole(1, 65535, { default: 80 })),
                            path: Type.Optional(Pattern(/^\/\S*$/, "a URL path", { default: "/" })),
                            status: Type.Optional(Whole(100, 599, { default: 200 })),
                            contains: Type.Optional(Type.String()),
                        }),
                    ),
                    tcp: Type.Optional(Strict({ port: Whole(1, 65535) })),
                },
                exactlyOne(["http", "tcp"], "needs exactly one probe: `http` or `tcp`"),
            ),
        ),
    },
    exactlyOne(["run", "file", "service"], "needs exactly one of `run` (a command), `file` (a path) or `service` (start and probe)"),
);

/** One catalog file. */
export const ImageFile = Strict({
    name: ImageName,
    version: Pattern(IMAGE_PATTERNS.version, "a version (usable as a tag)", safe),
    description: Type.Optional(Type.String()),
    parent: Type.Optional(Pattern(IMAGE_PATTERNS.imageName, "an image name", { description: "Another catalog image this one is built on (or give `source`)." })),
    source: Type.Optional(
        Strict(
            {
                rootfs: Type.Optional(RootfsSource),
                image: Type.Optional(Type.Union([ImageRef, ImageSource], { hint: "an image reference, or a mapping with ref and packageManager" })),
            },
            exactlyOne(["rootfs", "image"], "needs exactly one of `rootfs` (bootstrap from a package mirror) or `image` (an image reference)"),
        ),
    ),
    refresh: Type.Optional(
        Strict(
            { every: Pattern(/^[1-9][0-9]{0,3}[hd]$/, "a period in hours or days, such as 12h or 7d") },
            {
                description:
                    "A root image's refresh policy: rebuilt from fresh packages this often (and by `npm run up -- --refresh-bases`); released again, with its children, only if its packages changed.",
            },
        ),
    ),
    packages: Type.Optional(Type.Array(PackageName, { default: [] })),
    files: Type.Optional(Type.Array(FileEntry, { default: [] })),
    users: Type.Optional(
        Type.Array(
            Strict({
                name: UserName,
                groups: Type.Optional(Type.Array(Pattern(IMAGE_PATTERNS.user, "a group name", safe), { default: [] })),
                sshKeys: Type.Optional(Type.Array(Pattern(PATTERNS.sshPublicKey, "an SSH public key line (ssh-ed25519 AAAA…)"), { default: [] })),
                shell: Type.Optional(Pattern(/^\/[A-Za-z0-9/_.-]+$/, "a shell path", { default: "/bin/bash" })),
            }),
            { default: [] },
        ),
    ),
    units: Type.Optional(
        Strict(
            {
                enable: Type.Optional(Type.Array(UnitName, { default: [] })),
                disable: Type.Optional(Type.Array(UnitName, { default: [] })),
            },
            { default: {} },
        ),
    ),
    labels: Type.Optional(Labels),
    tests: Type.Optional(Type.Array(Test, { default: [] })),
    boot: Type.Optional(
        Strict(
            {
                kernel: Type.Optional(
                    Pattern(IMAGE_PATTERNS.package, "a kernel package name", { ...safe, description: "Installed with initramfs-tools; makes this image and its children bootable." }),
                ),
                initramfsModules: Type.Optional(Type.Array(Pattern(IMAGE_PATTERNS.kernelModule, "a kernel module name", safe), { default: [], description: "Carried and loaded by the initramfs." })),
                test: Type.Optional(Type.Boolean({ description: "Boot-test before release (default: true when a kernel is in the chain)." })),
                timeoutSeconds: Type.Optional(Whole(30, 7200, { description: "Time limit of one boot (default: image-factory:boot.timeoutSeconds)." })),
            },
            { description: "How the image boots; children inherit it." },
        ),
    ),
});
export type ImageFile = Static<typeof ImageFile>;

/** Per-site additions to an image (stack config `images.customizations.<name>`). */
export const Customization = Strict({
    files: Type.Optional(Type.Array(FileEntry)),
    packages: Type.Optional(Type.Array(PackageName)),
    labels: Type.Optional(Labels),
});
export type Customization = Static<typeof Customization>;
export const Customizations = MapOf(Customization);
