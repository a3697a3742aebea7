// An image's tests as one POSIX shell program: the only interpreter of the
// catalog's `tests`. Both gates run it inside the image under test — the local
// ImageTest with `buildah run` in a private network namespace, the in-cluster
// pipeline as a pod (or over SSH in the booted VM) — so they cannot drift.
//
// It needs only what a minimal Debian image has: sh and coreutils, sed, and
// bash for service probes (HTTP is spoken over bash's /dev/tcp; no curl).
// Every value is single-quoted, so nothing in a test definition is ever
// interpreted by a shell.
//
// What it prints, one record per test, in order: `ok - <name>` or
// `not ok - <name>: <why>`, the later lines of <why> indented by two spaces;
// it exits 1 when a test failed. parseTestOutput reads that back.
import type { TestSpec } from "../catalog";

export const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** One shell word: as it is when it holds only characters no shell interprets, else single-quoted. */
export const shWord = (s: string) => (/^[A-Za-z0-9._+:@/=,-]+$/.test(s) ? s : shq(s));
const argv = (a: string[]) => a.map(shq).join(" ");

/** The most of a command's or service's output a failure shows (its end). */
const MAX_OUTPUT_BYTES = 4000;
const OUTPUT_TAIL = `tail -c ${MAX_OUTPUT_BYTES}`;

/**
 * One service test, in bash (for /dev/tcp). Arguments: timeout in seconds,
 * port, probe (tcp or http), path, expected status, whether a body text is
 * expected (1/0), that text, the text as shown, then the command after `--`.
 * Starts the command in its own process group, probes 127.0.0.1 twice a second
 * until the first answer or the timeout, stops the group; prints why it failed.
 * The first answer decides: a wrong status or body fails at once.
 */
const SERVICE_TEST = `
timeout=$1 port=$2 probe=$3 path=$4 status=$5 has_contains=$6 contains=$7 shown=$8
shift 9
log=$(mktemp) && err=$(mktemp) || exit 1
set -m
"$@" </dev/null >"$log" 2>&1 &
svc=$!
set +m
# True while a process of the service group runs (zombies do not count: where init
# does not reap, they stay). Not just $svc: a wrapper such as apache2ctl dies of
# SIGTERM at once, while the server it started is still shutting down cleanly.
group_runs() {
  local stat fields
  for stat in /proc/[0-9]*/stat; do
    read -r fields <"$stat" 2>/dev/null || continue
    set -- \${fields##*) }
    [ "$3" = "$svc" ] && [ "$1" != Z ] && return 0
  done
  return 1
}
finish() {
  kill -TERM -- -"$svc" 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do group_runs || break; sleep 0.5; done
  kill -KILL -- -"$svc" 2>/dev/null
  rm -f "$log" "$err"
  exit "$1"
}
cr=$(printf "\\r")
nl="
"
end=$((SECONDS + timeout))
why="timed out"
while :; do
  if ! kill -0 "$svc" 2>/dev/null; then why="the service exited before answering"; break; fi
  [ "$SECONDS" -lt "$end" ] || break
  if response=$(
    exec 2>"$err"
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    [ "$probe" = http ] || exit 0
    printf "GET %s HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n" "$path" >&3
    while IFS= read -r -t 5 -u 3 line || [ -n "$line" ]; do printf "%s\\n" "$line"; line=; done
  ); then
    [ "$probe" = http ] || finish 0
    first=\${response%%"$nl"*}
    first=\${first%"$cr"}
    if [ -n "$first" ]; then
      code=\${first#* }
      code=\${code%% *}
      body=\${response#*"$cr$nl$cr$nl"}
      [ "$body" != "$response" ] || body=\${response#*"$nl$nl"}
      [ "$body" != "$response" ] || body=
      detail="GET $path on port $port → $code"
      body_ok=1
      if [ "$has_contains" = 1 ]; then
        case "$body" in *"$contains"*) detail="$detail, body contains $shown" ;; *) body_ok=0; detail="$detail, body does not contain $shown" ;; esac
      fi
      [ "$code" = "$status" ] && [ "$body_ok" = 1 ] && finish 0
      printf "%s (expected %s)\\n%s\\n" "$detail" "$status" "$(printf "%s" "$body" | ${OUTPUT_TAIL})"
      finish 1
    fi
    why="not answering yet (no HTTP answer)"
  else
    e=$(tail -n 1 "$err")
    why="not answering yet (\${e##*: })"
  fi
  sleep 0.5
done
printf "%s after %ss; service output:\\n%s\\n" "$why" "$timeout" "$(${OUTPUT_TAIL} "$log")"
finish 1
`;

/** Sets $r from literal text (single-quoted) and shell expansions (double-quoted), in order. */
function why(...parts: Array<string | { sh: string }>): string {
    return `r=${parts.map((p) => (typeof p === "string" ? shq(p) : `"${p.sh}"`)).join("")}`;
}

const shown = (run: string[]) => `\`${run.join(" ")}\``;

