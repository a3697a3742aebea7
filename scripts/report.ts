// `npm run report [-- <stack>]`: the image lineage of a site from its stack
// outputs — the catalog tree with versions, digests, test results and the disks
// and boot artifact sets that contain each image, and the rollout waves (a hub's
// groups and channels, or a site's group and health) — as a self-contained HTML page
// (.local/report/<stack>.html) and as Mermaid (printed, for a README or a PR).
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { StackOutputsV1 } from "../components/contract";
import { run } from "../components/exec";

type Outputs = Partial<StackOutputsV1> & Pick<StackOutputsV1, "images">;

const short = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12);
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Image name → the disks (by name) whose content holds that image's released digest. */
function disksHolding(o: Outputs): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [name, img] of Object.entries(o.images)) {
        out[name] = Object.entries(o.disks ?? {})
            .filter(([, d]) => d.manifest.some((m) => m.digest === img.digest))
            .map(([disk]) => disk);
    }
    return out;
}

const testsText = (t?: { passed: number; total: number }) => (t ? `${t.passed}/${t.total} tests passed` : "tests: n/a");

/** The lineage as a Mermaid flowchart: parent → child, each node with version, digest and tests. */
export function lineageMermaid(o: Outputs): string {
    const disks = disksHolding(o);
    const id = (n: string) => n.replace(/[^A-Za-z0-9_]/g, "_");
    const lines = ["flowchart TD"];
    for (const [name, img] of Object.entries(o.images).sort(([a], [b]) => a.localeCompare(b))) {
        const extra = [disks[name].length ? `on disk ${disks[name].join(", ")}` : "", o.bootArtifacts?.[name] ? "boot artifacts" : ""].filter(Boolean).join("; ");
        lines.push(`    ${id(name)}["<b>${name}</b> ${img.version}<br/>${short(img.digest)}<br/>${testsText(img.tests)}${extra ? `<br/>${extra}` : ""}"]`);
    }
    for (const [name, img] of Object.entries(o.images)) if (img.parent) lines.push(`    ${id(img.parent)} --> ${id(name)}`);
    return lines.join("\n");
}

/** A hub's waves (each group's channel per image, its verdict and why) and a site's report to its hub, as HTML; "" when neither. */
export function rolloutHtml(o: Outputs): string {
    const parts: string[] = [];
    if (o.rollout) {
        const images = [...new Set(o.rollout.groups.flatMap((g) => Object.keys(g.images)))].sort();
        const rows = o.rollout.groups.flatMap((g, i) =>
            images.map((image) => {
                const e = g.images[image];
                const cells = e ? [e.digest ? `<code title="${esc(e.ref ?? "")}">${short(e.digest)}</code> ${esc(e.version ?? "")}` : "—", esc(e.status), esc(e.reason)] : ["—", "—", "—"];
                return `<tr><td>${i + 1}. ${esc(g.name)}</td><td>${esc(g.sites.join(", "))}</td><td>${esc(image)}</td><td>${cells.join("</td><td>")}</td></tr>`;
            }),
        );
        parts.push(
            `<h2>Rollout waves</h2><p>Soak ${o.rollout.soakSeconds}s; each group's channel tag is its name.</p>\n<table><tr><th>group</th><th>sites</th><th>image</th><th>channel</th><th>status</th><th>why</th></tr>\n${rows.join("\n")}\n</table>`,
        );
    }
    if (o.rolloutReport) {
        const r = o.rolloutReport;
        const h = r.health ? `${r.health.healthy ? "healthy" : "UNHEALTHY"} at ${esc(r.health.checkedAt)}: ${esc(r.health.detail)}` : "no health probe";
        const rows = Object.entries(r.images)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([image, x]) => `<tr><td>${esc(image)}</td><td><code>${short(x.digest)}</code></td><td>${esc(x.since)}</td></tr>`);
        parts.push(`<h2>Rollout group <code>${esc(r.group)}</code></h2><p>Health: ${h}</p>\n<table><tr><th>image</th><th>runs</th><th>since</th></tr>\n${rows.join("\n")}\n</table>`);
    }
    return parts.join("\n");
}

