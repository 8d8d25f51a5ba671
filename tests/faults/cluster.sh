#!/usr/bin/env bash
# A three-member etcd cluster with mutual TLS: the leader killed in the
# middle of a backup taken through the daemon (the attempt fails naming the
# broken stream, the retry succeeds from another member, status and log tell
# the truth); a dead first endpoint (failover); a learner member first in
# the list (skipped: it may lag) and alone (refused, saying so); a member
# without a leader (waited for through an election, refused if none comes).
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=scripts/ports.sh
. "$TOP_SRCDIR/scripts/ports.sh"

start_etcd --members 3
load_random 80 1024
eps=$(sed 's/,/", "/g' <<<"\"$ETCD_ENDPOINTS\"")
status_json() { etcdctl --endpoints "$ETCD_ENDPOINTS" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" endpoint status -w json 2>/dev/null; }
# The leader's client URL: the member whose id is the leader.
leader=$(status_json | jq -r '.[] | select(.Status.header.member_id == .Status.leader) | .Endpoint')
check "a leader was elected ($leader)" test -n "$leader"
others=$(tr ',' '\n' <<<"$ETCD_ENDPOINTS" | grep -v "^$leader$" | sed 's/.*/"&"/' | paste -sd, | sed 's/,/, /g')
leader_pid=""
for m in "$ETCD_DIR"/member-*; do
  read -r _ port _ < "$m/info"
  [[ "https://127.0.0.1:$port" == "$leader" ]] && leader_pid=$(cat "$m/pid")
done

# 1. A learner: add a fourth member as learner and start it (while all
# three voting members are up: etcd refuses to add one otherwise).
cluster="" taken=()
for m in "$ETCD_DIR"/member-*; do
  read -r name port peer < "$m/info"; cluster+="${cluster:+,}$name=https://127.0.0.1:$peer"; taken+=("$port")
done
# The learner's ports: free, and apart from every member's (etcd refuses a
# peer URL that a member has: "Peer URLs already exists").
lport=$(free_port "${taken[@]}") || exit 1; lpeer=$((lport + 1))
live=$(tr ',' '\n' <<<"$ETCD_ENDPOINTS" | grep -v "^$leader$" | head -1)
# etcd refuses to change membership ("unhealthy cluster") until every member
# has been connected for its health interval (5 s): retry for up to 30 s.
added=false
for _ in $(seq 1 30); do
  if etcdctl --endpoints "$live" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" \
       member add learner --learner --peer-urls "https://127.0.0.1:$lpeer" >/dev/null 2>"$T/add.err"; then
    added=true; break
  fi
  grep -q "unhealthy cluster" "$T/add.err" || break
  sleep 1
done
if $added; then
  pki=$ETCD_DIR/pki/etcd
  etcd --name learner --data-dir "$T/learner" \
    --listen-client-urls "https://127.0.0.1:$lport" --advertise-client-urls "https://127.0.0.1:$lport" \
    --listen-peer-urls "https://127.0.0.1:$lpeer" --initial-advertise-peer-urls "https://127.0.0.1:$lpeer" \
    --initial-cluster "$cluster,learner=https://127.0.0.1:$lpeer" --initial-cluster-state existing \
    --client-cert-auth --trusted-ca-file "$pki/ca.crt" --cert-file "$pki/server.crt" --key-file "$pki/server.key" \
    --peer-client-cert-auth --peer-trusted-ca-file "$pki/ca.crt" --peer-cert-file "$pki/peer.crt" \
    --peer-key-file "$pki/peer.key" > "$T/learner.log" 2>&1 &
  LPID=$!; kill_at_exit "$LPID"
  for _ in $(seq 1 100); do
    etcdctl --endpoints "https://127.0.0.1:$lport" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" \
      endpoint status -w json 2>/dev/null | grep -q '"isLearner":true' && break
    sleep 0.2
  done
  { etcd_group "\"https://127.0.0.1:$lport\", \"$live\""; storage_group "$T/b3" zstd 1; } > "$T/l.conf"
  out=$("$ETCD_BACKUPD" --once -c "$T/l.conf" 2>/dev/null); rc=$?
  check "learner first: exit 0" test $rc -eq 0
  check "learner first: skipped; a voting member served the backup" \
    test "$(jq -r .endpoint "$out.json" 2>/dev/null)" = "$live"
  { etcd_group "\"https://127.0.0.1:$lport\""; storage_group "$T/b4" zstd 1; } > "$T/l2.conf"
  err=$("$ETCD_BACKUPD" --once -c "$T/l2.conf" 2>&1 >/dev/null); rc=$?
  check "learner alone: refused (exit 69)" test $rc -eq 69
  check "learner alone: says it is a learner" grep -q "is a learner" <<<"$err"
  check "learner alone: nothing written" test -z "$(dir_files "$T/b4")"
else
  not_ok "cannot add a learner at 127.0.0.1:$lpeer: $(cat "$T/add.err"); the members: $(etcdctl --endpoints "$live" \
    --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" member list 2>&1 | paste -sd' ')"
