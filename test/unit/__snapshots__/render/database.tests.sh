#!/bin/sh
# Rendered by image-factory from the catalog's tests; exits non-zero if any fails.
failed=0
result() { if [ -z "$r" ]; then echo "ok - $1"; else echo "not ok - $1: $r"; failed=1; fi; }

r=''
out=$('mariadb' '--version' 2>&1); code=$?
[ "$code" = 0 ] || r="exit $code, expected 0: $out"
[ -n "$r" ] || case "$out" in *'MariaDB'*) ;; *) r="output lacks "'MariaDB' ;; esac
result 'mariadb client is installed'

r=''
'mysqld_safe' '--skip-syslog' '--bind-address=127.0.0.1' >/tmp/image-factory-service.log 2>&1 & svc=$!
ok=0; i=0; while [ $i -lt 180 ]; do if bash -c 'exec 3<>/dev/tcp/127.0.0.1/3306' 2>/dev/null; then ok=1; break; fi; i=$((i + 1)); sleep 0.5; done
kill $svc 2>/dev/null || true
[ $ok = 1 ] || r="no answer in 90s: $(tail -n 20 /tmp/image-factory-service.log)"
result 'accepts connections on 3306'

exit $failed
