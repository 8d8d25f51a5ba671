#!/usr/bin/env bash
# SIGKILL and SIGTERM at random moments across backups of a ~150 MB db:
# ten kills of `etcd-backupd --once` and ten of the daemon's worker that
# stop a backup (a kill that comes after the backup ended is counted apart
# and another is tried, sooner). After each, every earlier backup is
# byte-identical and the directory holds either nothing new or one complete
# backup that verifies (a kill can land after the file was published) --
# never a partial file. The next run succeeds.
. "$(dirname "$0")/../integration/lib.sh"
KILLS=${KILLS:-20}

start_etcd
load_random 150 1024
{ etcd_group; storage_group "$T/b" zstd 1
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = false; retry = { attempts = 0; backoff = \"1s\"; }; };"
  echo 'retention: { keep_last = 0; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; };'
  echo "control: { socket = \"$T/control.sock\"; group = \"\"; };"; } > "$T/c.conf"

start=$(date +%s%N)
"$ETCD_BACKUPD" --once -c "$T/c.conf" >/dev/null 2>&1 || { echo "first backup failed"; exit 1; }
duration_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "# one backup takes ${duration_ms} ms"

# The directory after a kill: earlier files unchanged (a lone sidecar that
# an earlier kill left may be tidied away by the next start); new is nothing,
# a lone sidecar (the kill came between the two links), or one backup with
# its sidecar that verifies. Never a backup without its sidecar.
check_after_kill() { # label before-listing
  local label=$1 before=$2 new f
  new=$(comm -13 <(sed -n 's/^\.\/\([^ ]*\) .*/\1/p' <<<"$before" | sort -u) <(ls "$T/b" | sort))
  for f in $(sed -n 's/^\.\/\([^ ]*\) .*/\1/p' <<<"$before" | sort -u); do
    [[ -f $T/b/$f ]] && continue
    [[ $f == *.json && ! -e $T/b/${f%.json} ]] && continue
    not_ok "$label: earlier file $f vanished"; return
  done
  for f in $(ls "$T/b" | grep -v '\.json$'); do
    [[ -f $T/b/$f.json ]] || { not_ok "$label: backup $f has no sidecar"; return; }
  done
  if [[ -z $new ]]; then ok "$label: directory unchanged"; return; fi
  local backups; backups=$(grep -v '\.json$' <<<"$new")
  if [[ -z $backups && $(wc -l <<<"$new") -eq 1 ]]; then
    ok "$label: a lone new sidecar (the kill came between the links)"
  elif [[ $(wc -l <<<"$backups") -eq 1 && -n $backups ]] && \
     "$ETCD_BACKUPCTL" verify "$T/b/$backups" >/dev/null 2>&1 && \
     [[ $(grep '\.json$' <<<"$new") == "$backups.json" ]]; then
    ok "$label: one complete new backup with its sidecar (the kill came after publishing)"
  else
    not_ok "$label: unexpected new files: $new"
  fi
}

# The checksums of the earlier backups and their sidecars. A sidecar alone
# (an earlier kill came between the links) is not a backup: the next start
# may remove it, which check_after_kill allows.
backup_sums() {
  (cd "$T/b" && for f in *; do
     [[ $f == *.json && ! -e ${f%.json} ]] || printf '%s\0' "$f"
   done | xargs -0r sha256sum | sort)
}

# A moment within the backup's duration as last seen: after a kill that came
# too late (the backup had ended), the window is the time that backup took,
# since later backups of the db in the page cache may be faster than the first.
window_ms=$duration_ms
rand_delay() { awk -v ms="$window_ms" -v r="$RANDOM" 'BEGIN { printf "%.3f", (r % (ms * 95 / 100 + 1)) / 1000 }'; }
missed() { # label start-ns
  local took=$(( ($(date +%s%N) - $2) / 1000000 ))
  echo "# $1: the backup had ended before the kill (it took at most ${took} ms); another within that"
  window_ms=$(( took > 50 ? took : 50 ))
}

half=$((KILLS / 2))
landed=0 tries=0
while (( landed < half && tries < 4 * half )); do
  tries=$((tries + 1))
  sig=$([[ $((landed % 2)) -eq 0 ]] && echo KILL || echo TERM)
  before=$(dir_state "$T/b"); sums=$(backup_sums)
  d=$(rand_delay); t=$(date +%s%N)
  "$ETCD_BACKUPD" --once -c "$T/c.conf" >/dev/null 2>&1 & pid=$!
  sleep "$d"; sent=; kill -s "$sig" "$pid" 2>/dev/null && sent=1; wait "$pid" 2>/dev/null; rc=$?
  # Exit 0: the backup was done before the signal came; anything else is a
  # backup the signal stopped, or one that failed by itself (no signal sent).
  if (( rc == 0 )); then missed "--once SIG$sig after ${d}s" "$t"
  elif [[ -n $sent ]]; then landed=$((landed + 1))
  else not_ok "--once failed (exit $rc) before SIG$sig was sent"; fi
  check_after_kill "--once SIG$sig after ${d}s (exit $rc)" "$before"
  check "--once SIG$sig after ${d}s: earlier backups byte-identical" \
    test "$(cd "$T/b" && sha256sum $(awk '{print $2}' <<<"$sums") | sort)" = "$sums"
done
check "$half kills stopped a running --once ($landed in $tries tries)" test "$landed" -eq "$half"

"$ETCD_BACKUPD" -c "$T/c.conf" > "$T/daemon.log" 2>&1 & DPID=$!; kill_at_exit -9 "$DPID"
check "the daemon's control socket listens" wait_until 30 listening "$T/control.sock"
window_ms=$duration_ms
landed=0 tries=0
while (( landed < KILLS - half && tries < 4 * (KILLS - half) )); do
  tries=$((tries + 1))
  sig=$([[ $((landed % 2)) -eq 0 ]] && echo KILL || echo TERM)
  before=$(dir_state "$T/b"); sums=$(backup_sums)
  d=$(rand_delay); t=$(date +%s%N)
  "$ETCD_BACKUPCTL" -s "$T/control.sock" backup >/dev/null 2>&1 & cpid=$!
  sleep "$d"
  worker=$(pgrep -P "$DPID" | head -1); early= sent=
  if [[ -n $worker ]]; then kill -s "$sig" "$worker" 2>/dev/null && sent=1
  elif kill -0 "$cpid" 2>/dev/null; then early=1; fi   # asked, no worker yet
  wait "$cpid" 2>/dev/null; rc=$?
  # The command answers with the job's result: 0 only for a backup that
  # ended well, so the signal (if one was sent) came after it.
  if (( rc != 0 )) && [[ -n $sent ]]; then landed=$((landed + 1))
  elif (( rc != 0 )); then not_ok "worker: the backup failed (exit $rc) with no SIG$sig sent"
  elif [[ -n $early ]]; then echo "# worker SIG$sig after ${d}s: no worker yet; another"
  else missed "worker SIG$sig after ${d}s" "$t"; fi
  check_after_kill "worker SIG$sig after ${d}s (backup command exit $rc)" "$before"
  check "worker SIG$sig after ${d}s: earlier backups byte-identical" \
    test "$(cd "$T/b" && sha256sum $(awk '{print $2}' <<<"$sums") | sort)" = "$sums"
  check "worker SIG$sig: the daemon is still running" kill -0 "$DPID"
done
check "$((KILLS - half)) kills stopped a running worker ($landed in $tries tries)" test "$landed" -eq "$((KILLS - half))"
check "after the kills: a backup through the daemon succeeds" bash -c "\"$ETCD_BACKUPCTL\" -s \"$T/control.sock\" backup >/dev/null"
kill -TERM "$DPID"; wait "$DPID"
check "daemon stops cleanly" test $? -eq 0
check "after the kills: --once succeeds" bash -c "\"$ETCD_BACKUPD\" --once -c \"$T/c.conf\" >/dev/null 2>&1"
check "no temporary file was ever left (only backups, sidecars and the directory's lock)" \
  test -z "$(ls -A "$T/b" | grep -vE '^(etcd-[0-9a-f]{16}-[0-9]{8}T[0-9]{6}Z-r[0-9]+\.db\.zst(\.json)?|\.lock)$')"
check "at the end every backup has its sidecar and every sidecar its backup" \
  bash -c 'cd "$1" && for f in *; do [[ $f == *.json ]] && { [[ -f ${f%.json} ]] || exit 1; } || [[ -f $f.json ]] || exit 1; done' _ "$T/b"
finish