/** Lines that leave the first problem in $r (empty when the test passed). */
function one(t: TestSpec): string[] {
    if (t.kind === "command") {
        const cmd = shown(t.run);
        const output = { sh: `$(cat "$tmp/out" "$tmp/err" | ${OUTPUT_TAIL})` };
        const lines = [
            `${argv(t.run)} </dev/null >"$tmp/out" 2>"$tmp/err"; code=$?`,
            `[ "$code" = ${t.exitCode} ] || ${why(`${cmd} exited `, { sh: "$code" }, ` (expected ${t.exitCode}):\n`, output)}`,
        ];
        if (t.stdoutContains !== undefined) {
            lines.push(
                // `; echo .` keeps trailing newlines, which $(…) would drop.
                `[ -n "$r" ] || { out=$(cat "$tmp/out"; echo .); case "\${out%.}" in *${shq(t.stdoutContains)}*) ;; *) ${why(`${cmd} output does not contain ${JSON.stringify(t.stdoutContains)}:\n`, output)} ;; esac; }`,
            );
        }
        return lines;
    }
    if (t.kind === "file") {
        // Inside the image, [ -f ], stat -L and cat follow symbolic links as the image resolves them.
        const p = shq(t.path);
        const lines = [`[ -f ${p} ] || ${why(`${t.path} is not a file in the image`)}`];
        if (t.mode !== undefined) {
            const expected = parseInt(t.mode, 8).toString(8).padStart(4, "0");
            lines.push(
                `[ -n "$r" ] || { mode=$(stat -L -c %a -- ${p} 2>&1) && mode=$(printf %04d "$mode"); [ "$mode" = ${expected} ] || ${why(`${t.path} has mode `, { sh: "$mode" }, `, expected ${t.mode}`)}; }`,
            );
        }
        if (t.contains !== undefined) {
            lines.push(
                `[ -n "$r" ] || { content=$(cat -- ${p}; echo .); case "\${content%.}" in *${shq(t.contains)}*) ;; *) ${why(`${t.path} does not contain ${JSON.stringify(t.contains)}`)} ;; esac; }`,
            );
        }
        return lines;
    }
    const h = t.http;
    const args = [
        String(t.timeoutSeconds),
        String((h ?? t.tcp!).port),
        h ? "http" : "tcp",
        h?.path ?? "/",
        String(h?.status ?? 200),
        h?.contains !== undefined ? "1" : "0",
        h?.contains ?? "",
        JSON.stringify(h?.contains ?? ""),
        "--",
        ...t.start,
    ];
    return [
        `if command -v bash >/dev/null; then`,
        `  r=$(bash -c "$service_test" service-test ${argv(args)}); code=$?`,
        // A failure it could not explain (mktemp, say) still fails.
        `  [ "$code" = 0 ] || [ -n "$r" ] || r="the service test stopped (exit $code)"`,
        "else",
        `  ${why("service tests need bash in the image (its /dev/tcp probes the port)")}`,
        "fi",
    ];
}

export function renderTestScript(tests: TestSpec[]): string {
    const body = tests.flatMap((t) => ["", "r=''", ...one(t), `result ${shq(t.name)}`]);
    return [
        "#!/bin/sh",
        "# Rendered by image-factory from the catalog's tests; runs inside the image under test",
        "# (the local gate and the in-cluster pipeline alike). One record per test:",
        '# "ok - <name>" or "not ok - <name>: <why>" (later lines indented); exits 1 if any fails.',
        "failed=0",
        "tmp=$(mktemp -d) || exit 2",
        "result() {",
        '  if [ -z "$r" ]; then printf \'ok - %s\\n\' "$1"; return; fi',
        "  printf 'not ok - %s: ' \"$1\"",
        "  printf '%s\\n' \"$(printf '%s' \"$r\")\" | sed '2,$s/^/  /'",
        "  failed=1",
        "}",
        ...(tests.some((t) => t.kind === "service") ? [`service_test=${shq(SERVICE_TEST)}`] : []),
        ...body,
        "",
        'rm -rf "$tmp"',
        "exit $failed",
        "",
    ].join("\n");
}

export interface ScriptResult {
    name: string;
    passed: boolean;
    /** Why it failed ("" when it passed). */
    detail: string;
}

/** The first index at or after `from` where `needle` starts a line of `text`, or -1. */
function atLineStart(text: string, needle: string, from: number): number {
    for (let i = text.indexOf(needle, from); i >= 0; i = text.indexOf(needle, i + 1)) {
        if (i === 0 || text[i - 1] === "\n") return i;
    }
    return -1;
}

/**
 * Reads back the records renderTestScript's program printed, one per test in
 * `tests`' order; a test without a record (the program stopped early) is undefined.
 */
export function parseTestOutput(tests: Pick<TestSpec, "name">[], stdout: string): Array<ScriptResult | undefined> {
    let at = 0;
    return tests.map(({ name }) => {
        const ok = atLineStart(`${stdout}\n`, `ok - ${name}\n`, at);
        const notOk = atLineStart(stdout, `not ok - ${name}: `, at);
        if (ok >= 0 && (notOk < 0 || ok < notOk)) {
            at = ok + `ok - ${name}\n`.length;
            return { name, passed: true, detail: "" };
        }
        if (notOk < 0) return undefined;
        // <why> runs to the end of its line, then on every following line indented by two spaces.
        const lines = stdout.slice(notOk + `not ok - ${name}: `.length).split("\n");
        let n = 1;
        while (n < lines.length && lines[n].startsWith("  ")) n++;
        const detail = [lines[0], ...lines.slice(1, n).map((l) => l.slice(2))];
        at = notOk + `not ok - ${name}: `.length + detail.join("\n").length + 2 * (n - 1);
        return { name, passed: false, detail: detail.join("\n").trimEnd() };
    });
}
