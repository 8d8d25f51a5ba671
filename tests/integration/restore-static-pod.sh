#!/usr/bin/env bash
# Restore in static-pod mode, end to end, on a kubeadm-shaped node run by a
# kubelet stand-in (see restore-lib.sh: kubeadm's YAML manifests, the real
# etcd run with the flags of etcd.yaml's command: list in a mount namespace
# where its hostPath volumes sit at their in-pod paths, a kube-apiserver
# stand-in serving /readyz over TLS). The restore's configuration names no
# data dir, member name or peer URLs: they come from etcd.yaml. A real TLS
# etcd 3.4 is backed up with `etcd-backupd --once`; more keys are written;
# `etcd-backupctl restore latest --yes` through a socket-activated
# `etcd-backupd --serve-restore` (systemd-socket-activate --accept --inetd)
# must bring back exactly the backed-up keys, prove that the etcd answering
# runs on the restored db at the backup's revision, wait for kube-apiserver's
# /readyz (verified with its --client-ca-file, at its --bind-address
# 127.0.0.2), restart kube-controller-manager and kube-scheduler, and keep
# the old data dir. A dry run must change nothing. Then a restore that
# cannot come up (initial_cluster names a second member that does not
# exist, so the restored etcd never gets a leader) must roll back: the data
# as it was, the pods running, the failed restore kept for inspection.
# Last, a backup whose newest writes were deletes that a compaction then
# dropped: etcd restored from it answers at the compaction revision, above
# the backup's, and the restore must expect that, not roll back.
. "$(dirname "$0")/restore-lib.sh"
C=$ETCD_BACKUPCTL

ABIND=127.0.0.2
start_node
restore_conf "$T/r.conf"
# The main service reports, at the rename of the restored data dir into
# place, what in it the service had not fsynced (tests/helpers/check-synced.c).
: "${CHECK_SYNCED:?}"
restore_socket_preloaded main "$T/r.conf" "$CHECK_SYNCED" CHECK_SYNCED_REPORT="$T/synced.report"; SOCK=$RSOCK

# ---- a backup, then later writes ---------------------------------------------
for i in $(seq 1 20); do ctl put "/before/k$i" "v$i" >/dev/null; done
ctl put /before/k3 "overwritten" >/dev/null
out=$("$ETCD_BACKUPD" --once -c "$T/r.conf" 2>"$T/once.err"); rc=$?
check "--once made a backup" test $rc -eq 0 -a -f "$out" -a -f "$out.json"
backup_rev=$(jq -r .revision "$out.json")
for i in $(seq 1 10); do ctl put "/after/k$i" "late $i" >/dev/null; done
check "later writes are there before the restore" test "$(ctl get /after/ --prefix --keys-only | grep -c .)" = 10

# etcd's data owned by someone else (kubeadm's is root's, others run etcd as
# "etcd"): the restored dir must get that owner throughout.
chown -R 65534:65534 "$DATA"
mode_before=$(stat -c %a "$DATA")   # the kubelet made it (DirectoryOrCreate: 0755)

# ---- dry run: prints the plan, changes nothing ---------------------------------
etcd_settled
before=$(tree_state "$DATA"); man_before=$(tree_state "$MAN"); pid_before=$(etcd_pid)
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "dry run: exit 0" test $rc -eq 0
check "dry run: prints the plan with backup, revision, data dir and mode" \
  grep -q "Revision: *$backup_rev" <<<"$out"
check "dry run: mode is static-pod (etcd.yaml found)" grep -q "Mode: *static-pod" <<<"$out"
check "dry run: lists each step" grep -q "snapshot restore" <<<"$out"
check "dry run: says nothing was changed" grep -q "nothing was changed" <<<"$out"
json=$("$C" --json restore latest --dry-run --socket "$SOCK" 2>/dev/null)
check "dry run --json: the plan object" jqt ".revision == $backup_rev and .mode == \"static-pod\" and (.steps | length) >= 8" \
  <<<"$json"
after=$(tree_state "$DATA")
check "dry run: data dir unchanged" test "$before" = "$after"
[[ $before == "$after" ]] || diff <(echo "$before") <(echo "$after")
check "dry run: manifests unchanged" test "$man_before" = "$(tree_state "$MAN")"
check "dry run: etcd not restarted" test "$pid_before" = "$(etcd_pid)"
check "dry run: no restore, pre-restore or held dirs" \
  test -z "$(ls -d "$DATA".* "$NODE"/etc/kubernetes/etcd-backupd-held-* 2>/dev/null)"
check "dry run: no temporary file left in the data dir's parent" test -z "$(ls -A "$NODE/var/lib" | grep -v '^etcd$')"

# ---- the restore -------------------------------------------------------------
cm_before=$(pod_pid kube-controller-manager) sch_before=$(pod_pid kube-scheduler)
t0=$(date +%s.%N)
out=$("$C" restore latest --yes --socket "$SOCK" 2>&1); rc=$?
t1=$(date +%s.%N)
echo "$out" | sed 's/^/    /'
check "restore: exit 0" test $rc -eq 0
[[ $rc == 0 ]] || tail -20 "$T/restore-main.log" | sed 's/^/# /'
check "restore: every step reported done" \
  test "$(grep -cE '^ +ok  (stop kube-apiserver|stop etcd|snapshot restore|swap data dir|start etcd|wait for etcd|start kube-apiserver|restart controllers):' <<<"$out")" = 8
check "restore: proved: etcd at the backup's revision, its process holds the restored db open" \
  grep -qE "ok  wait for etcd: etcd is healthy at revision $backup_rev, the backup's, and runs on the restored data \(pid [0-9]+, listening on port $CPORT, holds $DATA/member/snap/db inode [0-9]+ open\)" <<<"$out"
check "restore: kube-apiserver back = /readyz 200 at its --bind-address, verified with its --client-ca-file" \
  grep -qE "ok  start kube-apiserver: .*https://127\.0\.0\.2:$APORT/readyz answers 200, verified with $K8S_PKI/ca.crt" <<<"$out"
check "restore: kube-controller-manager and kube-scheduler restarted (new pids)" \
  test "$(pod_pid kube-controller-manager)" != "$cm_before" -a "$(pod_pid kube-scheduler)" != "$sch_before" -a \
    -n "$(pod_pid kube-controller-manager)" -a -n "$(pod_pid kube-scheduler)"
# Both at once: in the kubelet's log the last stops and starts of the two
# controllers are both stops, then both starts (one after the other, each
# would be started again before the other is stopped).
controllers_order() {
  grep -E '^[0-9:]+ (stopped|started) kube-(controller-manager|scheduler) ' "$T/kubelet.log" | tail -4 |
    awk '{ printf "%s ", $2 }'
}
check "restore: kube-controller-manager and kube-scheduler restarted together (both stopped, then both started)" \
  test "$(controllers_order)" = "stopped stopped started started "
check "restore: the plan says where each setting was read" \
  grep -qE "data_dir +$DATA  \($MAN/etcd.yaml:[0-9]+: --data-dir=/var/lib/etcd, hostPath volume etcd-data\)" <<<"$out"
check "restore: etcd healthy afterwards" wait_for 20 etcd_healthy
check "restore: kube-apiserver stand-in back" wait_for 20 apiserver_up
check "restore: kube-apiserver waited for at its --bind-address (127.0.0.2 port $APORT)" \
  grep -qE "ok  stop kube-apiserver: .*127\.0\.0\.2 port $APORT closed" <<<"$out"
