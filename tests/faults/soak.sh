#!/usr/bin/env bash
# The daemon on a two-second calendar for SOAK_SECONDS (default 60) with
# keep_last = 5: every backup is reported ok, retention keeps exactly five,
# the kept backups verify, the daemon's RSS and open descriptors stay flat
# (sampled from /proc), and it exits 0 on SIGTERM (under ASan: no leak).
. "$(dirname "$0")/../integration/lib.sh"
SOAK_SECONDS=${SOAK_SECONDS:-60}

start_etcd
for i in $(seq 1 20); do ctl put "/registry/configmaps/default/cm-$i" "{\"kind\":\"ConfigMap\",\"n\":$i}" >/dev/null; done
ctl put /soak start >/dev/null
{ etcd_group; storage_group "$T/b" zstd 3
  echo 'schedule: { calendar = "*:*:0/2"; persistent = true; retry = { attempts = 0; backoff = "1s"; }; };'
  echo 'retention: { keep_last = 5; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; };'
  echo "control: { socket = \"$T/control.sock\"; group = \"\"; };"; } > "$T/c.conf"

"$ETCD_BACKUPD" -c "$T/c.conf" > "$T/daemon.log" 2>&1 & DPID=$!; kill_at_exit -9 "$DPID"
# RSS and open descriptors, taken while no backup runs (a running job holds
# its worker's pipe open). A job may start between a look for the worker and
# the reading (the calendar ticks every 2 s), so only readings with no worker
# before and after count, and the descriptors are the fewest of up to five
# such readings within 3 s: a job's pipe comes and goes, a leaked one stays.
sample() {
  local rss="" fds="" n r idle=0
  for _ in $(seq 1 30); do
    if [[ -z $(pgrep -P "$DPID") ]]; then
      r=$(awk '/^VmRSS/ {print $2}' /proc/"$DPID"/status); n=$(ls /proc/"$DPID"/fd | wc -l)
      if [[ -z $(pgrep -P "$DPID") ]]; then
        rss=$r; [[ -z $fds || $n -lt $fds ]] && fds=$n
        idle=$((idle + 1)); [[ $idle -ge 5 ]] && break
      fi
    fi
    sleep 0.1
  done
  echo "${rss:-$(awk '/^VmRSS/ {print $2}' /proc/"$DPID"/status)} ${fds:-$(ls /proc/"$DPID"/fd | wc -l)}"
}
# The first sample after the first backups are done (up to 20 s): the
# persistent catch-up and two scheduled runs.
for _ in $(seq 1 200); do [[ $(grep -c ' ok, rev ' "$T/daemon.log") -ge 3 ]] && break; sleep 0.1; done
read -r rss0 fds0 <<<"$(sample)"
start_s=$(date +%s)
end=$(( start_s + SOAK_SECONDS ))
rss_max=$rss0 fds_max=$fds0 writes=0 rss_warm=""
while [[ $(date +%s) -lt $end ]]; do
  sleep 5
  kill -0 "$DPID" || break
  writes=$((writes + 1)); ctl put /soak "$writes" >/dev/null
  read -r rss fds <<<"$(sample)"
  ((rss > rss_max)) && rss_max=$rss
  ((fds > fds_max)) && fds_max=$fds
  # After a third of the run: allocator caches (and, under ASan, its
  # quarantine) have settled; growth after this point would be a leak.
  [[ -z $rss_warm && $(date +%s) -ge $((start_s + SOAK_SECONDS / 3)) ]] && rss_warm=$rss
done
rss_warm=${rss_warm:-$rss0}
read -r rss1 fds1 <<<"$(sample)"
kill -TERM "$DPID"; wait "$DPID"; rc=$?
n_ok=$(grep -c ' ok, rev ' "$T/daemon.log")
n_failed=$(grep -c 'backup failed\|Backup failed' "$T/daemon.log")
echo "# ${SOAK_SECONDS}s: $n_ok backups ok, $n_failed failed; RSS ${rss0}→${rss_warm}→${rss1} KiB (start, a third in, end; max $rss_max), fds ${fds0}→${fds1} (max $fds_max)"
check "backups kept coming (at least one per 3 s: $n_ok)" test "$n_ok" -ge $((SOAK_SECONDS / 3))
check "no backup failed" test "$n_failed" -eq 0
# The stop comes at any moment: one after a backup's link waits for the
# publish and may cut that backup's retention (said so), leaving a sixth.
cut=$(grep -c 'Backup published, its retention or upload cut short' "$T/daemon.log")
n_kept=$(ls "$T/b" | grep -vc json)
check "retention kept exactly five backups ($n_kept; a sixth only if the stop cut the last one's retention: $cut)" \
  test "$n_kept" = 5 -o "$n_kept$cut" = 61
check "every sidecar has its backup and back" test "$(ls "$T/b" | grep -c json)" = "$n_kept"
for f in "$T"/b/*.zst; do check "kept backup verifies: $(basename "$f")" quiet "$ETCD_BACKUPCTL" verify "$f"; done
check "pruned entries were logged" test "$(grep -c 'Pruned etcd-' "$T/daemon.log")" -ge $((n_ok - 5))
check "RSS flat (end $rss1 KiB ≤ $rss_warm KiB a third in + 4 MiB)" test "$rss1" -le $((rss_warm + 4096))
check "descriptors flat (end $fds1 ≤ start $fds0)" test "$fds1" -le "$fds0"
check "SIGTERM: exit 0 (and no leak report under ASan)" test "$rc" -eq 0
check "no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$T/daemon.log'"
finish
