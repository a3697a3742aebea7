#!/bin/sh
# Rendered by image-factory from the catalog's tests; runs inside the image under test
# (the local gate and the in-cluster pipeline alike). One record per test:
# "ok - <name>" or "not ok - <name>: <why>" (later lines indented); exits 1 if any fails.
failed=0
tmp=$(mktemp -d) || exit 2
result() {
  if [ -z "$r" ]; then printf 'ok - %s\n' "$1"; return; fi
  printf 'not ok - %s: ' "$1"
  printf '%s\n' "$(printf '%s' "$r")" | sed '2,$s/^/  /'
  failed=1
}
service_test='
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
    set -- ${fields##*) }
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
cr=$(printf "\r")
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
    printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$path" >&3
    while IFS= read -r -t 5 -u 3 line || [ -n "$line" ]; do printf "%s\n" "$line"; line=; done
  ); then
    [ "$probe" = http ] || finish 0
    first=${response%%"$nl"*}
    first=${first%"$cr"}
    if [ -n "$first" ]; then
      code=${first#* }
      code=${code%% *}
      body=${response#*"$cr$nl$cr$nl"}
      [ "$body" != "$response" ] || body=${response#*"$nl$nl"}
      [ "$body" != "$response" ] || body=
      detail="GET $path on port $port → $code"
      body_ok=1
      if [ "$has_contains" = 1 ]; then
        case "$body" in *"$contains"*) detail="$detail, body contains $shown" ;; *) body_ok=0; detail="$detail, body does not contain $shown" ;; esac
      fi
      [ "$code" = "$status" ] && [ "$body_ok" = 1 ] && finish 0
      printf "%s (expected %s)\n%s\n" "$detail" "$status" "$(printf "%s" "$body" | tail -c 4000)"
      finish 1
    fi
    why="not answering yet (no HTTP answer)"
  else
    e=$(tail -n 1 "$err")
    why="not answering yet (${e##*: })"
  fi
  sleep 0.5
done
printf "%s after %ss; service output:\n%s\n" "$why" "$timeout" "$(tail -c 4000 "$log")"
finish 1
'

r=''
'mariadb' '--version' </dev/null >"$tmp/out" 2>"$tmp/err"; code=$?
[ "$code" = 0 ] || r='`mariadb --version` exited '"$code"' (expected 0):
'"$(cat "$tmp/out" "$tmp/err" | tail -c 4000)"
[ -n "$r" ] || { out=$(cat "$tmp/out"; echo .); case "${out%.}" in *'MariaDB'*) ;; *) r='`mariadb --version` output does not contain "MariaDB":
'"$(cat "$tmp/out" "$tmp/err" | tail -c 4000)" ;; esac; }
result 'mariadb client is installed'

r=''
if command -v bash >/dev/null; then
  r=$(bash -c "$service_test" service-test '90' '3306' 'tcp' '/' '200' '0' '' '""' '--' 'mysqld_safe' '--skip-syslog' '--bind-address=127.0.0.1'); code=$?
  [ "$code" = 0 ] || [ -n "$r" ] || r="the service test stopped (exit $code)"
else
  r='service tests need bash in the image (its /dev/tcp probes the port)'
fi
result 'accepts connections on 3306'

rm -rf "$tmp"
exit $failed