check "restore: the later writes are gone" test -z "$(ctl get /after/ --prefix --keys-only)"
check "restore: the backed-up keys are back" test "$(ctl get /before/k3 --print-value-only)" = overwritten
check "restore: 20 keys under /before/" test "$(ctl get /before/ --prefix --keys-only | grep -c .)" = 20
rev=$(etcd_revision)
check "restore: etcd's revision ($rev) >= the backup's ($backup_rev)" test "$rev" -ge "$backup_rev"
pre=$(ls -d "$DATA".pre-restore-* 2>/dev/null)
check "restore: the old data dir is kept as .pre-restore-*" test -n "$pre" -a -d "$pre/member"
check "restore: the old data dir still has the later writes (etcd's own db)" grep -qa "/after/k1" "$pre/member/snap/db"
check "restore: both manifests back in place" test -f "$MAN/etcd.yaml" -a -f "$MAN/kube-apiserver.yaml"
check "restore: no holding dir left" test -z "$(ls -d "$NODE"/etc/kubernetes/etcd-backupd-held-* 2>/dev/null)"
check "restore: its record of an unfinished restore is gone" test -z "$(ls -d "$DATA".unfinished-restore-* 2>/dev/null)"
check "restore: the data dir mode is kept ($mode_before)" test "$(stat -c %a "$DATA")" = "$mode_before"
# (etcd itself, running as root here, adds files of its own after the start.)
check "restore: the old owner (65534) copied onto what the restore made" \
  test "$(stat -c %u:%g "$DATA" "$DATA/member" "$DATA/member/snap/db" "$DATA"/member/wal/0000000000000000-0000000000000000.wal | sort -u)" = 65534:65534
check "restore: journal/log has the started and finished events" \
  grep -q "Restored etcd from" "$T/restore-main.log"
# A crash after the swap's synced rename must find the restored tree whole:
# every file and directory in it synced before it was renamed into place.
sed 's/^/# /' "$T/synced.report"
check "restore: the restored data dir's files and directories all fsynced before its rename (db, WAL, 4 dirs at least)" \
  grep -qE "^$(basename "$DATA")\.restore-[0-9TZ]+: ([6-9]|[1-9][0-9]+) entries, 0 not synced$" "$T/synced.report"