/** A self-contained HTML page: the tree, and a table of every image. */
export function lineageHtml(stack: string, o: Outputs): string {
    const disks = disksHolding(o);
    const children = (parent: string | null) => Object.entries(o.images).filter(([, i]) => i.parent === parent).sort(([a], [b]) => a.localeCompare(b));
    const node = (name: string): string => {
        const img = o.images[name];
        const ok = img.tests ? img.tests.passed === img.tests.total : true;
        const kids = children(name);
        return `<li><span class="node${ok ? "" : " failed"}"><b>${esc(name)}</b> ${esc(img.version)} <code title="${esc(img.ref)}">${short(img.digest)}</code> · ${esc(testsText(img.tests))}${
            disks[name].length ? ` · on disk ${disks[name].map(esc).join(", ")}` : ""
        }${o.bootArtifacts?.[name] ? " · boot artifacts" : ""}</span>${kids.length ? `<ul>${kids.map(([k]) => node(k)).join("")}</ul>` : ""}</li>`;
    };
    const rows = Object.entries(o.images)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, i]) => `<tr><td>${esc(name)}</td><td>${esc(i.version)}</td><td>${esc(i.parent ?? "—")}</td><td><code>${esc(i.ref)}</code></td><td>${esc(i.tags.join(", "))}</td><td>${esc(testsText(i.tests))}</td><td>${esc(disks[name].join(", ") || "—")}</td></tr>`)
        .join("\n");
    return `<!doctype html>
<html><head><meta charset="utf-8"><title>image-factory: ${esc(stack)}</title>
<style>
body{font:14px/1.5 system-ui,sans-serif;margin:2em;color:#222}
ul.tree,ul.tree ul{list-style:none;padding-left:1.5em;border-left:1px solid #bbb}
ul.tree{border:none;padding:0}.node{display:inline-block;margin:.2em 0;padding:.2em .6em;border:1px solid #8a8;border-radius:4px;background:#f4fbf4}
.node.failed{border-color:#c66;background:#fbf0f0}table{border-collapse:collapse;margin-top:1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}code{font-size:12px}
</style></head><body>
<h1>Image lineage — stack <code>${esc(stack)}</code></h1>
<p>Site <b>${esc(o.site?.name ?? stack)}</b> (${esc(o.site?.role ?? "?")}), registry <code>${esc(o.registry?.url ?? "?")}</code>. Outputs contract v${o.schemaVersion ?? "?"}.</p>
<ul class="tree">${children(null).map(([k]) => node(k)).join("")}</ul>
<table><tr><th>image</th><th>version</th><th>parent</th><th>released (by digest)</th><th>tags</th><th>tests</th><th>on disks</th></tr>
${rows}
</table>
${rolloutHtml(o)}
<h2>Mermaid</h2><pre>${esc(lineageMermaid(o))}</pre>
</body></html>
`;
}

async function main(): Promise<void> {
    const stack = process.argv[2] ?? "local";
    const root = path.resolve(__dirname, "..");
    const r = await run("bash", [path.join(root, "scripts/pulumi.sh"), "stack", "output", "--json", "--stack", stack], { cwd: root });
    const outputs = JSON.parse(r.stdout) as Outputs;
    if (!outputs.images) throw new Error(`stack ${stack} has no images output (deploy it first: npm run up)`);
    const file = path.join(root, ".local/report", `${stack}.html`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, lineageHtml(stack, outputs));
    console.log(`${lineageMermaid(outputs)}\n\nwrote ${path.relative(process.cwd(), file)}`);
}

if (require.main === module) {
    main().catch((e) => {
        console.error((e as Error).message);
        process.exit(1);
    });
}
