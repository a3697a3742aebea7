// An image's tests as a POSIX shell script, for where the local test runner
// cannot reach: the in-cluster pipeline runs it inside the image (as a pod) or
// in the booted VM. Every value is single-quoted, so nothing in a test
// definition is ever interpreted by the shell.
import type { TestSpec } from "../catalog";

export const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** One shell word: as it is when it holds only characters no shell interprets, else single-quoted. */
export const shWord = (s: string) => (/^[A-Za-z0-9._+:@/=,-]+$/.test(s) ? s : shq(s));
const argv = (a: string[]) => a.map(shq).join(" ");

/** Lines that leave the first problem in $r (empty when the test passed). */
function one(t: TestSpec): string[] {
    if (t.kind === "command") {
        const lines = [`out=$(${argv(t.run)} 2>&1); code=$?`, `[ "$code" = ${t.exitCode} ] || r="exit $code, expected ${t.exitCode}: $out"`];
        if (t.stdoutContains !== undefined) lines.push(`[ -n "$r" ] || case "$out" in *${shq(t.stdoutContains)}*) ;; *) r="output lacks "${shq(t.stdoutContains)} ;; esac`);
        return lines;
    }
    if (t.kind === "file") {
        const p = shq(t.path);
        const lines = [`[ -f ${p} ] || r="not a file"`];
        if (t.mode !== undefined) lines.push(`[ -n "$r" ] || [ "$(stat -c %a ${p})" = ${shq(parseInt(t.mode, 8).toString(8))} ] || r="mode $(stat -c %a ${p})"`);
        if (t.contains !== undefined) lines.push(`[ -n "$r" ] || grep -qF -- ${shq(t.contains)} ${p} || r="lacks "${shq(t.contains)}`);
        return lines;
    }
    const probe = t.http
        ? `curl -fsS --max-time 5 ${shq(`http://127.0.0.1:${t.http.port}${t.http.path}`)}${t.http.contains !== undefined ? ` | grep -qF -- ${shq(t.http.contains)}` : " >/dev/null"}`
        : `bash -c ${shq(`exec 3<>/dev/tcp/127.0.0.1/${t.tcp!.port}`)} 2>/dev/null`;
    return [
        `${argv(t.start)} >/tmp/image-factory-service.log 2>&1 & svc=$!`,
        `ok=0; i=0; while [ $i -lt ${t.timeoutSeconds * 2} ]; do if ${probe}; then ok=1; break; fi; i=$((i + 1)); sleep 0.5; done`,
        `kill $svc 2>/dev/null || true`,
        `[ $ok = 1 ] || r="no answer in ${t.timeoutSeconds}s: $(tail -n 20 /tmp/image-factory-service.log)"`,
    ];
}

export function renderTestScript(tests: TestSpec[]): string {
    const body = tests.flatMap((t) => ["", "r=''", ...one(t), `result ${shq(t.name)}`]);
    return [
        "#!/bin/sh",
        "# Rendered by image-factory from the catalog's tests; exits non-zero if any fails.",
        "failed=0",
        'result() { if [ -z "$r" ]; then echo "ok - $1"; else echo "not ok - $1: $r"; failed=1; fi; }',
        ...body,
        "",
        "exit $failed",
        "",
    ].join("\n");
}
