// A compose on the builder VM: one catalog image built there with buildah, on its
// tested parent by digest, and pushed to the site registry; the digest it pushed
// is the result collected. The script is one constant: every value (the target,
// the parent, the labels, the build context, the registry credentials) reaches it
// base64-encoded on stdin, so nothing in a definition or a secret is ever part of
// a command line or read by a shell as code.
import { FactoryError } from "../../errors";

/** One image's compose. */
export interface ComposeJob {
    /** host/repository:tag the result is pushed to. */
    target: string;
    /** The tested parent, host/repository@sha256:… (the Containerfile's PARENT_IMAGE). */
    parentRef: string;
    /** false for a registry on loopback (plain HTTP), as this machine's own builds do. */
    tlsVerify: boolean;
    labels: Record<string, string>;
    /** The build context (relative path → content), Containerfile included. */
    context: Record<string, { text?: string; base64?: string }>;
    /** The registry's auth.json (a secret), when it needs credentials. */
    authJson?: string;
}

/** A value as one word: "=" and its base64 (never empty, so an empty value keeps its place on the line). */
const b64 = (s: string | Buffer) => `=${Buffer.from(s).toString("base64")}`;

/** The compose's stdin: one `<kind> =<base64>…` line per value. */
export function renderComposeInput(job: ComposeJob): string {
    const lines = [`target ${b64(job.target)}`, `parent ${b64(job.parentRef)}`, `tls ${job.tlsVerify}`];
    if (job.authJson !== undefined) lines.push(`auth ${b64(job.authJson)}`);
    for (const [k, v] of Object.entries(job.labels).sort()) lines.push(`label ${b64(`${k}=${v}`)}`);
    for (const [rel, f] of Object.entries(job.context).sort(([a], [b]) => a.localeCompare(b))) {
        lines.push(`file ${b64(rel)} ${f.base64 !== undefined ? `=${f.base64}` : b64(f.text ?? "")}`);
    }
    return `${lines.join("\n")}\n`;
}

/** The line the script ends with, and the digest in it. */
const RESULT = /^composed (\S+)@(sha256:[0-9a-f]{64})$/m;

/** The digest a compose pushed, from its output; an output without one is an error that shows the output's tail. */
export function composedDigest(stdout: string | undefined): string {
    const m = RESULT.exec(stdout ?? "");
    if (!m) throw new FactoryError(`the compose reported no digest; its output ended with:\n${(stdout ?? "").split("\n").slice(-20).join("\n")}`);
    return m[2];
}

/**
 * Runs on the builder over SSH (as its user, with sudo for buildah). Storage is a
 * fresh folder per compose, removed when it ends: the builder keeps nothing
 * between composes but what it pushed. The build's own output is kept in a log;
 * its steps are shown, and on failure its last lines.
 */
export const COMPOSE_SCRIPT = `set -eu
umask 077
work=$(mktemp -d)
trap 'sudo rm -rf "$work"' EXIT
d() { printf '%s' "\${1#=}" | base64 -d; }
mkdir "$work/context"
tls=true
set --
while read -r kind a b; do
  case "$kind" in
    target) target=$(d "$a") ;;
    parent) parent=$(d "$a") ;;
    tls) case "$a" in true|false) tls=$a ;; *) echo "compose: tls must be true or false" >&2; exit 2 ;; esac ;;
    auth) d "$a" > "$work/auth.json"; set -- "$@" --authfile "$work/auth.json" ;;
    label) set -- "$@" --label "$(d "$a")" ;;
    file)
      rel=$(d "$a")
      case "/$rel/" in //*|*/../*|*/./*) echo "compose: the context path $rel leaves the build context" >&2; exit 2 ;; esac
      mkdir -p "$work/context/$(dirname "$rel")"
      d "$b" > "$work/context/$rel" ;;
    *) echo "compose: unknown input line: $kind" >&2; exit 2 ;;
  esac
done
[ -n "\${target:-}" ] && [ -n "\${parent:-}" ] && [ -f "$work/context/Containerfile" ] || { echo "compose: the input lacks the target, the parent or the Containerfile" >&2; exit 2; }
store() { sudo buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs "$@"; }
step() { what=$1; shift; if ! "$@" > "$work/step.log" 2>&1; then echo "compose: $what failed; its last lines:" >&2; tail -n 40 "$work/step.log" >&2; exit 1; fi; }
echo "compose: building $target on $parent"
step "buildah bud" store bud --isolation chroot --layers=false --tls-verify="$tls" --build-arg "PARENT_IMAGE=$parent" "$@" -t localhost/image-factory-compose -f "$work/context/Containerfile" "$work/context"
grep -E '^(STEP [0-9]+/[0-9]+|COMMIT)' "$work/step.log" || true
auth=""
[ -f "$work/auth.json" ] && auth="$work/auth.json"
step "buildah push" store push --tls-verify="$tls" \${auth:+--authfile "$auth"} --digestfile "$work/digest" localhost/image-factory-compose "docker://$target"
echo "composed \${target%:*}@$(cat "$work/digest")"
`;
