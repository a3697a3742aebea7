// The mkfs.xfs -p protofile for a staging folder: which files the new
// filesystem holds, their modes, owners and where their bytes come from.
// Pure; names that the protofile cannot carry are refused.

export interface StagedFile {
    /** Path in the filesystem, relative to its root ("a/b.tar"). */
    path: string;
    /** Absolute path of the bytes on this machine. */
    source: string;
    mode: number;
    size: number;
}

/** A name mkfs.xfs's protofile parser reads back as one token. */
const TOKEN = /^[^\s$]+$/;

/**
 * Renders a protofile (xfsprogs mkfs/proto.c): a boot-image line and a
 * blocks/inodes line (both ignored), then the root directory, its entries,
 * each directory closed by "$". Owners are root; directories are 0755.
 */
export function renderXfsProtofile(files: readonly StagedFile[]): string {
    interface Dir {
        dirs: Map<string, Dir>;
        files: StagedFile[];
    }
    const root: Dir = { dirs: new Map(), files: [] };
    for (const f of files) {
        const parts = f.path.split("/");
        if (parts.some((p) => !p || p === "." || p === ".." || !TOKEN.test(p)) || !TOKEN.test(f.source)) {
            throw new Error(`cannot put ${JSON.stringify(f.path)} (from ${JSON.stringify(f.source)}) in an XFS protofile: names must be non-empty, without whitespace or "$"`);
        }
        let dir = root;
        for (const p of parts.slice(0, -1)) {
            if (!dir.dirs.has(p)) dir.dirs.set(p, { dirs: new Map(), files: [] });
            dir = dir.dirs.get(p)!;
        }
        dir.files.push(f);
    }
    const lines = ["/dev/null", "0 0", "d--755 0 0"];
    const walk = (dir: Dir, depth: number) => {
        const pad = "  ".repeat(depth);
        for (const f of [...dir.files].sort((a, b) => a.path.localeCompare(b.path))) {
            lines.push(`${pad}${f.path.split("/").pop()} ---${(f.mode & 0o777).toString(8).padStart(3, "0")} 0 0 ${f.source}`);
        }
        for (const [name, sub] of [...dir.dirs].sort(([a], [b]) => a.localeCompare(b))) {
            lines.push(`${pad}${name} d--755 0 0`);
            walk(sub, depth + 1);
            lines.push(`${pad}$`);
        }
    };
    walk(root, 1);
    lines.push("$");
    return `${lines.join("\n")}\n`;
}