fi
# 2. The leader first in the list, killed mid-stream; one retry a second later.
{ etcd_group "\"$leader\", $others"; storage_group "$T/b" zstd 1
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = false; retry = { attempts = 2; backoff = \"1s\"; }; };"
  echo "control: { socket = \"$T/control.sock\"; group = \"\"; };"; } > "$T/d.conf"
"$ETCD_BACKUPD" -c "$T/d.conf" > "$T/daemon.log" 2>&1 & DPID=$!; kill_at_exit -9 "$DPID"
check "the daemon's control socket listens" wait_until 30 listening "$T/control.sock"
"$ETCD_BACKUPCTL" -s "$T/control.sock" backup > "$T/backup.out" 2>&1 & cpid=$!
worker=""
for _ in $(seq 1 100); do worker=$(pgrep -P "$DPID" | head -1); [[ -n $worker ]] && break; sleep 0.02; done
if [[ -n $worker ]] && wait_streaming "$worker"; then
  kill -KILL "$leader_pid"
  wait "$cpid"; rc=$?
  check "leader killed mid-backup: the request reports the failure (exit 1)" test $rc -eq 1
  check "leader killed: the error names the broken stream" grep -q "broke off" "$T/backup.out"
  # The retry's backoff, an election and a whole backup (under ASan on a loaded machine): a minute at most.
  check "leader killed: the retry succeeds from another member" wait_until 60 grep -q ' ok, rev ' "$T/daemon.log"
  new=$(ls "$T"/b/*.zst 2>/dev/null | head -1)
  check "leader killed: the retried backup came from a surviving member" \
    bash -c "[[ -n '$new' ]] && [[ \"\$(jq -r .endpoint '$new.json')\" != '$leader' ]]"
  check "leader killed: the backup verifies" quiet "$ETCD_BACKUPCTL" verify "$new"
  st=$("$ETCD_BACKUPCTL" -s "$T/control.sock" --json status)
  # Under load the first retry may also fail while the cluster elects a leader.
  nfail=$(grep -cE "broke off|no etcd endpoint answered|timed out" "$T/daemon.log")
  check "leader killed: status reports the good backup and every failed attempt ($nfail in the log; $(jq -c '{failures_total, rev: .last.revision}' <<<"$st"))" \
    jq_true ".last.revision > 0 and .failures_total == $nfail and $nfail >= 1" "$st"
else
  not_ok "leader killed: never saw the worker stream"
fi
kill -TERM "$DPID"; wait "$DPID"

# 3. The first endpoint is dead (the killed leader): failover.
{ etcd_group "\"$leader\", $others"; storage_group "$T/b2" zstd 1; } > "$T/fo.conf"
out=$("$ETCD_BACKUPD" --once -c "$T/fo.conf" 2>"$T/fo.err"); rc=$?
check "dead first endpoint: exit 0" test $rc -eq 0
[[ $rc -eq 0 ]] || sed 's/^/# /' "$T/fo.err"
check "dead first endpoint: a surviving member served it" \
  bash -c "[[ \"\$(jq -r .endpoint '$out.json' 2>/dev/null)\" != '$leader' ]] && [[ -n \"\$(jq -r .endpoint '$out.json' 2>/dev/null)\" ]]"

# 4. No leader for a while: one of the two surviving voters stopped, so the
# other loses its leader (no quorum). A backup from it waits for an election
# rather than failing at once; if none comes, it fails saying so.
a=$(tr -d '" ' <<<"$others" | cut -d, -f1); b=$(tr -d '" ' <<<"$others" | cut -d, -f2)
b_pid=""
for m in "$ETCD_DIR"/member-*; do
  read -r _ port _ < "$m/info"
  [[ "https://127.0.0.1:$port" == "$b" ]] && b_pid=$(cat "$m/pid")
done
no_leader() { # until $a answers Status without a leader; bounded to 20 s
  for _ in $(seq 1 100); do
    etcdctl --endpoints "$a" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" endpoint status -w json \
      2>/dev/null | jq -e '.[0].Status.leader // 0 | . == 0' >/dev/null && return 0
    sleep 0.2
  done
  return 1
}
{ etcd_group "\"$a\""; storage_group "$T/b5" zstd 1; } > "$T/nl.conf"
kill_at_exit -CONT "$b_pid"
kill -STOP "$b_pid"
check "no leader: $a lost its leader once $b stopped" no_leader
# $a counts the Status calls it answered (its /metrics): two more than
# before mean the backup asked, heard "no leader", and asked again. Only
# then is the election let happen.
status_calls() {
  curl -sf --max-time 5 --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" "$a/metrics" |
    awk '/^grpc_server_handled_total\{.*grpc_method="Status"/ { n += $2 } END { print n + 0 }'
}
asked_twice() { # bounded to 20 s
  for _ in $(seq 1 200); do
    (( $(status_calls) >= before + 2 )) && return 0
    sleep 0.1
  done
  return 1
}
before=$(status_calls)
"$ETCD_BACKUPD" --once -c "$T/nl.conf" > "$T/nl.out" 2> "$T/nl.err" & opid=$!
check "no leader: the backup asked $a again rather than failing" asked_twice
kill -CONT "$b_pid"
wait "$opid"; rc=$?
check "no leader, then an election: the backup waited for it and succeeded (exit $rc)" test $rc -eq 0
[[ $rc -eq 0 ]] || sed 's/^/# /' "$T/nl.err"
check "no leader, then an election: the backup verifies" quiet "$ETCD_BACKUPCTL" verify "$(cat "$T/nl.out")"
kill -STOP "$b_pid"
check "no leader again: $a lost its leader" no_leader
t0=$(date +%s.%N)
err=$("$ETCD_BACKUPD" --once -c "$T/nl.conf" 2>&1 >/dev/null); rc=$?; t1=$(date +%s.%N)
kill -CONT "$b_pid"
echo "$err" | sed 's/^/# /'
check "no leader for good: refused (exit 69)" test $rc -eq 69
check "no leader for good: says no member had a leader" grep -q "no leader.*no member had a leader for" <<<"$err"
check "no leader for good: gave up after about 10 s ($(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s)" \
  awk "BEGIN { d = $t1 - $t0; exit !(d >= 9 && d < 20) }"
check "no leader for good: only the first backup in the directory" test "$(ls "$T/b5" | grep -c '\.zst$')" = 1

finish
