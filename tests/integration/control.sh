#!/usr/bin/env bash
# The control socket under socket activation (systemd-socket-activate
# passes the listener as "control"): the first connection starts the
# daemon; status, list, backup and prune work end to end against a real TLS
# etcd; abuse (invalid JSON, wrong shapes, binary junk, a 1 MiB line, half a
# request, 200 concurrent clients beside a CPU burner, a client that never
# reads) gets errors or a disconnect while the daemon keeps answering and
# leaks no descriptor; a user who is neither root nor in control.group is
# refused.
. "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || { echo "systemd-socket-activate missing"; exit 1; }

start_etcd
ctl put /registry/pods/default/p1 x >/dev/null
# The socket lives in a directory others may enter, so that the peer
# credential check (not only file permissions) is what refuses strangers.
sockdir=$(mktemp -d /tmp/etcd-backupd-sock.XXXXXX); chmod 0755 "$sockdir"; CLEANUP+=("rm -rf '$sockdir'")
sock=$sockdir/control.sock
{ etcd_group; storage_group "$T/b" zstd 1
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = false; };"
  echo "control: { socket = \"$sock\"; group = \"\"; };"; } > "$T/c.conf"
# etcd is held for a moment below; the connection waits for it.
sed -i 's/connect_timeout = "2s"/connect_timeout = "60s"/' "$T/c.conf"
BCTL=("$ETCD_BACKUPCTL" -c "$T/c.conf")

systemd-socket-activate -l "$sock" --fdname=control "$ETCD_BACKUPD" -c "$T/c.conf" > "$T/daemon.log" 2>&1 &
SA=$!; kill_at_exit "$SA"
check "the socket listens before the daemon runs" wait_until 5 listening "$sock"
check "no daemon yet" test -z "$(grep 'control socket' "$T/daemon.log")"

out=$("${BCTL[@]}" status 2>&1); rc=$?
check "first connection starts the daemon; status answers" test $rc -eq 0
check "the daemon uses the passed socket" grep -q "passed by systemd" "$T/daemon.log"
check "status: idle, no backup yet" grep -q "^State: *idle" <<<"$out"
json=$("${BCTL[@]}" --json status)
check "status --json has state, last, next" jq_true 'has("state") and has("last") and has("next")' "$json"

out=$("${BCTL[@]}" backup 2>&1); rc=$?
check "backup: exit 0" test $rc -eq 0
check "backup: plain progress lines when piped" grep -qE '^stream [0-9]+% ' <<<"$out"
path=$(grep -o '/[^ ]*\.db\.zst' <<<"$out" | head -1)
check "backup: the file exists and zstd -t accepts it" zstd -q -t "$path"
json=$("${BCTL[@]}" --json backup 2>/dev/null)
check "backup --json: the new backup's sidecar" jq_true '.revision > 0 and (.name | startswith("etcd-"))' "$json"
json=$("${BCTL[@]}" --json list)
check "list --json: array of two sidecars" test "$(jq 'length' <<<"$json")" = 2
check "list: table with the backups" test "$("${BCTL[@]}" list | grep -c '^etcd-')" = 2
json=$("${BCTL[@]}" --json prune --dry-run)
check "prune --dry-run --json: {keep, delete}" jq_true 'has("keep") and has("delete")' "$json"
names=$("${BCTL[@]}" --json list | jq -r '.[].name' | sort)
check "prune --dry-run: keep and delete name exactly the backups listed" \
  test "$(jq -r '(.keep + .delete)[]' <<<"$json" | sort)" = "$names" -a -n "$names"
check "prune --dry-run: nothing deleted" test "$("${BCTL[@]}" --json list | jq -r '.[].name' | sort)" = "$names"
check "status: last backup reported" grep -q "revision" <<<"$("${BCTL[@]}" status)"

# The directory changed behind the daemon (a backup moved away by hand, then
# back, one copied in without its sidecar): list says what is there now.
listed() { "${BCTL[@]}" --json list | jq -r '.[].name' | sort; }
first=$(head -1 <<<"$names")
mkdir "$T/aside" && mv "$T/b/$first" "$T/b/$first.json" "$T/aside/"
check "list: a backup moved away by hand is no longer listed" test "$(listed)" = "$(grep -vxF "$first" <<<"$names")"
mv "$T/aside/$first" "$T/aside/$first.json" "$T/b/"
check "list: moved back, it is listed again" test "$(listed)" = "$names"
copy=etcd-0000000000000001-20200101T000000Z-r1.db.zst
cp "$T/b/$first" "$T/b/$copy"
check "list: a backup copied in without its sidecar is listed as such" \
  grep -qE "^$copy .*\(no sidecar\)\$" <<<"$("${BCTL[@]}" list)"
