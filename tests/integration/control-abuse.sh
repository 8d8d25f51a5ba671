#!/usr/bin/env bash
# The control socket under abuse by a member of control.group, with the
# daemon at the file limit systemd gives it (1024):
# - the member may read (Status, List) and start a Backup at most once per
#   control.backup_min_interval; Prune is root's; joining is free;
# - the member holds 2,000 connections: the daemon keeps 16 of them, closes
#   them after the idle timeout (30 s), root's `status` answers within a
#   second all along, the scheduled backups go on, and the daemon neither
#   spins nor runs out of descriptors;
# - the backup worker holds none of the daemon's descriptors (sockets,
#   epoll, signalfd, timers): only its pipe, the lock and its own files;
# - when accept() does run out of descriptors (the limit lowered under the
#   running daemon), the daemon stops accepting instead of spinning, says so,
#   and accepts again once descriptors are free;
# - a byte the member sends out of band (MSG_OOB) makes the daemon neither
#   spin nor drop the connection;
# - a reload that takes the group away closes the member's open connection;
#   one after the socket was replaced by a symbolic link (its directory
#   writable by others) changes neither the link's target nor anything else.
. "$(dirname "$0")/lib.sh"
: "${NOTIFY_RECV:?}"
command -v prlimit >/dev/null || { echo "prlimit missing"; exit 1; }

start_etcd
load_random 40 1024 # a 40 MiB db: a backup lasts long enough to look at its worker
sockdir=$(mktemp -d /tmp/etcd-backupd-sock.XXXXXX); chmod 0755 "$sockdir"; CLEANUP+=("rm -rf '$sockdir'")
sock=$sockdir/control.sock
# nogroup (65534) stands in for etcd-backup-ctl; uid 65534 is its member.
MEMBER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
conf() { # CALENDAR
  etcd_group; storage_group "$T/b" zstd 1
  echo "schedule: { calendar = \"$1\"; persistent = false; retry = { attempts = 0; backoff = \"1s\"; }; };"
  echo 'retention: { keep_last = 3; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; };'
  echo "control: { socket = \"$sock\"; group = \"nogroup\"; backup_min_interval = \"1h\"; };"
}
conf "*-*-* $DAILY" > "$T/c.conf"
# The soft file limit systemd gives a service; hold.py raises its own.
ulimit -Sn 1024
daemon_start "$T/c.conf"
check "daemon ready (READY=1)" wait_until 10 grep -q '^READY=1$' "$T/notify.log"
check "socket 0660, group nogroup" test "$(stat -c '%a %G' "$sock")" = "660 nogroup"

# ---- least privilege for the group's members ----

out=$("${MEMBER[@]}" "$ETCD_BACKUPCTL" -s "$sock" status 2>&1); rc=$?
check "member: status (exit $rc)" test $rc = 0
out=$("${MEMBER[@]}" "$ETCD_BACKUPCTL" -s "$sock" list --json 2>&1); rc=$?
check "member: list through the daemon (exit $rc)" test $rc = 0 -a "$(jq -r type <<<"$out" 2>/dev/null)" = array
out=$("${MEMBER[@]}" "$ETCD_BACKUPCTL" -s "$sock" prune --dry-run 2>&1); rc=$?
check "member: prune refused (exit $rc)" test $rc = 1
check "member: prune says 'permission denied: Prune is root only'" grep -q 'permission denied: Prune is root only' <<<"$out"
out=$("${MEMBER[@]}" "$ETCD_BACKUPCTL" -s "$sock" --json backup 2>&1); rc=$?
check "member: a first backup (exit $rc)" test $rc = 0
check "list: the member's backup is listed without a directory read" \
  test "$("$ETCD_BACKUPCTL" -s "$sock" --json list | jq length)" = 1
out=$("${MEMBER[@]}" "$ETCD_BACKUPCTL" -s "$sock" backup 2>&1); rc=$?
check "member: a second backup within backup_min_interval is refused (exit $rc)" test $rc = 1
check "member: says 'rate limited: next backup allowed at …'" \
  grep -qE 'rate limited: next backup allowed at [0-9]{4}-[0-9]{2}-[0-9]{2}T' <<<"$out"
out=$("$ETCD_BACKUPCTL" -s "$sock" backup 2>&1); rc=$?
check "root: not rate limited (exit $rc)" test $rc = 0
out=$("$ETCD_BACKUPCTL" -s "$sock" --json prune --dry-run 2>&1); rc=$?
check "root: prune --dry-run (exit $rc)" jq_true '(.keep | length) == 2' "$out"

