#!/usr/bin/env bash
# Faults during a backup of a ~100 MB db: etcd killed mid-stream, etcd
# stopped mid-stream until the timeout, SIGKILL and SIGTERM of the backup
# process mid-stream, and a backup directory too small for the backup. Each
# time the backup directory must be exactly as before (the earlier backup
# byte-identical, no new file of any kind) and the next run must succeed.
. "$(dirname "$0")/lib.sh"

start_etcd
load_random 100 1024    # 100 values of 1 MiB, incompressible

# c.conf's whole-snapshot timeout of 4 s is for the case where etcd is
# stopped mid-stream; the first backup is taken with the default timeout,
# since on a loaded machine (ASan, tests side by side) a healthy backup of
# this db can take longer than 4 s.
{ etcd_group '' "$ETCD_CACERT" "$ETCD_CERT" "$ETCD_KEY" 'timeout = "4s";'; storage_group "$T/b" zstd 1; } > "$T/c.conf"
{ etcd_group; storage_group "$T/b" zstd 1; } > "$T/setup.conf"
"$ETCD_BACKUPD" --once -c "$T/setup.conf" >/dev/null 2>"$T/first.err"
if [[ "$(ls "$T/b" | wc -l)" == 2 ]]; then ok "setup: a first backup"; else not_ok "setup: a first backup: $(cat "$T/first.err")"; fi
before=$(dir_state "$T/b")

# SIGKILL / SIGTERM of the backup process in the middle of the stream.
for sig in KILL TERM; do
  "$ETCD_BACKUPD" --once -c "$T/c.conf" >/dev/null 2>&1 &
  pid=$!
  if wait_streaming $pid; then
    kill -s $sig $pid; wait $pid 2>/dev/null
    check "SIG$sig mid-stream: directory unchanged" test "$(dir_state "$T/b")" = "$before"
  else
    wait $pid 2>/dev/null; not_ok "SIG$sig: never saw the stream (too fast?)"
  fi
done

# etcd stopped mid-stream: the whole-snapshot timeout (4 s) ends it.
"$ETCD_BACKUPD" --once -c "$T/c.conf" >/dev/null 2>"$T/stop.err" &
pid=$!
etcd_pid=${ETCD_PIDS%% *}
if wait_streaming $pid; then
  kill -STOP "$etcd_pid"; wait $pid; rc=$?; kill -CONT "$etcd_pid"
  check "etcd stopped mid-stream: exit 1" test $rc -eq 1
  check "etcd stopped mid-stream: says it timed out" grep -q "timed out" "$T/stop.err"
  check "etcd stopped mid-stream: directory unchanged" test "$(dir_state "$T/b")" = "$before"
else
  wait $pid; not_ok "stop: never saw the stream"
fi
# etcd, continued, answers again before the next case starts (up to 10 s).
for _ in $(seq 1 100); do quiet ctl endpoint health && break; sleep 0.1; done

# A backup directory on a file system too small for the backup.
mkdir -p "$T/small"
if mount -t tmpfs -o size=40m,mode=0700 tmpfs "$T/small" 2>/dev/null; then
  CLEANUP+=("umount '$T/small'")
  { etcd_group; storage_group "$T/small" zstd 1 0; } > "$T/small.conf"
  echo precious > "$T/small/etcd-0000000000000001-20200101T000000Z-r1.db"
  small_before=$(dir_state "$T/small")
  err=$("$ETCD_BACKUPD" --once -c "$T/small.conf" 2>&1 >/dev/null); rc=$?
  check "full disk: exit 1" test $rc -eq 1
  if grep -qiE "space" <<<"$err"; then ok "full disk: error names the lack of space"; else not_ok "full disk: '$err'"; fi
  check "full disk: directory unchanged" test "$(dir_state "$T/small")" = "$small_before"
else
  not_ok "full disk: cannot mount a tmpfs (not root?)"
fi

# Backups removed by hand while a backup streams no longer count for its
# retention: five backups, keep_last = 3, the newest two removed while etcd
# is stopped mid-stream. The job's retention lists the directory again after
# the backup, so it keeps the new one and the next two and removes the oldest
# (from a listing taken before the stream it would keep the two removed ones
# as well and remove all three others: one backup left).
mkdir -p "$T/r"
keep='retention: { keep_last = %s; keep_hourly = 0; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; keep_yearly = 0; };\n'
{ etcd_group; storage_group "$T/r" zstd 1; printf "$keep" 10; } > "$T/r-setup.conf"
{ etcd_group; storage_group "$T/r" zstd 1; printf "$keep" 3; } > "$T/r.conf"
for i in 1 2 3 4 5; do
  ctl put "/faults/retention/$i" "$i" >/dev/null
  "$ETCD_BACKUPD" --once -c "$T/r-setup.conf" >/dev/null 2>"$T/r-setup.err" || break