rm "$T/b/$copy"
check "list: removed again, the listing is as before" test "$(listed)" = "$names"
# A directory that cannot be read is said, not answered with the listing
# the daemon had.
mv "$T/b" "$T/b.gone"
out=$("${BCTL[@]}" list 2>&1); rc=$?
check "list: the directory gone, exit 1 naming it and why ($rc: $out)" \
  test $rc -eq 1 -a -n "$(grep -F "cannot open backup directory $T/b: No such file or directory" <<<"$out")"
mv "$T/b.gone" "$T/b"; chmod 0770 "$T/b"
out=$("${BCTL[@]}" list 2>&1); rc=$?
check "list: the directory group-writable, exit 1 naming it ($rc: $out)" \
  test $rc -eq 1 -a -n "$(grep -F "backup directory $T/b is group- or world-writable (mode 0770); refusing it" <<<"$out")"
chmod 0700 "$T/b"
check "list: the directory mended, the listing is as before" test "$(listed)" = "$names"

# Joining: a client that asks while a backup runs gets that backup. etcd
# (ours) is held with SIGSTOP, so the first backup is still connecting when
# the second client asks, however loaded the machine (its connect_timeout is
# 60 s here), and let go once the second client has been answered with the
# running backup's progress.
kill_at_exit -CONT $ETCD_PIDS
kill -STOP $ETCD_PIDS
"${BCTL[@]}" --json backup > "$T/j1" 2>/dev/null & j1=$!
running() { [[ $("${BCTL[@]}" --json status 2>/dev/null | jq -r .state) == running ]]; }
check "two backup requests: the first one's backup runs (etcd held)" wait_until 30 running
"${BCTL[@]}" backup > "$T/j2" 2>&1 & j2=$!
check "two backup requests: the second client is answered with its progress" wait_until 30 test -s "$T/j2"
kill -CONT $ETCD_PIDS
wait $j1; rc1=$?; wait $j2; rc2=$?
check "two backup requests: both succeed" test $rc1 -eq 0 -a $rc2 -eq 0 -a -s "$T/j1"
check "two backup requests: joined, the same backup ($(jq -r .name "$T/j1" 2>/dev/null))" \
  grep -q "^Backup $T/b/$(jq -r .name "$T/j1" 2>/dev/null) ok" "$T/j2"
check "two backup requests: one backup made for both" test "$("${BCTL[@]}" --json list | jq length)" = 3

# While a backup runs (etcd held again): one connection asking three times
# is subscribed once (one result, not three), and a client that joins,
# reads a line and closes is let go (before, epoll's hangup was reported on
# every turn of the loop: the daemon spun at a full core until the backup
# ended). The result is followed by a Status answer on the same connection,
# so any second copy of it would come before that.
# systemd-socket-activate (without --accept) execs the daemon in its own
# process: SA is the daemon (its children are backup workers).
dpid=$SA
check "the activator is the daemon now" test "$(cat /proc/"$SA"/comm 2>/dev/null)" = etcd-backupd
cat > "$T/dup.py" <<'PY'
import json, os, signal, socket, sys, time
sock, dpid, etcd = sys.argv[1], int(sys.argv[2]), [int(p) for p in sys.argv[3].split()]
def lines(s):
    buf = b""
    while True:
        while b"\n" not in buf:
            d = s.recv(65536)
            if not d:
                return
            buf += d
        line, buf = buf.split(b"\n", 1)
        yield json.loads(line)