# ---- a client that half-closes after its Backup ----
# A asks for a backup and shuts its writing side (as `socat` or `nc -N`
# do), B joins the same backup; both get the result, and the daemon lives
# (A's connection closed as the subscribers were released, which then
# released it a second time: a use after free).
cat > "$sockdir/halfclose.py" <<'EOF'
import json, socket, sys
def lines(s):
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield json.loads(line)
a = socket.socket(socket.AF_UNIX); a.settimeout(120); a.connect(sys.argv[1])
a.sendall(b'{"method":"Backup"}\n'); a.shutdown(socket.SHUT_WR); ra = lines(a)
while "progress" not in next(ra): pass
b = socket.socket(socket.AF_UNIX); b.settimeout(120); b.connect(sys.argv[1])
b.sendall(b'{"method":"Backup"}\n')
got = [any("result" in o for o in lines(b)), any("result" in o for o in ra)]
print(" ".join("result" if g else "none" for g in got))
EOF
read -r res_b res_a < <(timeout 150 python3 "$sockdir/halfclose.py" "$sock" 2>"$T/halfclose.err")
check "half-closed A and joined B: both got the result (B ${res_b:-?}, A ${res_a:-?})" \
  test "$res_b $res_a" = "result result"
check "half-closed A: root's status answers" quiet "$ETCD_BACKUPCTL" -s "$sock" status
check "half-closed A: the daemon still runs" kill -0 "$DPID"

# ---- 2,000 connections from the member ----

# Scheduled backups every 5 s from now on.
conf '*:*:0/5' > "$T/c.conf"
kill -HUP "$DPID"
check "reload to a 5 s calendar" wait_until 10 grep -q 'Reloaded ' "$T/daemon.log"

cat > "$sockdir/hold.py" <<'EOF'
# Opens N connections to SOCKET and holds them for SECONDS, reading what
# comes; prints one JSON object: how many were opened, answered "busy" and
# closed by the daemon, and when the quiet ones were closed.
import json, resource, selectors, socket, sys, time
path, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
sel, opened, start = selectors.DefaultSelector(), 0, time.monotonic()
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(path)
    except OSError:
        s.close(); continue
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, {"t": time.monotonic(), "data": b""})
    opened += 1
print(json.dumps({"opened": opened}), flush=True)
busy = closed_quiet = 0
quiet_after = []
end = start + seconds
while time.monotonic() < end and sel.get_map():
    for key, _ in sel.select(timeout=max(0.0, end - time.monotonic())):
        try:
            d = key.fileobj.recv(4096)
        except OSError:
            d = b""
        if d:
            key.data["data"] += d
            continue
        if b'"busy"' in key.data["data"]:
            busy += 1
        else:
            closed_quiet += 1
            quiet_after.append(round(time.monotonic() - key.data["t"], 1))
        sel.unregister(key.fileobj); key.fileobj.close()
print(json.dumps({"opened": opened, "busy": busy, "closed_quiet": closed_quiet,
                  "held_at_end": len(sel.get_map()), "quiet_after": sorted(quiet_after)}), flush=True)
EOF
chmod 0644 "$sockdir/hold.py"
"${MEMBER[@]}" /usr/bin/python3 "$sockdir/hold.py" "$sock" 2000 45 > "$T/hold.out" 2> "$T/hold.err" &
HOLD=$!; kill_at_exit "$HOLD"
check "member: 2,000 connections opened" wait_until 60 grep -q '"opened": 2000' "$T/hold.out"
since=$(grep -c 'backup started (scheduled)' "$T/daemon.log")
cpu0=$(awk '{ print $14 + $15 }' "/proc/$DPID/stat"); t0=$SECONDS
failed=0
for i in $(seq 1 10); do
  s=$(date +%s%N)
  quiet "$ETCD_BACKUPCTL" -s "$sock" --timeout 5 status || failed=$((failed + 1))
  echo "# root: etcd-backupctl status $i: $((($(date +%s%N) - s) / 1000000)) ms"
done
check "root: etcd-backupctl status answers 10 of 10 times while the member holds 2,000 connections" test $failed = 0
# The daemon's part, without the tool's own start-up (slow under ASan):
# from connect() to the answer's last byte.
cat > "$sockdir/probe.py" <<'EOF'
import socket, sys, time
worst = 0.0
for _ in range(int(sys.argv[2])):
    t = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sys.argv[1])
    s.sendall(b'{"method":"Status"}\n')
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    if b'"state"' not in data:
        print("no answer"); sys.exit(1)
    worst = max(worst, time.monotonic() - t)
