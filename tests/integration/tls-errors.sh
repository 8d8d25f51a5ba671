#!/usr/bin/env bash
# Connection and TLS failures of `etcd-backupd --once` against a real etcd:
# wrong CA, a client certificate from another CA, no client certificate, an
# unreachable endpoint (each 69), a missing or an encrypted key or a missing
# CA file (78: the node's own files, named at once, not per endpoint),
# failover from a dead first endpoint, and a host name whose DNS server has
# gone silent. Each failure exits non-zero with a clear cause and leaves the
# backup directory exactly as it was.
. "$(dirname "$0")/lib.sh"

start_etcd
ctl put /k v >/dev/null
OTHER=$ETCD_DIR/pki/other
hold_dead_port || exit 1; dead="https://127.0.0.1:$DEAD_PORT"

# A backup directory with one earlier backup in it, which must survive.
{ etcd_group; storage_group "$T/b"; } > "$T/good.conf"
"$ETCD_BACKUPD" --once -c "$T/good.conf" >/dev/null 2>&1
before=$(dir_state "$T/b")
check "setup: one earlier backup" test "$(ls "$T/b" | wc -l)" = 2

expect_failure() { # name rc-wanted pattern config-text
  local name=$1 want=$2 pattern=$3 err rc
  printf '%s\n' "$4" > "$T/$name.conf"
  err=$(timeout -k 5 60 "$ETCD_BACKUPD" --once -c "$T/$name.conf" 2>&1 >/dev/null); rc=$?
  LAST_ERR=$err
  check "$name: exit $want (got $rc)" test "$rc" = "$want"
  if grep -qE "$pattern" <<<"$err"; then ok "$name: error names the cause"; else not_ok "$name: error '$err' lacks /$pattern/"; fi
  check "$name: backup directory unchanged" test "$(dir_state "$T/b")" = "$before"
}

expect_failure wrong-ca 69 "certificate was not accepted with CA $OTHER/ca.crt" \
  "$(etcd_group "\"$ETCD_ENDPOINT\"" "$OTHER/ca.crt"; storage_group "$T/b")"
# etcd's alert says why; when a reset loses it, the message still names the certificate.
expect_failure foreign-client-cert 69 "refused the client certificate $OTHER/client.crt" \
  "$(etcd_group "\"$ETCD_ENDPOINT\"" "$ETCD_CACERT" "$OTHER/client.crt" "$OTHER/client.key"; storage_group "$T/b")"
expect_failure no-client-cert 69 "client certificate.* configured \\(etcd\\.cert, etcd\\.key\\)" \
  "$(etcd_group "\"$ETCD_ENDPOINT\"" "$ETCD_CACERT" "" ""; storage_group "$T/b")"
expect_failure unreachable 69 "no etcd endpoint answered: $dead: cannot connect" \
  "$(etcd_group "\"$dead\""; storage_group "$T/b")"
expect_failure missing-key-file 78 "^etcd-backupd: .*$ETCD_ENDPOINT: TLS: cannot use client certificate $ETCD_CERT / key $T/nonexistent.key: cannot read the key: .*No such file" \
  "$(etcd_group "\"$ETCD_ENDPOINT\", \"$ETCD_ENDPOINT\"" "$ETCD_CACERT" "$ETCD_CERT" "$T/nonexistent.key"; storage_group "$T/b")"
check "missing-key-file: said once, not as every endpoint's failure" \
  test "$(grep -o 'cannot use client certificate' <<<"$LAST_ERR" | wc -l)" -eq 1 -a -z "$(grep 'no etcd endpoint answered' <<<"$LAST_ERR")"
expect_failure missing-ca-file 78 "cannot read the CA: .*No such file" \
  "$(etcd_group "\"$ETCD_ENDPOINT\"" "$T/nonexistent-ca.crt"; storage_group "$T/b")"

