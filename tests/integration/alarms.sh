#!/usr/bin/env bash
# etcd with its NOSPACE alarm raised (its db reached --quota-backend-bytes):
# etcd refuses writes but still serves Status and snapshots, so the backup
# is taken, at once, with a warning that names the alarm. etcd lists the
# alarm among Status's errors, which used to read as "no leader". Then the
# CORRUPT alarm (raised through etcd's Alarm RPC, beside NOSPACE): the
# member is not backed up from, and the error names CORRUPT at once.
. "$(dirname "$0")/lib.sh"

start_etcd --quota $((4 * 1024 * 1024))
head -c 600000 /dev/urandom | base64 -w0 > "$T/v"
for i in $(seq 1 30); do
  ctl put "/registry/secrets/default/s-$i" < "$T/v" >/dev/null 2>"$T/put.err" || break
done
check "setup: etcd refuses a write (database space exceeded)" grep -q "database space exceeded" "$T/put.err"
check "setup: etcd lists the NOSPACE alarm" etcd_has_alarm NOSPACE
status=$(ctl endpoint status -w json)
check "setup: Status reports the alarm among its errors, with a leader" \
  jq_true '.[0].Status.errors == [.[0].Status.errors[] | select(test("alarm:NOSPACE"))] and .[0].Status.leader != 0' "$status"
rev=$(etcd_revision)

{ etcd_group; storage_group "$T/b" zstd 3; } > "$T/c.conf"
out=$("$ETCD_BACKUPD" --once -c "$T/c.conf" 2>"$T/once.err"); rc=$?
check "--once exits 0" test $rc -eq 0
check "it warns, naming the alarm and the endpoint" \
  grep -q "etcd's NOSPACE alarm is raised at $ETCD_ENDPOINT: its db reached --quota-backend-bytes" "$T/once.err"
no_leader_in() { ! grep -q "leader" "$1"; }
check "it says nothing of a leader (it did not wait for one)" no_leader_in "$T/once.err"
zstd -q -dc "$out" > "$T/db" 2>/dev/null
check "etcdctl snapshot status: the backup is etcd's db at its revision" \
  jq_true ".revision == $rev" "$(etcdctl snapshot status "$T/db" -w json 2>/dev/null)"
check "the sidecar has that revision" jq_true ".revision == $rev" "$(cat "$out.json" 2>/dev/null)"

before=$(dir_state "$T/b")
check "setup: CORRUPT raised through etcd's Alarm RPC" etcd_alarm CORRUPT
check "setup: NOSPACE raised beside it" etcd_alarm NOSPACE
"$ETCD_BACKUPD" --once -c "$T/c.conf" >/dev/null 2>"$T/corrupt.err"; rc=$?
check "CORRUPT: --once fails" test $rc -ne 0
check "CORRUPT: the error names the endpoint and the CORRUPT alarm, not NOSPACE" \
  grep -qE "^etcd-backupd: .*no etcd endpoint answered: $ETCD_ENDPOINT: etcd reports: memberID:[0-9]+ alarm:CORRUPT *$" \
  "$T/corrupt.err"
check "CORRUPT: it says nothing of a leader (it did not wait for one)" no_leader_in "$T/corrupt.err"
check "CORRUPT: the backup directory is as it was" test "$(dir_state "$T/b")" = "$before"
cat "$T/once.err" "$T/corrupt.err"
finish