print(int(worst * 1000))
EOF
worst=$(/usr/bin/python3 "$sockdir/probe.py" "$sock" 20)
TIME_SCALE_CA=${TIME_SCALE:-1}  # a second, as long again under the sanitizers' scale
check "root: Status answered within $((TIME_SCALE_CA)) s, 20 of 20 times (slowest ${worst:-?} ms)" test "${worst:-99999}" -lt $((1000 * TIME_SCALE_CA))
fds=$(ls "/proc/$DPID/fd" | wc -l)
check "daemon: $fds descriptors open, far below its limit of 1024" test "$fds" -lt 100
count() { grep -c "$1" "$T/daemon.log"; }
more() { [[ $(count "$1") -gt $2 ]]; }
ok_before=$(count ' ok, rev ')
check "a scheduled backup starts under the abuse" wait_until 30 more 'backup started (scheduled)' "$since"
check "and succeeds" wait_until 60 more ' ok, rev ' "$ok_before"

# The worker of that backup (or the next) keeps none of the daemon's descriptors.
worker=""
for _ in $(seq 1 3); do
  wait_until 20 more 'worker pid' "$(count 'worker pid')" || break
  worker=$(grep -o 'worker pid [0-9]*' "$T/daemon.log" | tail -1 | grep -o '[0-9]*$')
  wait_streaming "$worker" && stop_running "$worker" && break
  worker=""
done
if [[ -n $worker ]]; then
  targets() { for f in /proc/"$1"/fd/*; do [[ ${f##*/} -gt 2 ]] && readlink "$f"; done | sort -u; }
  targets "$DPID" > "$T/fd.daemon"; targets "$worker" > "$T/fd.worker"
  kill -CONT "$worker"
  # Sockets have inode numbers to compare; every epoll, signalfd or timerfd
  # reads alike, and the job makes none of its own.
  shared=$( (comm -12 "$T/fd.daemon" "$T/fd.worker" | grep '^socket:'
             grep -E '^anon_inode:\[(eventpoll|signalfd|timerfd)\]' "$T/fd.worker") | tr '\n' ' ')
  check "worker $worker: none of the daemon's sockets, epoll, signalfd or timers (${shared:-none})" test -z "$shared"
  n=$(wc -l < "$T/fd.worker")
  check "worker: $n descriptors besides 0-2 (the daemon has $(wc -l < "$T/fd.daemon"))" test "$n" -le 12
  sed 's/^/# worker fd: /' "$T/fd.worker"
else
  not_ok "a backup worker to look at"
fi

wait "$HOLD"
tail -1 "$T/hold.out" | sed 's/^/# /'
res=$(tail -1 "$T/hold.out")
check "the daemon kept 16 of the member's connections, told the rest it is busy" \
  jq_true '.busy == .opened - 16' "$res"
check "the 16 idle ones were closed after the idle timeout (30 s)" \
  jq_true '.closed_quiet == 16 and (.quiet_after | min) >= 29 and (.quiet_after | max) <= 40' "$res"
cpu1=$(awk '{ print $14 + $15 }' "/proc/$DPID/stat"); t1=$SECONDS
tick=$(getconf CLK_TCK)
check "daemon CPU during the abuse: $(((cpu1 - cpu0) * 100 / tick / (t1 - t0 + 1)))% of a core (under 20%)" \
  test $(((cpu1 - cpu0) * 100 / tick)) -lt $(((t1 - t0 + 1) * 20))

# ---- out of descriptors ----

conf "*-*-* $DAILY" > "$T/c.conf"
kill -HUP "$DPID"
wait_until 10 more 'Reloaded ' 1
base=$(ls "/proc/$DPID/fd" | wc -l)
prlimit --pid "$DPID" --nofile=$((base + 5)):$((base + 5))
/usr/bin/python3 "$sockdir/hold.py" "$sock" 40 12 > "$T/root-hold.out" 2>&1 &
RHOLD=$!; kill_at_exit "$RHOLD"
check "root holds 40 connections against a limit of $((base + 5))" wait_until 10 grep -q '"opened"' "$T/root-hold.out"
check "EMFILE: the daemon says it stopped accepting" wait_until 10 grep -q 'out of file descriptors; not accepting' "$T/daemon.log"
cpu0=$(awk '{ print $14 + $15 }' "/proc/$DPID/stat")
sleep 3 # a measuring interval, not a wait for anything
cpu1=$(awk '{ print $14 + $15 }' "/proc/$DPID/stat")
check "EMFILE: the daemon does not spin ($((cpu1 - cpu0)) ticks of $tick a second, in 3 s)" test $((cpu1 - cpu0)) -lt $((tick / 5))
wait "$RHOLD"
prlimit --pid "$DPID" --nofile=1024:1024
check "descriptors free again: root's status answers" quiet "$ETCD_BACKUPCTL" -s "$sock" --timeout 10 status
check "the daemon is still running" kill -0 "$DPID"

