#!/bin/sh
# Rendered by image-factory from the catalog's tests; exits non-zero if any fails.
failed=0
result() { if [ -z "$r" ]; then echo "ok - $1"; else echo "not ok - $1: $r"; failed=1; fi; }

r=''
out=$('cat' '/etc/os-release' 2>&1); code=$?
[ "$code" = 0 ] || r="exit $code, expected 0: $out"
[ -n "$r" ] || case "$out" in *'bookworm'*) ;; *) r="output lacks "'bookworm' ;; esac
result 'os release is Debian bookworm'

r=''
[ -f '/etc/motd' ] || r="not a file"
[ -n "$r" ] || [ "$(stat -c %a '/etc/motd')" = '644' ] || r="mode $(stat -c %a '/etc/motd')"
[ -n "$r" ] || grep -qF -- 'Managed by image-factory' '/etc/motd' || r="lacks "'Managed by image-factory'
result 'motd is in place'

r=''
out=$('id' '-nG' 'admin' 2>&1); code=$?
[ "$code" = 0 ] || r="exit $code, expected 0: $out"
[ -n "$r" ] || case "$out" in *'sudo'*) ;; *) r="output lacks "'sudo' ;; esac
result 'admin user can sudo'

r=''
[ -f '/home/admin/.ssh/authorized_keys' ] || r="not a file"
[ -n "$r" ] || [ "$(stat -c %a '/home/admin/.ssh/authorized_keys')" = '600' ] || r="mode $(stat -c %a '/home/admin/.ssh/authorized_keys')"
[ -n "$r" ] || grep -qF -- 'demo@image-factory' '/home/admin/.ssh/authorized_keys' || r="lacks "'demo@image-factory'
result 'admin'\''s SSH key is installed'

r=''
out=$('sh' '-c' 'lsinitramfs /boot/initrd.img-* | grep -E '\''/(virtio_blk|ext4|squashfs|overlay)\.ko'\'' | sort' 2>&1); code=$?
[ "$code" = 0 ] || r="exit $code, expected 0: $out"
[ -n "$r" ] || case "$out" in *'squashfs.ko'*) ;; *) r="output lacks "'squashfs.ko' ;; esac
result 'the initramfs loads the virtio, ext4, squashfs and overlay modules'

exit $failed