def ticks():
    f = open("/proc/%d/stat" % dpid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
a = socket.socket(socket.AF_UNIX); a.settimeout(60); a.connect(sock)
a.sendall(b'{"method":"Backup"}\n'); ra = lines(a)
while "progress" not in next(ra): pass
for _ in range(2):
    a.sendall(b'{"method":"Backup"}\n')
    while "progress" not in next(ra): pass
b = socket.socket(socket.AF_UNIX); b.settimeout(60); b.connect(sock)
b.sendall(b'{"method":"Backup"}\n'); next(lines(b)); b.close()
t0 = ticks(); time.sleep(2); spent = ticks() - t0
for p in etcd: os.kill(p, signal.SIGCONT)
results = 0
for o in ra:
    if "result" in o:
        results += 1
        if results == 1:
            a.sendall(b'{"method":"Status"}\n')
    elif "state" in o:
        break
print(results, spent)
PY
kill -STOP $ETCD_PIDS
read -r results spent < <(timeout 90 python3 "$T/dup.py" "$sock" "$dpid" "$ETCD_PIDS" 2>"$T/dup.err")
kill -CONT $ETCD_PIDS
check "Backup asked three times on one connection: one result (${results:-none})" test "${results:-0}" = 1
check "a client that joined and closed is let go: daemon CPU in 2 s ${spent:-?} ticks (< 40)" \
  test -n "$spent" -a "${spent:-99}" -lt 40

dpid=$SA
fds_before=$(ls /proc/"$dpid"/fd | wc -l)

send() { timeout 5 socat -t2 - UNIX-CONNECT:"$sock" 2>/dev/null; }
check "invalid JSON: error object" grep -q '"error":"invalid_json"' <<<"$(echo '{"method":' | send)"
check "wrong shape: error object" grep -q '"error":"invalid_request"' <<<"$(echo '[1,2,3]' | send)"
check "unknown method: error object" grep -q '"error":"unknown_method"' <<<"$(echo '{"method":"Drop"}' | send)"
check "bad parameter: error object" grep -q '"error":"invalid_request"' <<<"$(echo '{"method":"Prune","dry_run":5}' | send)"
out=$(printf '%s\n%s\n%s\n' 'junk' '{"method":"Status"}' '"x"' | send)
check "connection stays usable after an error" test "$(grep -c '"error"' <<<"$out")" = 2 -a "$(grep -c '"state"' <<<"$out")" = 1
out=$(head -c 20000 /dev/urandom | send)
check "binary junk: answered with errors, not a crash" kill -0 "$dpid"
out=$( { head -c $((1024 * 1024)) /dev/zero | tr '\0' a; echo; echo '{"method":"Status"}'; } | send)
check "1 MiB line: too_large, then the connection still answers" \
  test "$(grep -c '"error":"too_large"' <<<"$out")" = 1 -a "$(grep -c '"state"' <<<"$out")" = 1
printf '{"method":"Sta' | timeout 5 socat -u - UNIX-CONNECT:"$sock"
check "half a request then close: daemon alive" kill -0 "$dpid"
# A client that asks and never reads: dropped once its replies pass the bound.
( yes '{"method":"List"}' | head -n 200000 | timeout 20 socat -u - UNIX-CONNECT:"$sock" ) >/dev/null 2>&1 &
nr=$!
# Beside a CPU burner (two busy loops, bounded, stopped by PID): the loaded
# machine the 200 clients must still all be answered on.
burners=()
for _ in 1 2; do timeout 120 bash -c 'while :; do :; done' & burners+=($!); done
burner_ids=("$(proc_id "${burners[0]}")" "$(proc_id "${burners[1]}")")
kill_at_exit "${burners[@]}"
pids=()
for i in $(seq 1 200); do
  ( echo '{"method":"Status"}' | timeout 20 socat -t5 - UNIX-CONNECT:"$sock" > "$T/c$i.out" 2>/dev/null ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
answered=$(grep -l '"state"' "$T"/c*.out | wc -l)
signal_proc -TERM "${burner_ids[@]}"; wait "${burners[@]}" 2>/dev/null
check "200 concurrent clients all answered ($answered)" test "$answered" = 200
wait $nr 2>/dev/null
check "after the abuse: status still answers" quiet "${BCTL[@]}" status
# The daemon closes the abusers' connections as it sees them go: wait for
# that (up to 5 s) rather than for a fixed time.
for _ in $(seq 1 50); do [[ $(ls /proc/"$dpid"/fd | wc -l) -le $fds_before ]] && break; sleep 0.1; done
fds_after=$(ls /proc/"$dpid"/fd | wc -l)
check "no descriptor leaked ($fds_before before, $fds_after after)" test "$fds_after" -le "$fds_before"

# Neither root nor in the socket file's group (0660, as the shipped socket
# unit makes it): the kernel refuses the connection; said as a refusal
# with the group to join, exit 77, not as a daemon that does not run, and
# list does not go on to the directory.
chgrp users "$sock"; chmod 0660 "$sock"
for cmd in status list; do
  out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$ETCD_BACKUPCTL" -s "$sock" $cmd 2>&1); rc=$?
  check "nobody, the socket's mode refusing: $cmd exits 77 ($rc), naming the group to join ($out)" \
    eval 'test $rc -eq 77 && grep -qF "the control socket $sock refused this user: Permission denied; only root and members of its group (users) may use it" <<<"$out" && ! grep -q "reading the backup directory" <<<"$out"'
done
# Neither root nor in control.group: refused, and the attempt is logged.
# The socket is made connectable by anyone, as a wrong SocketMode= would.
chmod 0666 "$sock"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$ETCD_BACKUPCTL" -s "$sock" status 2>&1); rc=$?
check "nobody: refused with exit 77" test $rc -eq 77
check "nobody: says access denied" grep -q "access_denied" <<<"$out"
# Logged after the refusal is sent and the connection closed.
check "nobody: the attempt is logged" wait_until 10 grep -q "access denied to uid 65534" "$T/daemon.log"

# A flood of refused connections is not a flood of log lines: a few a
# minute one by one, the rest counted and logged as one line (at the
# minute's end, or when the daemon stops). Each connection waits for its
# refusal, so the daemon has seen every one before it is stopped.
setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 - "$sock" <<'PY'
import socket, sys
for i in range(200):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sys.argv[1])
    got = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
    s.close()
    assert b"access_denied" in got, got
PY
check "a flood of 200 refused connections: each was refused" test $? -eq 0

# A big answer read slowly: 3,000 backups with their sidecars (about 1.5 MB
# of List, far more than the socket buffers) taken at 40 KB a second, past
# the idle timeout (30 s) after the request. Taking the answer is activity:
# the daemon sends all of it (it used to close the connection 30 s after
# the request, the answer cut). The pace is the client's, not a wait.
real=$(ls "$T/b" | grep '\.db\.zst$' | head -1)
fake_backups() { # N
  python3 - "$T/b" "$real" "$1" <<'PY'
import json, os, re, sys
d, real, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sc = json.load(open(os.path.join(d, real + ".json")))
for i in range(1, n + 1):
    name = re.sub(r"^etcd-[0-9a-f]{16}-(.*)-r[0-9]+(\..*)$", r"etcd-00000000000000ab-\1-r%d\2" % i, real)
    open(os.path.join(d, name), "wb").close()
    sc["name"] = name
    with open(os.path.join(d, name + ".json"), "w") as f:
        json.dump(sc, f)
PY
}
fake_backups 3000
slow=$(python3 - "$sock" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
t0 = time.monotonic()
s.sendall(b'{"method":"List"}\n')
got = b""
while not got.endswith(b"\n"):
    b = s.recv(40000)
    if not b:
        break
    got += b
    time.sleep(1)
took = time.monotonic() - t0
try:
    n = len(json.loads(got)["backups"])
except Exception:
    n = -1
print(json.dumps({"bytes": len(got), "seconds": round(took, 1), "backups": n}))
PY
)
echo "# slow reader: $slow"
check "a List of 1.5 MB read at 40 KB/s: all of it, past the idle timeout ($slow)" \
  jq_true '.backups > 3000 and .bytes > 1000000 and .seconds > 31' "$slow"

# More backups than one answer of the socket holds (10,000 with their
# sidecars, about 5 MB of List): the daemon answers too_large (it closed
# the connection without a word), and etcd-backupctl list reads the
# directory instead, saying so.
fake_backups 10000
answer=$(python3 - "$sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(sys.argv[1])
s.sendall(b'{"method":"List"}\n')
got = b""
while not got.endswith(b"\n"):
    b = s.recv(65536)
    if not b:
        break
    got += b
print(got.decode()[:300])
PY
2>&1)
check "10,000 backups: List answers too_large ($answer)" jq_true '.error == "too_large"' "$answer"
jq_true '.error == "too_large"' "$answer" || tail -5 "$T/daemon.log" | sed 's/^/# /'
out=$("${BCTL[@]}" list 2>&1); rc=$?
check "10,000 backups: list reads the directory instead (exit $rc), saying so" \
  test $rc -eq 0 -a -n "$(grep -x "etcd-backupctl: the daemon's listing is too large for its socket; reading the backup directory" <<<"$out")"
check "... and lists them all" test "$(grep -c 'etcd-00000000000000ab-' <<<"$out")" = 10000
check "... the daemon still answers" quiet "${BCTL[@]}" status
find "$T/b" -name 'etcd-00000000000000ab-*' -delete

kill -TERM "$dpid"; wait "$SA" 2>/dev/null
check "daemon exits on SIGTERM" test ! -e "/proc/$dpid"
one_by_one=$(grep -c "access denied to uid 65534" "$T/daemon.log")
counted=$(grep -o "access denied [0-9]* more times\? in the last minute, the last to uid 65534" "$T/daemon.log" |
          awk '{ n += $3 } END { print n + 0 }')
check "the flood: at most 5 refusals a minute logged one by one ($one_by_one)" test "$one_by_one" -le 10
check "the flood: the rest counted ($one_by_one + $counted = 201)" test $((one_by_one + counted)) -eq 201
check "the flood: the last logged one says the rest are counted" \
  grep -q "access denied to uid 65534 (pid [0-9]*): not root and not in the control group; more this minute are counted" \
  "$T/daemon.log"
out=$("${BCTL[@]}" -s "$T/nothing.sock" status 2>&1); rc=$?
check "daemon unreachable: exit 69" test $rc -eq 69
finish