echo "# restore of a $(jq -r .db_size "$(ls "$BACKUPS"/*.json | head -1)") byte db: $(awk "BEGIN { print $t1 - $t0 }") s (dry run + restore)"

# ---- a restore that cannot come up rolls back ------------------------------------
ctl put /keep/k1 "written after the first restore" >/dev/null
GPORT=$(free_port "${PORTS_TAKEN[@]}") || exit 1; PORTS_TAKEN+=("$GPORT")
# A second, nonexistent member: no leader, ever.
restore_conf "$T/bad.conf" "initial_cluster = \"$NAME=https://127.0.0.1:$PPORT,ghost=https://127.0.0.1:$GPORT\";"
sed -i 's|health_timeout = "60s"|health_timeout = "20s"|' "$T/bad.conf"
check "bad config: names a ghost member" grep -q ghost "$T/bad.conf"
restore_socket bad "$T/bad.conf"; BAD=$RSOCK
keep_before=$(ctl get / --prefix -w json | jq -c '[.kvs[] | {key, value}]')
# Names of the next 15 seconds already taken (as by a restore a moment ago): the restore
# must pick free names (<ts>-2) and leave these alone.
now=$(date +%s); decoys=()
for s in $(seq 0 14); do
  d="$DATA.pre-restore-$(date -u -d "@$((now + s))" +%Y%m%dT%H%M%SZ)"
  mkdir "$d" && echo decoy >"$d/marker" && decoys+=("$d")
done
out=$("$C" restore latest --yes --socket "$BAD" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "failed restore: exit 1" test $rc -eq 1
check "failed restore: says why (etcd not healthy within health_timeout)" grep -q "wait for etcd: etcd is not healthy after 20 s" <<<"$out"
check "failed restore: says where to look, and the kubelet's back-off" \
  grep -qF "(\`crictl ps -a --name etcd\` shows etcd's container, \`crictl logs <CONTAINER-ID>\` what it said; one that keeps failing is started again by the kubelet after a back-off of up to 5 minutes)" <<<"$out"
check "failed restore: rolled back" grep -q "rolled back" <<<"$out"
wait_for 30 etcd_healthy
check "failed restore: etcd healthy again" wait_for 20 etcd_healthy
# The rollback proves it as the restore does: the etcd on the port holds the old db.
check "failed restore: etcd back, proven on the old data (the pid of the etcd pod holds its db's inode open)" \
  grep -qE "etcd is healthy on the old data at revision [0-9]+ \(pid $(etcd_pid | cut -d: -f1) holds $DATA/member/snap/db inode $(stat -c %i "$DATA/member/snap/db") open\)" <<<"$out"
check "failed restore: kube-apiserver stand-in back" wait_for 10 apiserver_up
check "failed restore: the data is as it was (key written after the first restore is there)" \
  test "$(ctl get /keep/k1 --print-value-only)" = "written after the first restore"
check "failed restore: every key as it was" \
  test "$keep_before" = "$(ctl get / --prefix -w json | jq -c '[.kvs[] | {key, value}]')"
check "failed restore: the failed restore kept as .failed-restore-*" test -d "$(ls -d "$DATA".failed-restore-* | head -1)/member"
check "failed restore: both manifests back" test -f "$MAN/etcd.yaml" -a -f "$MAN/kube-apiserver.yaml"
check "failed restore: the first restore's .pre-restore-* still there" test -d "$pre"
check "failed restore: names taken this second were not reused (.failed-restore-<ts>-2)" \
  test -d "$(ls -d "$DATA".failed-restore-*Z-2 | head -1)/member"
check "failed restore: the 15 directories with those names untouched" \
  test "$(cat "${decoys[@]/%//marker}" | grep -c '^decoy$')" = 15 -a "$(ls "${decoys[@]}" | grep -c marker)" = 15
check "failed restore: logged as failed" grep -q "failed" "$T/restore-bad.log"
check "failed restore: rolled back completely, its record of an unfinished restore is gone" \
  test -z "$(ls -d "$DATA".unfinished-restore-* 2>/dev/null)"


# ---- a controller that does not go away: the restore rolls back -----------------
# kube-scheduler's manifest names a --secure-port that something else (a
# listener of this test) keeps answering on, and the pod itself binds
# nothing: moved out, the port never closes. The restart step fails within
# health_timeout, both manifests go back, and the restore rolls back.
STUCK=$(free_port "${PORTS_TAKEN[@]}") || exit 1; PORTS_TAKEN+=("$STUCK")
python3 "$TOP_SRCDIR/tests/helpers/tcp-listener.py" 127.0.0.1 "$STUCK" 600 &
STUCKPID=$! STUCKID=$(proc_id $!)
kill_at_exit "$STUCKPID"
wait_for 10 python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$STUCK"
cp "$MAN/kube-scheduler.yaml" "$T/kube-scheduler.yaml.orig"
# scheduler_binding_nothing PORT: kube-scheduler's pod runs, names
# --secure-port=PORT, and binds nothing.
scheduler_binding_nothing() {
  python3 - "$MAN/kube-scheduler.yaml" "$1" <<'PY'
import sys, yaml
path, port = sys.argv[1], sys.argv[2]
doc = yaml.safe_load(open(path))
c = doc["spec"]["containers"][0]
c["command"] = ["python3", "-c", "import time; time.sleep(600)"]
c["args"] = ["--bind-address=127.0.0.1", "--secure-port=" + port]
yaml.safe_dump(doc, open(path + ".new", "w"))
PY
  mv "$MAN/kube-scheduler.yaml.new" "$MAN/kube-scheduler.yaml"
}
# scheduler_as_it_was DESCRIPTION: kube-scheduler's manifest back as it
# was, and a new pod of it running (the pid file is the old pod's until
# the stand-in has stopped it).
scheduler_as_it_was() {
  local old; old=$(pod_pid kube-scheduler)
  cp "$T/kube-scheduler.yaml.orig" "$MAN/kube-scheduler.yaml"
  check "$1" wait_for 10 eval 'p=$(pod_pid kube-scheduler); test -n "$p" -a "$p" != "$old"'
}
scheduler_binding_nothing "$STUCK"
restore_conf "$T/stuck.conf"
sed -i 's|health_timeout = "60s"|health_timeout = "20s"|' "$T/stuck.conf"
restore_socket stuck "$T/stuck.conf"; STUCKSOCK=$RSOCK
keep_before=$(ctl get / --prefix -w json | jq -c '[.kvs[] | {key, value}]')
cm_before=$(pod_pid kube-controller-manager)
out=$("$C" restore latest --yes --socket "$STUCKSOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "stuck controller: exit 1" test $rc -eq 1
check "stuck controller: the error names the manifest and its port" \
  grep -q "restart controllers: kube-scheduler.yaml: 127.0.0.1 port $STUCK still answers after 20 s" <<<"$out"
check "stuck controller: rolled back" grep -q "rolled back" <<<"$out"
check "stuck controller: both controllers' manifests back in the manifests dir" \
  test -f "$MAN/kube-controller-manager.yaml" -a -f "$MAN/kube-scheduler.yaml"
check "stuck controller: no holding dir left" test -z "$(ls -d "$NODE"/etc/kubernetes/etcd-backupd-held-* 2>/dev/null)"
check "stuck controller: kube-controller-manager running again (restarted, not left out)" \
  wait_for 10 eval 'test -n "$(pod_pid kube-controller-manager)" -a "$(pod_pid kube-controller-manager)" != "$cm_before"'
wait_for 30 etcd_healthy
check "stuck controller: etcd healthy, every key as it was" \
  test "$keep_before" = "$(ctl get / --prefix -w json | jq -c '[.kvs[] | {key, value}]')"
check "stuck controller: kube-apiserver stand-in back" wait_for 10 apiserver_up
signal_proc -TERM "$STUCKID"
scheduler_as_it_was "kube-scheduler back as it was"

# ---- another user's process takes kube-apiserver's port when it leaves ----------
# A process of the user nobody binds kube-apiserver's port as soon as it is
# free (any local user may: it is above 1024) and holds it. The restore
# names that process at once instead of waiting health_timeout for the port
# to close, and rolls back; once that process has ended, kube-apiserver is
# back. (The squatter gives up after five minutes.)
setpriv --reuid=nobody --regid=nogroup --clear-groups \
  /usr/bin/python3 "$TOP_SRCDIR/tests/helpers/tcp-listener.py" 0.0.0.0 "$APORT" 300 &
SQPID=$! SQID=$(proc_id $!)
kill_at_exit "$SQPID"
restore_conf "$T/squat.conf"
restore_socket squat "$T/squat.conf"
"$C" restore latest --yes --socket "$RSOCK" > "$T/squat.out" 2>&1 &
SQCLIENT=$!
check "port taken: the restore names the process at once" \
  wait_for 150 grep -qF "port $APORT is held by another process than before the restore: pid $SQPID (python3, uid $(id -u nobody))" "$T/squat.out"
signal_proc -TERM "$SQID"
wait "$SQCLIENT"; rc=$?
sed 's/^/    /' "$T/squat.out"
check "port taken: exit 1, rolled back" test $rc -eq 1 -a -n "$(grep "rolled back" "$T/squat.out")"
check "port taken: kube-apiserver's manifest back, no holding dir left" \
  test -f "$MAN/kube-apiserver.yaml" -a -z "$(ls -d "$NODE"/etc/kubernetes/etcd-backupd-held-* 2>/dev/null)"
check "port taken: the process gone, kube-apiserver stand-in back" wait_for 30 apiserver_up
wait_for 30 etcd_healthy

# ---- kube-apiserver not ready on the restored data: the rollback stops it first --
# restore.apiserver_cacert names a CA that did not sign kube-apiserver's
# certificate (etcd's), so /readyz never verifies and the restore rolls back
# after kube-apiserver ran on the restored data. It must be stopped before
# etcd's data goes back under it, and started again after: in the kubelet's
# log, kube-apiserver and etcd go down and up in the runbook's order twice.
restore_conf "$T/ca.conf" "apiserver_cacert = \"$PKI/ca.crt\";"
sed -i 's|health_timeout = "60s"|health_timeout = "20s"|' "$T/ca.conf"
restore_socket ca "$T/ca.conf"; CASOCK=$RSOCK
keep_before=$(ctl get / --prefix -w json | jq -c '[.kvs[] | {key, value}]')
lines=$(wc -l < "$T/kubelet.log")
out=$("$C" restore latest --yes --socket "$CASOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
apiserver_etcd_order() {
  tail -n +$((lines + 1)) "$T/kubelet.log" | grep -E '^[0-9:]+ (stopped|started) (kube-apiserver|etcd) ' |
    awk '{ printf "%s-%s ", $2, $3 }'
}
check "readyz never verified: exit 3 (the rollback incomplete), naming /readyz" \
  test $rc -eq 3 -a -n "$(grep -F "start kube-apiserver: kube-apiserver: https://127.0.0.2:$APORT/readyz is not ready after 20 s" <<<"$out")"
check "readyz never verified: kube-apiserver stopped before etcd left the restored data, started after it was back" \
  test "$(apiserver_etcd_order)" = "stopped-kube-apiserver stopped-etcd started-etcd started-kube-apiserver stopped-kube-apiserver stopped-etcd started-etcd started-kube-apiserver "
check "readyz never verified: the rollback does not claim what it could not check" \
  grep -q "THE ROLLBACK IS INCOMPLETE: cannot start kube-apiserver again: kube-apiserver: https://127.0.0.2:$APORT/readyz is not ready" <<<"$out"
wait_for 30 etcd_healthy
check "readyz never verified: etcd healthy, every key as it was" \
  test "$keep_before" = "$(ctl get / --prefix -w json | jq -c '[.kvs[] | {key, value}]')"
check "readyz never verified: kube-apiserver back (verified with the right CA)" wait_for 10 apiserver_up
check "readyz never verified: both manifests back, no holding dir" \
  test -f "$MAN/etcd.yaml" -a -f "$MAN/kube-apiserver.yaml" -a -z "$(ls -d "$NODE"/etc/kubernetes/etcd-backupd-held-* 2>/dev/null)"
# The rollback was incomplete: the record stays, and the next restore is
# refused until the operator has looked and removed it.
record=$(ls -d "$DATA".unfinished-restore-* 2>/dev/null)
check "readyz never verified: the record of the unfinished restore stays" test -n "$record" -a -f "$record"
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "readyz never verified: the next restore is refused (exit $rc), naming the record" \
  test $rc -eq 1 -a -n "$(grep -F "an earlier restore did not finish ($record: started at " <<<"$out")"
rm -f "$record"

# ---- the restored data cannot be set aside: etcd is started on it again ----------
# The same restore (readyz never verifies), but once the restored data dir is
# in place another process (a `sleep` standing in for a backup agent or an
# operator's `tail -f`) opens its db and keeps it open. The rollback stops
# etcd and waits health_timeout for the data dir to be free; it never is, so
# the restored data stays where it is. etcd must be started on it again (it
# ran there before the rollback; kube-apiserver comes back next and needs
# it), and the error must name the process that holds the dir.
# after_swap 'COMMAND': in the background, once the restore has put its data
# dir in place (etcd's db is another file), the subshell becomes COMMAND
# (evaluated then). It waits at most 60 s; $! is its PID.
after_swap() {
  local inode; inode=$(stat -c %i "$DATA/member/snap/db")
  ( for _ in $(seq 1200); do
      i=$(stat -c %i "$DATA/member/snap/db" 2>/dev/null)
      if [ -n "$i" ] && [ "$i" != "$inode" ]; then eval "exec $1"; fi
      sleep 0.05
    done ) &
}
ctl put /held/later "written after the backup" >/dev/null
after_swap 'sleep 300 3<"$DATA/member/snap/db"'
HOLDPID=$! HOLDID=$(proc_id $!)
kill_at_exit "$HOLDPID"
out=$("$C" restore latest --yes --socket "$CASOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "held data dir: the holder opened the restored db" test "$(readlink /proc/$HOLDPID/fd/3)" = "$DATA/member/snap/db"
check "held data dir: exit 3 (the rollback incomplete)" test $rc -eq 3
check "held data dir: the error names the process and what it holds" \
  grep -qF "cannot stop etcd on the restored data (process $HOLDPID (sleep) still has files open in $DATA); $DATA was left in place" <<<"$out"
check "held data dir: etcd started again on the restored data, proven (its pid holds the db the holder holds)" \
  grep -qE "etcd is healthy on the restored data at revision [0-9]+ \(pid $(etcd_pid | cut -d: -f1) holds $DATA/member/snap/db inode $(stat -L -c %i "/proc/$HOLDPID/fd/3") open\)" <<<"$out"
wait_for 30 etcd_healthy
check "held data dir: etcd answers, on the backup's data (the later write is gone)" \
  test -z "$(ctl get /held/later --keys-only)" -a "$(ctl get /before/k3 --print-value-only)" = overwritten
check "held data dir: both manifests back, no holding dir" \
  test -f "$MAN/etcd.yaml" -a -f "$MAN/kube-apiserver.yaml" -a -z "$(ls -d "$NODE"/etc/kubernetes/etcd-backupd-held-* 2>/dev/null)"
check "held data dir: kube-apiserver back" wait_for 10 apiserver_up
signal_proc -TERM "$HOLDID"; wait "$HOLDPID" 2>/dev/null
record=$(ls -d "$DATA".unfinished-restore-* 2>/dev/null)
check "held data dir: the record of the unfinished restore stays" test -n "$record" -a -f "$record"
rm -f "$record"

# ---- the old data dir gone from its place: etcd is not started on nothing --------
# The same failing restore, but once the restored data is in place the old
# data dir is moved away from <data_dir>.pre-restore-<ts> (as by a careless
# hand). The rollback sets the restored data aside and cannot put the old
# back: there is then no data dir, and etcd must not be started (it would
# make an empty one, a cluster of its own); its manifest stays held, named.
ctl put /gone/marker "in the data before this restore" >/dev/null
pre_before=$(ls -d "$DATA".pre-restore-* | sort)
# Moved as soon as the restore has renamed the old data aside (its own event, not the exchange before it).
( for _ in $(seq 1 1200); do
    new=$(comm -13 <(echo "$pre_before") <(ls -d "$DATA".pre-restore-* 2>/dev/null | sort))
    [[ -n $new ]] && exec mv "$new" "$T/old-data-moved-away"
    sleep 0.05
  done; exit 1 ) &
MOVERPID=$!
kill_at_exit "$MOVERPID"
out=$("$C" restore latest --yes --socket "$CASOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
wait "$MOVERPID"
check "old data gone: it was moved away during the restore" test -d "$T/old-data-moved-away/member"
check "old data gone: exit 3 (the rollback incomplete)" test $rc -eq 3
check "old data gone: etcd not started on no data dir, said so" \
  grep -qF "etcd is not started again: $DATA does not exist (etcd would make an empty one, a new cluster); its manifest stays in the holding directory" <<<"$out"
check "old data gone: no data dir was made" test ! -e "$DATA"
held=$(ls -d "$NODE"/etc/kubernetes/etcd-backupd-held-* 2>/dev/null)
check "old data gone: etcd.yaml held and named" \
  test -f "$held/etcd.yaml" -a -n "$(grep -F "$held/etcd.yaml is still held away from $MAN" <<<"$out")"
# kube-apiserver stays off with etcd (on a node of units, one that requires
# etcd's would start etcd on no data dir).
check "old data gone: kube-apiserver not started again, said so" \
  grep -qF "kube-apiserver is not started again either: etcd is not running; its manifest stays in the holding directory" <<<"$out"
check "old data gone: kube-apiserver.yaml held and named, not in $MAN" \
  test -f "$held/kube-apiserver.yaml" -a ! -e "$MAN/kube-apiserver.yaml" \
    -a -n "$(grep -F "$held/kube-apiserver.yaml is still held away from $MAN" <<<"$out")"
# Put the node right, as the operator would: the old data back, then etcd
# and kube-apiserver.
mv "$T/old-data-moved-away" "$DATA"
mv "$held/etcd.yaml" "$MAN/etcd.yaml"; mv "$held/kube-apiserver.yaml" "$MAN/kube-apiserver.yaml"; rmdir "$held"
rm -f "$(ls -d "$DATA".unfinished-restore-*)"
wait_for 30 etcd_healthy
check "old data gone: etcd back on the old data" test -n "$(ctl get /gone/marker --keys-only)"
check "old data gone: kube-apiserver back" wait_for 10 apiserver_up

# ---- a controller that was not serving before the restore is not waited for ------
# kube-scheduler's pod runs but binds nothing (crash-looping, say): the
# restore moves its manifest out and back like the other's, says it did not
# answer before either, and succeeds; it used to wait health_timeout for the
# port and roll back a proven etcd.
SILENT=$(free_port "${PORTS_TAKEN[@]}") || exit 1; PORTS_TAKEN+=("$SILENT")
scheduler_binding_nothing "$SILENT"
restore_conf "$T/silent.conf"
sed -i 's|health_timeout = "60s"|health_timeout = "20s"|' "$T/silent.conf"
restore_socket silent "$T/silent.conf"; SILENTSOCK=$RSOCK
ctl put /silent/later "after the backup" >/dev/null
out=$("$C" restore latest --yes --socket "$SILENTSOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "silent controller: restore exit 0" test $rc -eq 0
check "silent controller: said it did not answer before, not waited for" \
  grep -qF "kube-scheduler.yaml is back in $MAN; its 127.0.0.1 port $SILENT did not answer before the restore either: not waited for" <<<"$out"
check "silent controller: kube-controller-manager restarted and waited for" grep -q "ok  restart controllers: 1 restarted" <<<"$out"
check "silent controller: the backup's data (the later write is gone)" test -z "$(ctl get /silent/later --keys-only)"
check "silent controller: its manifest is back" test -f "$MAN/kube-scheduler.yaml"
scheduler_as_it_was "kube-scheduler serving again"

# ---- a controller that serves no port (--secure-port=0) is not waited for ---------
# This time the client is stopped once etcd is (SIGTERM: a background job
# ignores SIGINT, Ctrl-C's signal, which the client treats the same): it
# says the restore goes on and where to follow it, and the service finishes.
scheduler_binding_nothing 0
lines=$(wc -l < "$T/restore-silent.log")
"$C" restore latest --yes --socket "$SILENTSOCK" > "$T/interrupted.out" 2>&1 & CLIENT=$!
wait_for 60 grep -q "^ *ok  stop etcd: " "$T/interrupted.out"
kill -TERM "$CLIENT"; wait "$CLIENT"; rc=$?
sed 's/^/    /' "$T/interrupted.out"
check "the client stopped after the confirmation: the client ends by the signal (exit $rc)" test $rc -eq 143
check "the client stopped after the confirmation: says the restore goes on, and where to follow it" \
  grep -qF "this client stops, the restore does not: it goes on in the restore service (a confirmed restore is not cancelled); follow it with journalctl -f -u 'etcd-backupd-restore@*'" "$T/interrupted.out"
restored() { tail -n +$((lines + 1)) "$T/restore-silent.log" | grep -q "Restored etcd from"; }
check "the client stopped after the confirmation: the restore service finished the restore" wait_for 120 restored
out=$(tail -n +$((lines + 1)) "$T/restore-silent.log")
check "--secure-port=0: said it serves no port, not waited for" \
  grep -qF "kube-scheduler.yaml is back in $MAN; its --secure-port is 0 (it serves no port): not waited for" <<<"$out"
check "--secure-port=0: its manifest is back" test -f "$MAN/kube-scheduler.yaml"
scheduler_as_it_was "kube-scheduler serving again"

# ---- a controller that goes away with kube-apiserver is still waited for ---------
# As a real kube-scheduler loses its lease and exits while kube-apiserver is
# down (the kubelet then starts it again with back-off), this one serves its
# port only while kube-apiserver's answers, and 2 s after it is back. It
# answered before the restore, so the restart waits for it (asked at the
# restart, it would have been taken for one that never served).
FOLLOW=$(free_port "${PORTS_TAKEN[@]}") || exit 1; PORTS_TAKEN+=("$FOLLOW")
python3 - "$MAN/kube-scheduler.yaml" "$FOLLOW" "$APORT" <<'PY'
import sys, yaml
path, port, aport = sys.argv[1], sys.argv[2], sys.argv[3]
code = """
import socket, sys, time
port, aport = int(sys.argv[1]), int(sys.argv[2])
def apiserver_up():
    try:
        socket.create_connection(("127.0.0.2", aport), 0.5).close()
        return True
    except OSError:
        return False
listener, since = None, None
for _ in range(6000):
    if apiserver_up():
        since = since or time.monotonic()
        if listener is None and time.monotonic() - since >= 2:
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen(16)
    else:
        since = None
        if listener is not None:
            listener.close()
            listener = None
    time.sleep(0.1)
"""
doc = yaml.safe_load(open(path))
c = doc["spec"]["containers"][0]
c["command"] = ["python3", "-c", code, port, aport]
c["args"] = ["--bind-address=127.0.0.1", "--secure-port=" + port]
yaml.safe_dump(doc, open(path + ".new", "w"))
PY
mv "$MAN/kube-scheduler.yaml.new" "$MAN/kube-scheduler.yaml"
check "following controller: serving before the restore" \
  wait_for 20 python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$FOLLOW"
restore_conf "$T/follow.conf"
sed -i 's|health_timeout = "60s"|health_timeout = "20s"|' "$T/follow.conf"
restore_socket follow "$T/follow.conf"; FOLLOWSOCK=$RSOCK
out=$("$C" restore latest --yes --socket "$FOLLOWSOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "following controller: restore exit 0" test $rc -eq 0
check "following controller: waited for until its port answered again" \
  grep -qF "kube-scheduler.yaml restarted: 127.0.0.1 port $FOLLOW answers again" <<<"$out"
check "following controller: both restarted" grep -q "ok  restart controllers: 2 restarted" <<<"$out"
scheduler_as_it_was "kube-scheduler as it was"

# ---- one restore at a time; one that was killed is not taken for a clean node ----
# etcd's tool is made slow (restore.etcdutl: a wrapper that waits 120 s before
# it runs etcdctl), so the restore is still in its snapshot step, with both
# manifests held, when a second one asks: that one is told another restore
# is running. Then the first restore's service is killed (SIGKILL, as by the
# OOM killer): its tool goes with it, and the next restore is refused,
# naming the manifests left in the holding dir, until they are put back.
printf '%s\n' '#!/usr/bin/python3' 'import os, sys, time' \
  "open('$T/tool.pid', 'w').write(str(os.getpid()))" 'time.sleep(120)' \
  "os.execv('$(command -v etcdctl)', ['etcdctl'] + sys.argv[1:])" > "$T/etcdctl-slow"
chmod 0755 "$T/etcdctl-slow"
restore_conf "$T/slow.conf" "etcdutl = \"$T/etcdctl-slow\";"
restore_socket slow "$T/slow.conf"; SLOWSOCK=$RSOCK SLOWACT=$RPID
rm -f "$T/tool.pid"
"$C" restore latest --yes --socket "$SLOWSOCK" > "$T/slow.out" 2>&1 & SLOWCLIENT=$!
check "killed restore: the slow restore reached its snapshot step" wait_for 60 test -s "$T/tool.pid"
tool_id=$(proc_id "$(cat "$T/tool.pid")")
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "concurrent restore: refused, told another restore is running (exit $rc)" \
  test $rc -eq 1 -a -n "$(grep -F "another restore on this node is running; wait for it to end" <<<"$out")"
slow_service=$(pgrep -P "$SLOWACT")
check "killed restore: its service found (a child of this test's activator)" test -n "$slow_service"
kill -KILL $slow_service; wait "$SLOWCLIENT"
check "killed restore: etcd's tool ended with the service (not left writing)" \
  wait_for 5 eval '! kill -0 "$(cat "$T/tool.pid")" 2>/dev/null'
signal_proc -9 "$tool_id"  # (only when the check above failed)
held=$(ls -d "$NODE"/etc/kubernetes/etcd-backupd-held-*)
check "killed restore: both manifests left in the holding dir" test -f "$held/etcd.yaml" -a -f "$held/kube-apiserver.yaml"
held_before=$(tree_state "$NODE/etc/kubernetes"); data_before=$(ls -d "$DATA"*)
out=$("$C" restore latest --yes --socket "$SOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
tag=${held##*etcd-backupd-held-}
check "after a killed restore: the next is refused (exit $rc), naming what was left and what to do" \
  test $rc -eq 1 -a -n "$(grep -F "an earlier restore did not finish: it left $held/" <<<"$out" | grep -F "etcd.yaml" | grep -F "kube-apiserver.yaml" | grep -F "old data as <data dir>.pre-restore-$tag" | grep -F "move each back into $MAN")"
check "after a killed restore: nothing was changed (manifests, holding dir, data dirs)" \
  test "$held_before" = "$(tree_state "$NODE/etc/kubernetes")" -a "$data_before" = "$(ls -d "$DATA"*)"
record=$DATA.unfinished-restore-$tag
check "killed restore: its record says what it does to the node" \
  grep -qF "it moves kube-apiserver.yaml and etcd.yaml to $held while it runs" "$record"
check "killed restore: its record says it moves the controllers' manifests too" \
  grep -qxF "last it moves kube-controller-manager.yaml and kube-scheduler.yaml (those present) to $held and back" "$record"
mv "$held"/*.yaml "$MAN"/ && rmdir "$held"
check "put back: etcd healthy" wait_for 30 etcd_healthy
check "put back: kube-apiserver back" wait_for 10 apiserver_up
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "put back: still refused (exit $rc) while the record is there, quoting it" \
  test $rc -eq 1 -a -n "$(grep -F "an earlier restore did not finish ($record: started at " <<<"$out" | grep -F "then remove $record and restore again")"
rm "$record"
ctl put /killed/later "after the backup" >/dev/null
out=$("$C" restore latest --yes --socket "$SOCK" 2>&1); rc=$?
check "record removed: the restore runs again (exit $rc)" test $rc -eq 0 -a -z "$(ctl get /killed/later --keys-only)"
# A record that cannot be removed once the restore has succeeded: the
# restore's service runs in a mount namespace of its own, where the test
# bind-mounts a file over the record while etcd's tool waits for it (a
# wrapper that starts etcdctl once $T/go exists), so unlink says EBUSY.
# The restore succeeds, says the record is left, and the next is refused.
if unshare -m --propagation private true 2>/dev/null; then
  printf '%s\n' '#!/usr/bin/python3' 'import os, sys, time' \
    "open('$T/tool.pid', 'w').write(str(os.getpid()))" \
    "for _ in range(1200):" "    if os.path.exists('$T/go'): break" "    time.sleep(0.1)" \
    "os.execv('$(command -v etcdctl)', ['etcdctl'] + sys.argv[1:])" > "$T/etcdctl-gated"
  chmod 0755 "$T/etcdctl-gated"
  restore_conf "$T/gated.conf" "etcdutl = \"$T/etcdctl-gated\";"
  restore_socket gated "$T/gated.conf" unshare -m --propagation private; GATEDACT=$RPID
  rm -f "$T/tool.pid" "$T/go"; : > "$T/over-record"
  ctl put /pinned/later "after the backup" >/dev/null
  "$C" restore latest --yes --socket "$RSOCK" > "$T/gated.out" 2>&1 & GATEDCLIENT=$!
  check "pinned record: the restore reached its snapshot step" wait_for 60 test -s "$T/tool.pid"
  record=$(ls -d "$DATA".unfinished-restore-* 2>/dev/null)
  check "pinned record: the run's record is there ($record)" test -f "$record"
  nsenter -t "$GATEDACT" -m -- mount --bind "$T/over-record" "$record"
  touch "$T/go"; wait "$GATEDCLIENT"; rc=$?
  out=$(cat "$T/gated.out"); echo "$out" | sed 's/^/    /'
  check "pinned record: the restore succeeded (exit $rc)" test $rc -eq 0 -a -z "$(ctl get /pinned/later --keys-only)"
  check "pinned record: said beside the last step, with why" grep -qF \
    "ok  restart controllers: but $record, the record of this restore, cannot be removed (Device or resource busy): remove it yourself, or the next restore is refused" <<<"$out"
  check "pinned record: no step failed, no rollback ran" test -z "$(grep -E "^ *(FAILED  |[a-z.-]+  rollback: )" <<<"$out")"
  check "pinned record: still there" test -f "$record"
  out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
  check "pinned record: the next restore is refused (exit $rc), quoting it" \
    test $rc -eq 1 -a -n "$(grep -F "an earlier restore did not finish ($record: started at " <<<"$out")"
  nsenter -t "$GATEDACT" -m -- umount "$record"; rm -f "$record"
  check "pinned record: removed, the dry run plans again" quiet "$C" restore latest --dry-run --socket "$SOCK"
else
  echo "# skipped the pinned record: cannot make a private mount namespace here"
fi
# etcd's tool's end is its exit: a wrapper that leaves a child holding its
# output open (here a sleep of 120 s) must not hold the restore, which goes
# on once the tool exits and ends while that child still runs.
printf '%s\n' '#!/usr/bin/python3' 'import subprocess, sys' \
  "rc = subprocess.call(['$(command -v etcdctl)'] + sys.argv[1:], pass_fds=(3,))" \
  "open('$T/lingering.pid', 'w').write(str(subprocess.Popen(['sleep', '120']).pid))" 'sys.exit(rc)' \
  > "$T/etcdctl-lingering"
chmod 0755 "$T/etcdctl-lingering"
restore_conf "$T/lingering.conf" "etcdutl = \"$T/etcdctl-lingering\";"
restore_socket lingering "$T/lingering.conf"
rm -f "$T/lingering.pid"
ctl put /lingering/later "after the backup" >/dev/null
out=$(timeout 100 "$C" restore latest --yes --socket "$RSOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
lingering=$(cat "$T/lingering.pid" 2>/dev/null)
lingering_id=$([[ -n $lingering ]] && proc_id "$lingering")
check "a tool that leaves a child on its output: the restore succeeded (exit $rc)" \
  test $rc -eq 0 -a -z "$(ctl get /lingering/later --keys-only)"
check "... and ended while that child still held the output" test -n "$lingering" -a -d "/proc/$lingering"
signal_proc -TERM "$lingering_id"

# A restore dir never put in place (a kill between etcd's tool and the swap).
mkdir "$DATA.restore-20200101T000000Z"
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "a leftover .restore-* dir: refused (exit $rc), naming it" \
  test $rc -eq 1 -a -n "$(grep -F "an earlier restore did not finish: $DATA.restore-20200101T000000Z is a restore that was never put in place" <<<"$out")"
rmdir "$DATA.restore-20200101T000000Z"

# ---- a backup of a db compacted above its newest key ---------------------------
# The last writes are deletes and a compaction at the current revision then
# drops their tombstones: the db's newest key is older than its compaction
# revision, and etcd restored from it answers at the compaction revision
# (etcd's mvcc restore takes the larger of the two). The backup keeps the
# newest key's revision (as `etcdctl snapshot status` says); the restore
# must expect the compaction revision and succeed.
for i in $(seq 1 6); do ctl put "/compacted/k$i" "c$i" >/dev/null; done
ctl del /compacted/k5 >/dev/null
ctl del /compacted/k6 >/dev/null
compact_rev=$(etcd_revision)
ctl compact --physical "$compact_rev" >/dev/null
newest_rev=$(ctl get /compacted/k4 -w json | jq -r '.kvs[0].mod_revision')
check "compacted: the newest key ($newest_rev) is below the compaction revision ($compact_rev)" \
  test "$newest_rev" -lt "$compact_rev"
data_before=$(ctl get / --prefix -w json | jq -c '[.kvs[] | {key, value}]')
out=$("$ETCD_BACKUPD" --once -c "$T/r.conf" 2>"$T/once-compacted.err"); rc=$?
check "compacted: --once made a backup" test $rc -eq 0 -a -f "$out" -a -f "$out.json"
check "compacted: the backup's revision is its newest key's (sidecar, name)" \
  test "$(jq -r .revision "$out.json")" = "$newest_rev" -a "${out##*-r$newest_rev.db}" != "$out"
ctl put /compacted/later "after the backup" >/dev/null
out=$("$C" restore "$out" --dry-run --socket "$SOCK" 2>&1)
check "compacted: the plan names the revision etcd will answer at, and why" \
  grep -qF "revision >= $compact_rev (the db's compaction revision; its newest key is at $newest_rev)" <<<"$out"
out=$("$C" restore latest --yes --socket "$SOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "compacted: restore exit 0" test $rc -eq 0
check "compacted: not rolled back" test -z "$(grep "rolled back" <<<"$out")"
check "compacted: proved at the compaction revision" \
  grep -qE "ok  wait for etcd: etcd is healthy at revision $compact_rev \(the db's compaction revision; its newest key is at $newest_rev\), and runs on the restored data" <<<"$out"
check "compacted: etcd answers at the compaction revision" test "$(etcd_revision)" = "$compact_rev"
check "compacted: the data as in the backup" \
  test "$data_before" = "$(ctl get / --prefix -w json | jq -c '[.kvs[] | {key, value}]')"
check "compacted: the deleted keys stay deleted, the later write is gone" \
  test -z "$(ctl get /compacted/k5 --keys-only)$(ctl get /compacted/k6 --keys-only)$(ctl get /compacted/later --keys-only)"
check "compacted: kube-apiserver stand-in back" wait_for 20 apiserver_up
check "compacted: the gzip backup's db, the plan's own checked copy: the tool was told --skip-hash-check" \
  grep -qE "^ +\.\.  snapshot restore: .*etcdctl snapshot restore --skip-hash-check into $DATA\.restore-" <<<"$out"

# ---- an uncompressed backup -------------------------------------------------------
# Read in place from the backup directory, not from a private copy: etcd's
# tool checks its hash itself (the file could have changed since the plan
# read it), so it is not told --skip-hash-check.
sed 's/compression = "gzip"/compression = "none"/' "$T/r.conf" > "$T/plain.conf"
check "plain: the configuration asks for no compression" grep -q 'compression = "none"' "$T/plain.conf"
ctl put /plain/k1 "in the plain backup" >/dev/null
plain=$("$ETCD_BACKUPD" --once -c "$T/plain.conf" 2>"$T/once-plain.err"); rc=$?
check "plain: --once made an uncompressed backup" test $rc -eq 0 -a -f "$plain" -a "${plain%.db}" != "$plain"
data_before=$(ctl get / --prefix -w json | jq -c '[.kvs[] | {key, value}]')
ctl put /plain/later "after the backup" >/dev/null
out=$("$C" restore "$plain" --yes --socket "$SOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "plain: restore exit 0" test $rc -eq 0
check "plain: the tool checked the hash itself (no --skip-hash-check)" \
  grep -qE "^ +\.\.  snapshot restore: .*etcdctl snapshot restore into $DATA\.restore-" <<<"$out"
check "plain: the data as in the backup" \
  test "$data_before" = "$(ctl get / --prefix -w json | jq -c '[.kvs[] | {key, value}]')"
check "plain: kube-apiserver stand-in back" wait_for 20 apiserver_up
# The same backup as the daemon's user's (not root's; the directory too):
# root does not map a file another user can cut short under it (SIGBUS), it
# copies it as it checks the trailer, and the tool gets that checked copy.
chown 65534:65534 "$plain" "$(dirname "$plain")"
out=$("$C" restore "$plain" --yes --socket "$SOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "plain, another user's: restore exit 0" test $rc -eq 0
check "plain, another user's: the plan's own checked copy: the tool was told --skip-hash-check" \
  grep -qE "^ +\.\.  snapshot restore: .*etcdctl snapshot restore --skip-hash-check into $DATA\.restore-" <<<"$out"
check "plain, another user's: the data as in the backup" \
  test "$data_before" = "$(ctl get / --prefix -w json | jq -c '[.kvs[] | {key, value}]')"
chown 0:0 "$plain" "$(dirname "$plain")"

# ---- a backup taken while etcd's NOSPACE alarm was raised -----------------------
# etcd keeps its alarms in the db, so etcd restored from such a backup comes
# up with the alarm raised: read-only, but whole. The restore must accept
# that etcd (it used to wait for it until health_timeout and roll back) and
# say what the alarm means. The alarm is raised through etcd's Alarm RPC.
check "nospace: the NOSPACE alarm raised" etcd_alarm NOSPACE
ctl put /nospace/k1 "refused" >/dev/null 2>&1
check "nospace: etcd refuses a write" test -z "$(ctl get /nospace/k1 --keys-only)"
out=$("$ETCD_BACKUPD" --once -c "$T/r.conf" 2>"$T/once-nospace.err"); rc=$?
check "nospace: --once made a backup, with a warning naming the alarm" \
  test $rc -eq 0 -a -f "$out" -a -n "$(grep "etcd's NOSPACE alarm is raised at" "$T/once-nospace.err")"
ctl alarm disarm >/dev/null
ctl put /nospace/later "after the backup" >/dev/null
check "nospace: disarmed, etcd takes writes again" test -n "$(ctl get /nospace/later --keys-only)"
data_before=$(ctl get / --prefix -w json | jq -c '[.kvs[] | {key, value}]')
out=$("$C" restore latest --yes --socket "$SOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "nospace: restore exit 0" test $rc -eq 0
check "nospace: not rolled back" test -z "$(grep "rolled back" <<<"$out")"
check "nospace: the wait for etcd says the alarm came with the backup" \
  grep -qE "ok  wait for etcd: etcd is healthy at revision .*; it reports the NOSPACE alarm, which came with the backup" <<<"$out"
check "nospace: etcd lists the NOSPACE alarm again" etcd_has_alarm NOSPACE
check "nospace: the later write is gone" test -z "$(ctl get /nospace/later --keys-only)"
ctl alarm disarm >/dev/null
ctl put /nospace/after "after the restore" >/dev/null
check "nospace: disarmed, the restored etcd takes writes" test -n "$(ctl get /nospace/after --keys-only)"
check "nospace: kube-apiserver stand-in back" wait_for 20 apiserver_up


# ---- the swap's rename and its exchange back both fail ----------------------------
# The exchange done, the rename of the old data to .pre-restore- and the
# exchange back fail (EIO, a preload): the restored data is in place and the
# old data under the restore's name. The rollback finds the old data by its
# inode and puts it back: etcd on the old data, proven, nothing else left
# behind (it used to look for it under .pre-restore- only, set the restored
# data aside and leave no data dir, etcd and kube-apiserver stopped).
: "${FAIL_RENAMES:?}"
restore_socket_preloaded renames "$T/r.conf" "$FAIL_RENAMES" FAIL_RENAME_TO=.pre-restore- FAIL_EXCHANGE_NTH=2
old_ino=$(stat -c %i "$DATA")
ctl put /renames/later "in the data before this restore" >/dev/null
out=$("$C" restore latest --yes --socket "$RSOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "swap stuck: exit 1, the swap's error names both names" \
  test $rc -eq 1 -a -n "$(grep -F "cannot put $DATA.restore-" <<<"$out" | grep -F "Input/output error")"
check "swap stuck: the rollback puts the old data back and says everything is as it was" \
  eval 'grep -qF "$DATA is the old data again; the failed restore is kept as $DATA.failed-restore-" <<<"$out" &&
        grep -qF "rolled back: everything is as it was before the restore" <<<"$out"'
check "swap stuck: the data dir is the old one (inode $old_ino), no .restore-* left" \
  test "$(stat -c %i "$DATA")" = "$old_ino" -a -z "$(ls -d "$DATA".restore-* 2>/dev/null)"
check "swap stuck: etcd proven on the old data" \
  grep -qE "etcd is healthy on the old data at revision [0-9]+ \(pid [0-9]+ holds $DATA/member/snap/db" <<<"$out"
wait_for 30 etcd_healthy
check "swap stuck: etcd has the write from before the restore" test -n "$(ctl get /renames/later --keys-only)"
check "swap stuck: kube-apiserver back" wait_for 10 apiserver_up
check "swap stuck: both manifests back, no holding dir" \
  test -f "$MAN/etcd.yaml" -a -f "$MAN/kube-apiserver.yaml" -a -z "$(ls -d "$NODE"/etc/kubernetes/etcd-backupd-held-* 2>/dev/null)"

# The same, and the rollback's own rename of the restored data aside fails
# too (as a full disk would fail both): the old data stays in place (its
# exchange kept, not undone: etcd would come back on the restored data),
# the restored data stays under the restore's name, said so, and the
# record is kept for the operator.
restore_socket_preloaded renames2 "$T/r.conf" "$FAIL_RENAMES" FAIL_RENAME_TO=.pre-restore-:.failed-restore- FAIL_EXCHANGE_NTH=2
old_ino=$(stat -c %i "$DATA")
ctl put /renames/later2 "in the data before this restore" >/dev/null
out=$("$C" restore latest --yes --socket "$RSOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
left=$(ls -d "$DATA".restore-* 2>/dev/null)
check "swap and rollback renames stuck: exit 3 (the rollback incomplete), the restored data named where it stays" \
  test $rc -eq 3 -a -n "$left" -a -n "$(grep -F "$DATA is the old data again, but the restored data stays as $left (it cannot be renamed to $DATA.failed-restore-" <<<"$out")"
check "swap and rollback renames stuck: the data dir is the old one, the restored db under the restore's name" \
  test "$(stat -c %i "$DATA")" = "$old_ino" -a -f "$left/member/snap/db"
check "swap and rollback renames stuck: etcd proven on the old data, not the restored" \
  grep -qE "etcd is healthy on the old data at revision [0-9]+ \(pid [0-9]+ holds $DATA/member/snap/db" <<<"$out"
wait_for 30 etcd_healthy
check "swap and rollback renames stuck: etcd has the write from before the restore" \
  test -n "$(ctl get /renames/later2 --keys-only)"
check "swap and rollback renames stuck: kube-apiserver back" wait_for 10 apiserver_up
record=$(ls -d "$DATA".unfinished-restore-* 2>/dev/null)
check "swap and rollback renames stuck: the record stays" test -n "$record"
# The operator's part: the restored data out of the way, the record removed.
mv "$left" "$T/restored-left-aside"; rm -f "$record"

# ---- a file system that cannot exchange (CIFS) --------------------------------------
# Every exchange fails with EINVAL: the swap renames the data dir aside,
# then the restored data into place.
restore_socket_preloaded noexchange "$T/r.conf" "$FAIL_RENAMES" FAIL_EXCHANGE_EINVAL=1
NOXSOCK=$RSOCK
old_ino=$(stat -c %i "$DATA")
pre_before=$(ls -d "$DATA".pre-restore-* 2>/dev/null | sort)
ctl put /noexchange/later "after the backup" >/dev/null
out=$("$C" restore latest --yes --socket "$NOXSOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
pre=$(comm -13 <(echo "$pre_before") <(ls -d "$DATA".pre-restore-* | sort))
check "no exchange: restore exit 0" test $rc -eq 0
check "no exchange: the old data is the new .pre-restore-*, the data dir another" \
  test -n "$pre" -a "$(stat -c %i "$pre" 2>/dev/null)" = "$old_ino" -a "$(stat -c %i "$DATA")" != "$old_ino"
wait_for 30 etcd_healthy
check "no exchange: the backup's data (the later write is gone)" test -z "$(ctl get /noexchange/later --keys-only)"
check "no exchange: kube-apiserver back" wait_for 10 apiserver_up

# The same, and the restored data's rename into place fails, and so does
# every rename to the data dir's name after it (the one back, the
# rollback's): no data dir is left. The rollback says where the old data is,
# and etcd, kube-apiserver and the controllers stay off, their manifests
# held and named.
restore_socket_preloaded noexchange2 "$T/r.conf" "$FAIL_RENAMES" FAIL_EXCHANGE_EINVAL=1 FAIL_RENAME_TO="=$(basename "$DATA")"
old_ino=$(stat -c %i "$DATA")
pre_before=$(ls -d "$DATA".pre-restore-* 2>/dev/null | sort)
out=$("$C" restore latest --yes --socket "$RSOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
pre=$(comm -13 <(echo "$pre_before") <(ls -d "$DATA".pre-restore-* | sort))
held=$(ls -d "$NODE"/etc/kubernetes/etcd-backupd-held-* 2>/dev/null)
check "no exchange, no rename back: exit 3 (the rollback incomplete), no data dir, the old data under .pre-restore-*" \
  test $rc -eq 3 -a ! -e "$DATA" -a -n "$pre" -a "$(stat -c %i "$pre" 2>/dev/null)" = "$old_ino"
check "no exchange, no rename back: the rollback says it cannot rename the old data back" \
  grep -qF "cannot rename $pre back to $DATA: Input/output error" <<<"$out"
check "no exchange, no rename back: etcd and kube-apiserver left off, said so" \
  eval 'grep -qF "etcd is not started again: $DATA does not exist" <<<"$out" &&
        grep -qF "kube-apiserver is not started again either" <<<"$out"'
check "no exchange, no rename back: both manifests held and named" \
  test -f "$held/etcd.yaml" -a -f "$held/kube-apiserver.yaml" -a -n "$(grep -F "$held/kube-apiserver.yaml is still held away" <<<"$out")"
# The operator's part: the old data back, the manifests back, the restored
# data and the record out of the way.
mv "$pre" "$DATA"; mv "$held"/*.yaml "$MAN/"; rmdir "$held"
mv "$DATA".restore-* "$T/restored-left-aside2"; rm -f "$DATA".unfinished-restore-*
wait_for 30 etcd_healthy
check "no exchange, no rename back: put right by hand, kube-apiserver back" wait_for 10 apiserver_up

# ---- killed between the swap's exchange and its rename ----------------------------
# As by a power loss there (the service ends by SIGKILL right after its
# renameat2(RENAME_EXCHANGE), a preload): the data dir is never missing (on
# a node whose etcd is an enabled unit, a reboot would start it on no data:
# a new, empty cluster). The restored data is in place, the old data under
# the restore's name, and the next plan says which is which.
: "${KILL_ON_EXCHANGE:?}"
restore_socket_preloaded exchange "$T/r.conf" "$KILL_ON_EXCHANGE"
XSOCK=$RSOCK
old_ino=$(stat -c %i "$DATA")
pre_before=$(ls -d "$DATA".pre-restore-* 2>/dev/null | sort)
out=$("$C" restore latest --yes --socket "$XSOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "killed after the exchange: the client has no result (exit $rc)" \
  test $rc -ne 0 -a -n "$(grep -F "closed the connection without a result" <<<"$out")"
check "killed after the exchange: the data dir is there, another directory, with a db" \
  test -f "$DATA/member/snap/db" -a "$(stat -c %i "$DATA")" != "$old_ino"
xdir=$(ls -d "$DATA".restore-* 2>/dev/null)
check "killed after the exchange: the old data is under the restore's name" \
  test -n "$xdir" -a "$(stat -c %i "$xdir" 2>/dev/null)" = "$old_ino"
check "killed after the exchange: no new .pre-restore-*" test "$(ls -d "$DATA".pre-restore-* 2>/dev/null | sort)" = "$pre_before"
tag=${xdir##*.restore-}
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "killed after the exchange: the next plan is refused (exit $rc) for the held manifests, naming .restore-$tag" \
  test $rc -eq 1 -a -n "$(grep -F "leaves the old data as <data dir>.pre-restore-$tag or <data dir>.restore-$tag" <<<"$out")"
# The manifests back (etcd starts on what is in place), the plan again: the
# record's refusal says where each data is.
held=$(ls -d "$NODE"/etc/kubernetes/etcd-backupd-held-* 2>/dev/null)
mv "$held"/*.yaml "$MAN/"; rmdir "$held"
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "killed after the exchange: then refused (exit $rc) by the record, naming the data in each place" \
  test $rc -eq 1 -a -n "$(grep -F "$DATA is the restored data (the restore did not finish); the old data is $xdir, under the restore's name (it was killed between the swap's two steps): rename it to $DATA.pre-restore-$tag before you remove the record" <<<"$out")"

finish