# An encrypted key: OpenSSL would ask for its passphrase on the terminal or
# on stdin. Here stdin is a FIFO held open, so a prompt would wait (until
# the timeout); the backup must fail at once, saying why, and print no prompt.
openssl ec -in "$ETCD_KEY" -aes256 -passout pass:not-given -out "$T/encrypted.key" 2>/dev/null
chmod 600 "$T/encrypted.key"
check "setup: an encrypted key" grep -q "ENCRYPTED" "$T/encrypted.key"
mkfifo "$T/stdin"; exec 3<>"$T/stdin"
expect_failure encrypted-key 78 "cannot use client certificate $ETCD_CERT / key $T/encrypted.key: cannot read the key: it is encrypted" \
  "$(etcd_group "\"$ETCD_ENDPOINT\"" "$ETCD_CACERT" "$ETCD_CERT" "$T/encrypted.key"; storage_group "$T/b")" <"$T/stdin"
exec 3>&-
check "encrypted-key: no passphrase prompt" test -z "$(grep -i "pass phrase" <<<"$LAST_ERR")"

# Failover: the first endpoint is dead, the second answers.
{ etcd_group "\"$dead\", \"$ETCD_ENDPOINT\""; storage_group "$T/fo"; } > "$T/failover.conf"
out=$("$ETCD_BACKUPD" --once -c "$T/failover.conf" 2>/dev/null); rc=$?
check "failover: exit 0" test $rc -eq 0
check "failover: sidecar names the second endpoint" test "$(jq -r .endpoint "$out.json" 2>/dev/null)" = "$ETCD_ENDPOINT"

# A DNS server that has gone silent: the resolver alone would wait 30 s per
# try, twice (resolv.conf below); the lookup must end with the connect
# timeout (2 s), name the host, and leave room for the next endpoint. The
# name goes to that server only: resolv.conf and nsswitch.conf are replaced
# in a mount namespace of the backup's own.
port=${ETCD_ENDPOINT##*:}
dns=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).53
printf 'nameserver %s\noptions timeout:30 attempts:2\n' "$dns" > "$T/resolv.conf"
printf 'hosts: files dns\n' > "$T/nsswitch.conf"
coproc DNS { exec python3 "$TOP_SRCDIR/tests/helpers/silent-dns.py" "$dns" "$T/dns.log"; }
kill_at_exit "$DNS_PID"
read -r -t 20 ready <&"${DNS[0]}" || ready=
check "setup: a silent DNS server on $dns" test "$ready" = ready
silent_dns() { # the backup, resolving through the silent server
  timeout -k 5 50 unshare -m --propagation private sh -c \
    'mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"' \
    "$T/resolv.conf" "$T/nsswitch.conf" "$ETCD_BACKUPD" --once -c "$@"
}
{ etcd_group "\"https://etcd-silent-dns.test:$port\""; storage_group "$T/b"; } > "$T/silent-dns.conf"
err=$(silent_dns "$T/silent-dns.conf" 2>&1 >/dev/null); rc=$?
check "silent-dns: exit 69 before the resolver's own 60 s (got $rc)" test "$rc" = 69
pattern="etcd-silent-dns.test:$port: timed out: cannot resolve host etcd-silent-dns.test: the resolver did not answer within the connect timeout"
if grep -qF "$pattern" <<<"$err"; then ok "silent-dns: error names the host and the cause"; else not_ok "silent-dns: error '$err' lacks '$pattern'"; fi
check "silent-dns: the name was asked of the silent server" grep -q '^etcd-silent-dns\.test$' "$T/dns.log"
check "silent-dns: backup directory unchanged" test "$(dir_state "$T/b")" = "$before"
{ etcd_group "\"https://etcd-silent-dns.test:$port\", \"$ETCD_ENDPOINT\""; storage_group "$T/dns-fo"; } > "$T/silent-dns-fo.conf"
out=$(silent_dns "$T/silent-dns-fo.conf" 2>"$T/silent-dns-fo.err"); rc=$?
check "silent-dns failover: exit 0 (got $rc)" test "$rc" = 0
check "silent-dns failover: sidecar names the second endpoint" \
  test "$(jq -r .endpoint "$out.json" 2>/dev/null)" = "$ETCD_ENDPOINT"

finish