# ---- a byte out of band ----
# A member sends one byte with MSG_OOB and holds the connection: the daemon
# takes it as part of the next line (SO_OOBINLINE), neither spinning on a
# socket epoll calls readable where a peek finds nothing, nor losing the
# connection; the request after it is answered.
cat > "$sockdir/oob.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(sys.argv[1])
s.send(b"x", socket.MSG_OOB)
print("sent", flush=True)
sys.stdin.readline()  # the measurement is done
s.sendall(b'{"method":"Status"}\n'); buf = b""
while b"\n" not in buf:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print("answer " + buf.decode(errors="replace").strip(), flush=True)
EOF
chmod 0644 "$sockdir/oob.py"
mkfifo "$T/oob.in"
"${MEMBER[@]}" /usr/bin/python3 "$sockdir/oob.py" "$sock" < "$T/oob.in" > "$T/oob.out" 2>&1 &
OOB=$!; kill_at_exit "$OOB"
exec {oobw}> "$T/oob.in"
check "out of band: the member sent its byte" wait_until 10 grep -q '^sent$' "$T/oob.out"
cpu0=$(awk '{ print $14 + $15 }' "/proc/$DPID/stat")
sleep 3 # a measuring interval, not a wait for anything
cpu1=$(awk '{ print $14 + $15 }' "/proc/$DPID/stat")
check "out of band: the daemon does not spin ($((cpu1 - cpu0)) ticks of $tick a second, in 3 s)" \
  test $((cpu1 - cpu0)) -lt $((tick / 5))
echo >&"$oobw"; exec {oobw}>&-
wait "$OOB"
check "out of band: the line with the byte in it is answered as the invalid request it is ($(tail -1 "$T/oob.out"))" \
  grep -q '^answer {"error":"invalid_json"' "$T/oob.out"
check "out of band: the daemon is still running" kill -0 "$DPID"

# ---- a reload that takes the group away ----
# The member's open connection is closed: access is checked at connect, and
# the connection would keep what the configuration no longer gives.
cat > "$sockdir/stay.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(sys.argv[1])
s.sendall(b'{"method":"Status"}\n'); buf = b""
while b"\n" not in buf:
    chunk = s.recv(65536)
    if not chunk:
        print("closed before its answer", flush=True)
        sys.exit(1)
    buf += chunk
print("answered", flush=True)
try:
    rest = s.recv(65536)
    print("closed" if not rest else "more", flush=True)
except socket.timeout:
    print("open", flush=True)
EOF
chmod 0644 "$sockdir/stay.py"
"${MEMBER[@]}" /usr/bin/python3 "$sockdir/stay.py" "$sock" > "$T/stay.out" 2>&1 &
STAY=$!; kill_at_exit "$STAY"
check "member: a connection held open after its answer" wait_until 20 grep -q answered "$T/stay.out"
conf "*-*-* $DAILY" | sed 's/group = "nogroup"/group = ""/' > "$T/c.conf"
kill -HUP "$DPID"
check "reload to control.group = \"\": the member's connection is closed" wait_until 20 grep -q closed "$T/stay.out"
wait "$STAY"
# Logged after the connections are closed.
check "the daemon says it closed it" \
  wait_until 10 grep -q 'Closed 1 control connection of users control.group no longer lets in' "$T/daemon.log"
check "root's status answers after" quiet "$ETCD_BACKUPCTL" -s "$sock" status

# ---- the socket replaced in a directory others may write ----
# A user who may write the socket's directory (here 0777, not sticky) puts
# a symbolic link to root's file in the socket's place; the next reload that
# gives the group back leaves that file alone (root's chmod and chown followed
# the path: the file became the group's, mode 0660) and says why.
echo secret > "$T/target"; chmod 0600 "$T/target"
chmod 0777 "$sockdir"
"${MEMBER[@]}" sh -c 'mv "$1/control.sock" "$1/control.sock.moved" && ln -s "$2" "$1/control.sock"' _ \
  "$sockdir" "$T/target"
check "the member replaced the socket by a symbolic link" test -L "$sock"
conf "*-*-* $DAILY" > "$T/c.conf"
kill -HUP "$DPID"
check "reload back to nogroup: the daemon refuses to touch what is at the path" \
  wait_until 20 grep -q "$sock is no longer the socket the daemon bound (a symbolic link put in its place?)" \
  "$T/daemon.log"
check "root's file is left as it was (mode $(stat -c '%a %G' "$T/target"))" \
  test "$(stat -c '%a %G' "$T/target")" = "600 root"
chmod 0755 "$sockdir"
daemon_stop
check "SIGTERM: exit 0" test "$DRC" = 0
[[ $FAIL -gt 0 ]] && tail -30 "$T/daemon.log" | sed "s/^/# daemon: /"
finish
