#!/usr/bin/env bash
# The hand-rolled pipeline image-factory replaces: build, test and push the demo
# tree with buildah directly, every image, every run. bench/pipeline.ts times it
# side by side with `pulumi up`.
#   baseline.sh <context dir (one folder per image, with its Containerfile)> <registry host:port> <storage>
set -euo pipefail
CTX="$1"
REG="$2"
STORAGE="$3"
B=(buildah --root "$STORAGE/storage" --runroot "$STORAGE/run" --storage-driver vfs)
NS=script

build_push() { # <image> <version> [parent]
    local name="$1" version="$2" parent="${3:-}" args=()
    [ -n "$parent" ] && args=(--build-arg "PARENT_IMAGE=$REG/$NS/$parent:latest" --tls-verify=false)
    "${B[@]}" bud --quiet --isolation chroot --layers=false --pull=true "${args[@]}" -t "bench/$name" -f "$CTX/$name/Containerfile" "$CTX/$name" >/dev/null
    "${B[@]}" push --quiet --tls-verify=false "bench/$name" "docker://$REG/$NS/$name:$version"
    "${B[@]}" push --quiet --tls-verify=false "bench/$name" "docker://$REG/$NS/$name:latest"
    "${B[@]}" rmi -f "bench/$name" >/dev/null
}

container() { "${B[@]}" from --quiet --pull=true --tls-verify=false "$REG/$NS/$1:latest"; }

# service <container> <port> <expected text> <command...>: start it in a private netns, probe over HTTP or TCP.
service() {
    local ctr="$1" port="$2" text="$3" ns="bench-$$"
    shift 3
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" "${B[@]}" run --isolation chroot "$ctr" -- "$@" >/dev/null 2>&1 &
    local ok=1
    for _ in $(seq 120); do
        if [ -z "$text" ]; then
            ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && { ok=0; break; }
        else
            ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && cat <&3" 2>/dev/null | grep -q "$text" && { ok=0; break; }
        fi
        sleep 0.5
    done
    ip netns pids "$ns" | xargs -r kill -9
    ip netns del "$ns"
    return $ok
}

build_push base 1.0.0
c=$(container base)
"${B[@]}" run --isolation chroot "$c" -- cat /etc/os-release | grep -q bookworm
root=$("${B[@]}" mount "$c")
grep -q "Managed by image-factory" "$root/etc/motd"
"${B[@]}" run --isolation chroot "$c" -- id -nG admin | grep -q sudo
test -f "$root/home/admin/.ssh/authorized_keys"
"${B[@]}" rm "$c" >/dev/null

build_push database 1.0.0 base
c=$(container database)
"${B[@]}" run --isolation chroot "$c" -- mariadb --version | grep -q MariaDB
service "$c" 3306 "" mysqld_safe --skip-syslog --bind-address=127.0.0.1
"${B[@]}" rm "$c" >/dev/null

build_push httpd 1.0.0 base
c=$(container httpd)
"${B[@]}" run --isolation chroot "$c" -- apache2ctl -t >/dev/null 2>&1
service "$c" 80 "httpd service image" apache2ctl -D FOREGROUND
"${B[@]}" rm "$c" >/dev/null

build_push homepage 1.0.0 httpd
c=$(container homepage)
service "$c" 80 "Image Mode" apache2ctl -D FOREGROUND
"${B[@]}" rm "$c" >/dev/null
