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

r=''
'cat' '/etc/os-release' </dev/null >"$tmp/out" 2>"$tmp/err"; code=$?
[ "$code" = 0 ] || r='`cat /etc/os-release` exited '"$code"' (expected 0):
'"$(cat "$tmp/out" "$tmp/err" | tail -c 4000)"
[ -n "$r" ] || { out=$(cat "$tmp/out"; echo .); case "${out%.}" in *'bookworm'*) ;; *) r='`cat /etc/os-release` output does not contain "bookworm":
'"$(cat "$tmp/out" "$tmp/err" | tail -c 4000)" ;; esac; }
result 'os release is Debian bookworm'

r=''
[ -f '/etc/motd' ] || r='/etc/motd is not a file in the image'
[ -n "$r" ] || { mode=$(stat -L -c %a -- '/etc/motd' 2>&1) && mode=$(printf %04d "$mode"); [ "$mode" = 0644 ] || r='/etc/motd has mode '"$mode"', expected 0644'; }
[ -n "$r" ] || { content=$(cat -- '/etc/motd'; echo .); case "${content%.}" in *'Managed by image-factory'*) ;; *) r='/etc/motd does not contain "Managed by image-factory"' ;; esac; }
result 'motd is in place'

r=''
'id' '-nG' 'admin' </dev/null >"$tmp/out" 2>"$tmp/err"; code=$?
[ "$code" = 0 ] || r='`id -nG admin` exited '"$code"' (expected 0):
'"$(cat "$tmp/out" "$tmp/err" | tail -c 4000)"
[ -n "$r" ] || { out=$(cat "$tmp/out"; echo .); case "${out%.}" in *'sudo'*) ;; *) r='`id -nG admin` output does not contain "sudo":
'"$(cat "$tmp/out" "$tmp/err" | tail -c 4000)" ;; esac; }
result 'admin user can sudo'

r=''
[ -f '/home/admin/.ssh/authorized_keys' ] || r='/home/admin/.ssh/authorized_keys is not a file in the image'
[ -n "$r" ] || { mode=$(stat -L -c %a -- '/home/admin/.ssh/authorized_keys' 2>&1) && mode=$(printf %04d "$mode"); [ "$mode" = 0600 ] || r='/home/admin/.ssh/authorized_keys has mode '"$mode"', expected 0600'; }
[ -n "$r" ] || { content=$(cat -- '/home/admin/.ssh/authorized_keys'; echo .); case "${content%.}" in *'demo@image-factory'*) ;; *) r='/home/admin/.ssh/authorized_keys does not contain "demo@image-factory"' ;; esac; }
result 'admin'\''s SSH key is installed'

r=''
'sh' '-c' 'lsinitramfs /boot/initrd.img-* | grep -E '\''/(virtio_blk|ext4|squashfs|overlay)\.ko'\'' | sort' </dev/null >"$tmp/out" 2>"$tmp/err"; code=$?
[ "$code" = 0 ] || r='`sh -c lsinitramfs /boot/initrd.img-* | grep -E '\''/(virtio_blk|ext4|squashfs|overlay)\.ko'\'' | sort` exited '"$code"' (expected 0):
'"$(cat "$tmp/out" "$tmp/err" | tail -c 4000)"
[ -n "$r" ] || { out=$(cat "$tmp/out"; echo .); case "${out%.}" in *'squashfs.ko'*) ;; *) r='`sh -c lsinitramfs /boot/initrd.img-* | grep -E '\''/(virtio_blk|ext4|squashfs|overlay)\.ko'\'' | sort` output does not contain "squashfs.ko":
'"$(cat "$tmp/out" "$tmp/err" | tail -c 4000)" ;; esac; }
result 'the initramfs loads the virtio, ext4, squashfs and overlay modules'

rm -rf "$tmp"
exit $failed