done
mapfile -t made < <(ls "$T/r" | grep '\.db\.zst$' | sort)
if [[ ${#made[@]} == 5 ]]; then
  ok "retention after removals: five backups to start from"
  "$ETCD_BACKUPD" --once -c "$T/r.conf" >/dev/null 2>"$T/r.err" &
  pid=$!
  if wait_streaming $pid; then
    kill -STOP "$etcd_pid"
    rm -f "$T/r/${made[3]}" "$T/r/${made[3]}.json" "$T/r/${made[4]}" "$T/r/${made[4]}.json"
    kill -CONT "$etcd_pid"; wait $pid; rc=$?
    left=$(ls "$T/r" | grep '\.db\.zst$' | sort)
    check "retention after removals: the backup succeeds (exit $rc: $(head -c 300 "$T/r.err"))" test $rc -eq 0
    check "retention after removals: the oldest removed, the next two and the new one kept ($(echo $left))" \
      test "$(wc -l <<<"$left")" = 3 -a "$(head -2 <<<"$left" | paste -sd' ')" = "${made[1]} ${made[2]}"
    check "retention after removals: the journal line names the one pruned" grep -q "Pruned .*${made[0]}" "$T/r.err"
    # A removal that fails half-way (the second one's sidecar: unlinkat fails
    # on its 4th call, strace; retention removes the newest first): the two
    # removed are said pruned, the error names the sidecar's removal, the
    # oldest is kept.
    mapfile -t olds < <(ls "$T/r" | grep '\.db\.zst$' | sort)
    { etcd_group; storage_group "$T/r" zstd 1; printf "$keep" 1; } > "$T/r1.conf"
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f --seccomp-bpf -o "$T/r1.strace" -e trace=unlinkat \
      -e inject=unlinkat:error=EIO:when=4 "$ETCD_BACKUPD" --once -c "$T/r1.conf" >/dev/null 2>"$T/r1.err"; rc=$?
    check "a removal failing half-way: the error says the backup went and its sidecar did not (exit $rc)" \
      grep -q "retention failed after backup .*: removed $T/r/${olds[1]}, but cannot remove its sidecar: Input/output error" "$T/r1.err"
    check "... the two removed are said pruned" \
      test -n "$(grep "Pruned ${olds[2]}\$" "$T/r1.err")" -a -n "$(grep "Pruned ${olds[1]}\$" "$T/r1.err")"
    check "... the oldest is there, with its sidecar" test -f "$T/r/${olds[0]}" -a -f "$T/r/${olds[0]}.json"
    grep -q "removed $T/r/" "$T/r1.err" || { sed 's/^/# /' "$T/r1.err"; grep unlinkat "$T/r1.strace" | sed 's/^/# /'; }
    # A backup named later than now (the clock set back since it was taken)
    # would count as newer than every backup taken after it, which the policy
    # would remove one after the other: it is kept, and the policy applied to
    # the others.
    newest=$(ls "$T/r" | grep '\.db\.zst$' | sort | tail -1)
    future=$(sed -E 's/-[0-9]{8}T[0-9]{6}Z-/-20991231T000000Z-/' <<<"$newest")
    cp "$T/r/$newest" "$T/r/$future"; jq --arg n "$future" '.name = $n' "$T/r/$newest.json" > "$T/r/$future.json"
    count=$(ls "$T/r" | grep -c '\.db\.zst$')
    "$ETCD_BACKUPD" --once -c "$T/r1.conf" >/dev/null 2>"$T/r2.err"; rc=$?
    check "a backup named in 2099: the new backup taken and kept with it, keep_last = 1 applied to the rest (exit $rc)" \
      test "$(ls "$T/r" | grep '\.db\.zst$' | grep -v "^$future\$" | wc -l)" = 1 -a -f "$T/r/$future"
    check "... the log names it and why" grep -q "$T/r/$future is named 20991231T000000Z, later than now (20[0-9]*T[0-9]*Z): the clock was set back since" "$T/r2.err"
    grep -q "later than now" "$T/r2.err" || sed 's/^/# /' "$T/r2.err"
    rm "$T/r/$future" "$T/r/$future.json"
    "$ETCD_BACKUPD" --once -c "$T/r1.conf" >/dev/null 2>"$T/r3.err"; rc=$?
    check "... moved out: retention keeps the one newest again (exit $rc)" test "$(ls "$T/r" | grep -c '\.db\.zst$')" = 1
    rm -rf "$T/r"
  else
    wait $pid; not_ok "retention after removals: never saw the stream"
  fi
else
  not_ok "retention after removals: five backups to start from (${#made[@]}: $(head -c 300 "$T/r-setup.err"))"
fi

# Retention syncs the directory once after its removals, not once per
# removal: fsync(2)s counted by strace for a backup that removes nothing and
# for one that removes three (the same directory each time, copied back);
# the last fsync failing (EIO, injected) is said with how many were removed.
mkdir -p "$T/s"
{ etcd_group; storage_group "$T/s" zstd 1; printf "$keep" 10; } > "$T/s-keep.conf"
{ etcd_group; storage_group "$T/s" zstd 1; printf "$keep" 1; } > "$T/s-one.conf"
for i in 1 2 3; do "$ETCD_BACKUPD" --once -c "$T/s-keep.conf" >/dev/null 2>"$T/s.err" || break; done
cp -a "$T/s" "$T/s-saved"
# fsyncs CONF [STRACE-ARGS...]: one backup with CONF from the saved directory; prints its fsync(2) count
fsyncs() {
  local conf=$1; shift
  rm -rf "$T/s"; cp -a "$T/s-saved" "$T/s"
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f --seccomp-bpf -o "$T/s.strace" \
    -e trace=fsync "$@" "$ETCD_BACKUPD" --once -c "$conf" >/dev/null 2>"$T/s.err"
  grep -c 'fsync(' "$T/s.strace"
}
if [[ $(ls "$T/s" | grep -c '\.db\.zst$') == 3 ]]; then
  none=$(fsyncs "$T/s-keep.conf"); three=$(fsyncs "$T/s-one.conf")
  check "retention removing three backups: one more fsync than removing none ($none, $three)" \
    test "$three" = $((none + 1)) -a "$(ls "$T/s" | grep -c '\.db\.zst$')" = 1
  fsyncs "$T/s-one.conf" -e inject=fsync:error=EIO:when=$three >/dev/null
  check "... that sync failing: the error says the three were removed and the sync failed" \
    grep -q "retention failed after backup .*: removed 3 backups from $T/s, but cannot sync the directory: Input/output error" "$T/s.err"
  check "... the three removed are said pruned" test "$(grep -c "Pruned " "$T/s.err")" = 3
  grep -q "cannot sync the directory" "$T/s.err" || sed 's/^/# /' "$T/s.err"
else
  not_ok "retention's sync: three backups to start from ($(head -c 300 "$T/s.err"))"
fi
rm -rf "$T/s" "$T/s-saved"

# The sidecar's link is made durable (the directory fsynced) before the
# backup's: after a power loss a backup is never there without its sidecar.
mkdir -p "$T/o"
{ etcd_group; storage_group "$T/o" zstd 1; } > "$T/o.conf"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -y --seccomp-bpf -o "$T/o.strace" \
  -e trace=fsync,linkat "$ETCD_BACKUPD" --once -c "$T/o.conf" >/dev/null 2>"$T/o.err"
order=$(grep -E "^[0-9]+ +(linkat\(.*\.db\.zst(\.json)?\"|fsync\([0-9]+<$T/o>\))" "$T/o.strace" |
  sed -E 's/.*linkat\(.*\.db\.zst\.json".*/sidecar/; s/.*linkat\(.*\.db\.zst".*/backup/; s/.*fsync\(.*/dirsync/' | paste -sd' ')
check "the sidecar linked, the directory synced, then the backup linked and the directory synced ($order)" \
  test "$order" = "sidecar dirsync backup dirsync"
rm -rf "$T/o"

# etcd killed mid-stream (last: it does not come back).
"$ETCD_BACKUPD" --once -c "$T/c.conf" >/dev/null 2>"$T/kill.err" &
pid=$!
if wait_streaming $pid; then
  kill -KILL "$etcd_pid"; wait $pid; rc=$?
  check "etcd killed mid-stream: exit non-zero" test $rc -ne 0
  if grep -qE "broke off|cannot connect" "$T/kill.err"; then ok "etcd killed: error names the cause"; else not_ok "etcd killed: '$(cat "$T/kill.err")'"; fi
  check "etcd killed mid-stream: directory unchanged" test "$(dir_state "$T/b")" = "$before"
else
  wait $pid; not_ok "etcd kill: never saw the stream"
fi

finish
