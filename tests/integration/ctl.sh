#!/usr/bin/env bash
# etcd-backupctl's global options and its waits on the daemon: -s, -c,
# --json and --timeout are accepted before and after the command; with no
# daemon and no configuration `status` says the daemon is unreachable (69);
# a daemon that stopped answering (SIGSTOP) ends a request after --timeout
# with exit 69 and a message naming the socket; an answer of another shape
# than the daemon's is refused (exit 1), never crashed on; text in an answer
# reaches the terminal without its control characters.
. "$(dirname "$0")/lib.sh"
: "${NOTIFY_RECV:?}"

start_etcd
sock=$T/control.sock
{ etcd_group; storage_group "$T/b" zstd 1
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = false; };"
  echo "control: { socket = \"$sock\"; group = \"\"; };"; } > "$T/c.conf"
mkdir -m 0700 "$T/b"
# A backup whose sidecar is another's (copied by hand under a new name):
# listed through the daemon with why its sidecar is not taken.
copied=etcd-0000000000000001-20200102T000000Z-r2.db.zst
echo data > "$T/b/$copied"
echo '{}' | jq '{name: "etcd-0000000000000001-20200101T000000Z-r1.db.zst", created: "2020-01-01T00:00:00Z",
  cluster_id: "0000000000000001", member_id: "0000000000000002", endpoint: "https://127.0.0.1:2379",
  etcd_version: "3.4.23", revision: 1, db_size: 5, db_sha256: ("0" * 64), file_size: 5,
  file_sha256: ("0" * 64), compression: "zstd", level: 1, encrypted: false, duration_ms: 1}' > "$T/b/$copied.json"
# One whose sidecar names no backup, with a line break and a terminal
# escape in that name (not quoted: it would forge a log line), and one
# whose sidecar is a symbolic link (not followed, said so).
forged=etcd-0000000000000001-20200103T000000Z-r3.db.zst linked=etcd-0000000000000001-20200104T000000Z-r4.db.zst
echo data > "$T/b/$forged"; echo data > "$T/b/$linked"
jq --arg n $'x\nFORGED LINE \e[31m' '.name = $n' "$T/b/$copied.json" > "$T/b/$forged.json"
ln -s /etc/passwd "$T/b/$linked.json"
daemon_start "$T/c.conf"
check "daemon ready (READY=1)" wait_until 10 grep -q '^READY=1$' "$T/notify.log"
listed=$("$ETCD_BACKUPCTL" -s "$sock" list)
check "list through the daemon: a sidecar of another backup is named as such" \
  grep -qF "$copied" <<<"$(grep -F '(sidecar unusable: is the sidecar of another backup (its name says etcd-0000000000000001-20200101T000000Z-r1.db.zst))' <<<"$listed")"
check "list through the daemon: a sidecar naming no backup is said to be invalid" \
  grep -qF "$forged" <<<"$(grep -F "(sidecar unusable: is not a valid sidecar: its name is not a backup's name)" <<<"$listed")"
check "list through the daemon: a sidecar that is a symbolic link is said to be one" \
  grep -qF "$linked" <<<"$(grep -F "(sidecar unusable: is a symbolic link)" <<<"$listed")"
check "the daemon's log names that sidecar at start" grep -qF "Sidecar $T/b/$forged.json: is not a valid sidecar" "$T/daemon.log"
check "list and the daemon's log: the forged name is not printed" \
  test -z "$(grep -F 'FORGED' <<<"$listed")" -a -z "$(grep -F 'FORGED' "$T/daemon.log")"

# Global options after the command, in every position.
json=$("$ETCD_BACKUPCTL" -c "$T/c.conf" list --json); rc=$?
check "list --json: exit 0, a JSON array" test $rc = 0 -a "$(jq -r type <<<"$json" 2>/dev/null)" = array
json=$("$ETCD_BACKUPCTL" status --json -c "$T/c.conf"); rc=$?
check "status --json -c FILE: exit 0, JSON with state" jq_true 'has("state")' "$json"
json=$("$ETCD_BACKUPCTL" status -s "$sock" --json); rc=$?
check "status -s SOCKET --json (no config): JSON with state" jq_true 'has("state")' "$json"
json=$("$ETCD_BACKUPCTL" prune --dry-run --json --timeout=5s -s "$sock"); rc=$?
check "prune --dry-run --json --timeout=5s -s SOCKET: {keep, delete}" jq_true 'has("keep") and has("delete")' "$json"
json=$("$ETCD_BACKUPCTL" --json status --socket="$sock" --timeout 10); rc=$?
check "status --socket=SOCKET --timeout 10 after the command" jq_true 'has("state")' "$json"
out=$("$ETCD_BACKUPCTL" -s "$sock" status --timeout 2>&1); rc=$?
check "--timeout without a value: usage error (2)" test $rc = 2
out=$("$ETCD_BACKUPCTL" -s "$sock" status --timeout soon 2>&1); rc=$?
check "--timeout soon: usage error naming the value" test $rc = 2 -a -n "$(grep "invalid --timeout 'soon'" <<<"$out")"
out=$("$ETCD_BACKUPCTL" -s "$sock" status extra 2>&1); rc=$?
check "a real extra argument is still refused (2)" test $rc = 2
json=$("$ETCD_BACKUPCTL" -c "$T/c.conf" inspect --json "$T/nothing.db" 2>&1); rc=$?
check "an offline command with --json after it still runs (exit 1 on a missing file, not 2)" test $rc = 1

# A daemon that stopped answering: the request ends after --timeout.
kill -STOP "$DPID"
start=$SECONDS
out=$(timeout 30 "$ETCD_BACKUPCTL" status --timeout 2s -s "$sock" 2>&1); rc=$?
took=$((SECONDS - start))
kill -CONT "$DPID"
check "stopped daemon: exit 69 after --timeout (rc $rc, ${took}s)" test $rc = 69 -a $took -le 10
check "stopped daemon: the message names the socket and the timeout" grep -q "at $sock did not answer within 2s" <<<"$out"
check "after SIGCONT: status answers again" quiet "$ETCD_BACKUPCTL" -s "$sock" status

# No daemon, no configuration: unreachable (69), not a configuration error.
# The default socket is looked for in a /run of its own, so that nothing
# else on this machine answers there.
daemon_stop
out=$(unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /run && exec "$@"' sh \
      "$ETCD_BACKUPCTL" -c "$T/none.conf" status 2>&1); rc=$?
check "no daemon, no config: status exits 69 (got $rc)" test $rc = 69
check "no daemon, no config: the message names the socket" grep -q "control.sock" <<<"$out"
out=$("$ETCD_BACKUPCTL" status -c "$T/c.conf" --timeout 2s 2>&1); rc=$?
check "no daemon, a config: status exits 69 naming its socket" test $rc = 69 -a -n "$(grep -F "$sock" <<<"$out")"
# Something else on the socket (another program, another version): an
# answer of another shape is said to be unexpected (exit 1), never printed
# half or crashed on.
fake_answer() { # ANSWER-LINE COMMAND...: runs etcd-backupctl against a socket answering it
  local answer=$1; shift
  rm -f "$T/fake.sock" "$T/fake.ready"
  python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); open(sys.argv[2], "w").close()
s.settimeout(20); c, _ = s.accept(); c.settimeout(20); c.recv(65536); c.sendall(sys.argv[3].encode() + b"\n"); c.close()' \
    "$T/fake.sock" "$T/fake.ready" "$answer" &
  local fp=$!
  wait_until 10 test -e "$T/fake.ready"
  out=$("$ETCD_BACKUPCTL" -s "$T/fake.sock" "$@" 2>&1); rc=$?
  wait "$fp"
}
for case in 'prune --dry-run|{"keep":5,"delete":"x"}' 'prune --dry-run|{}' 'prune --dry-run|{"keep":[1],"delete":[]}' \
            'backup|{"result":5}' 'backup|{"result":{"revision":3}}' 'status|{"state":"idle","last":{"name":5}}' \
            'status|{"state":7}' 'status|{"state":"idle","progress":"x"}' 'status|[1,2]' 'status|not json' \
            'list|{"backups":{}}'; do
  IFS='|' read -r cmd answer <<<"$case"
  # shellcheck disable=SC2086 # the command's words
  fake_answer "$answer" $cmd
  check "answer $answer to $cmd: exit 1, 'unexpected answer' (rc $rc)" \
    test $rc -eq 1 -a -n "$(grep '^etcd-backupctl: unexpected answer from etcd-backupd' <<<"$out")"
done

# Text in an answer is printed safe for a terminal, whatever sends it:
# escapes (ESC, C1 CSI), line breaks and bidi overrides become '?'; other
# UTF-8 is kept.
fake_answer '{"state":"idle","last":{"error":"etcd said \u001b]0;pwned\u0007 caf\u00e9\n\u009b2J\u202egnp.exe"}}' status
check "status: a failure's text is printed without its controls (rc $rc)" \
  test $rc -eq 0 -a "$(grep -a '^Last backup: FAILED' <<<"$out")" = $'Last backup: FAILED: etcd said ?]0;pwned? caf\xc3\xa9???2J???gnp.exe'
check "status: no escape, C1 or bidi byte reaches the terminal" \
  test -z "$(LC_ALL=C grep -aP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]' <<<"$out")"

# The restore's confirmation names the plan's backup as it came, though
# the plan is printed made safe: a storage directory may hold bytes a
# terminal must not get (here C1 CSI and U+202E; é is kept).
raw=$'/srv/b\xc3\xa9\xc2\x9b\xe2\x80\xae/etcd-0000000000000001-20200101T000000Z-r1.db'
rm -f "$T/restore.sock" "$T/restore.ready" "$T/confirm.json"
python3 -c 'import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); open(sys.argv[2], "w").close()
s.settimeout(20); c, _ = s.accept(); c.settimeout(20); f = c.makefile("rwb")
f.readline()
f.write(json.dumps({"plan": {"backup": sys.argv[4], "steps": []}, "confirm_timeout_ms": 10000}).encode() + b"\n")
f.flush(); open(sys.argv[3], "wb").write(f.readline())
f.write(json.dumps({"result": {"backup": sys.argv[4], "revision": 1}}).encode() + b"\n"); f.flush(); c.close()' \
  "$T/restore.sock" "$T/restore.ready" "$T/confirm.json" "$raw" &
fp=$!
wait_until 10 test -e "$T/restore.ready"
out=$("$ETCD_BACKUPCTL" restore latest --yes --socket "$T/restore.sock" 2>&1); rc=$?
wait "$fp"
check "restore: the confirmation names the backup as the plan said it (rc $rc)" \
  test "$(jq -r 'select(.method == "Confirm") | .backup' "$T/confirm.json")" = "$raw"
check "restore: the plan is printed without its controls" \
  grep -qF "$(printf 'Backup:     /srv/b\xc3\xa9?????/etcd-')" <<<"$out"

# No daemon and no backup directory yet (a fresh install): list says so,
# and --json gives an empty array, both exit 0.
sed "s|$T/b|$T/not-yet|" "$T/c.conf" > "$T/nostore.conf"
out=$("$ETCD_BACKUPCTL" -c "$T/nostore.conf" -s "$T/none.sock" list 2>/dev/null); rc=$?
check "list without the directory: exit 0, says it does not exist yet" \
  test $rc -eq 0 -a "$out" = "No backups: $T/not-yet does not exist yet."
out=$("$ETCD_BACKUPCTL" -c "$T/nostore.conf" -s "$T/none.sock" --json list 2>/dev/null); rc=$?
check "list --json without the directory: exit 0, [] ($out)" test $rc -eq 0 -a "$(jq -c . <<<"$out")" = "[]"
"$ETCD_BACKUPCTL" -c "$T/nostore.conf" -s "$T/none.sock" --json list > /dev/full 2> "$T/err"; rc=$?
check "list --json to a full disk: exit 1 (it was 0, nothing written), saying so" \
  test $rc -eq 1 -a -n "$(grep -F 'etcd-backupctl list: cannot write to standard output: No space left on device' "$T/err")"

# calendar --json: each expression's elapses in RFC 3339 (UTC), as
# systemd-analyze computes them; one that does not parse has its error.
expr='Mon..Fri *-*-* 03:30 Europe/Berlin'
out=$("$ETCD_BACKUPCTL" --json calendar --iterations 3 --base-time "2026-03-27 12:00:00 UTC" "$expr" bogus); rc=$?
want=$(TZ=UTC systemd-analyze calendar --iterations 3 --base-time "2026-03-27 12:00:00 UTC" "$expr" |
       sed -n 's/^ *\(Next elapse\|Iter\. #[0-9]*\): //p' | while read -r t; do date -u -d "${t#* }" +%Y-%m-%dT%H:%M:%SZ; done |
       jq -R . | jq -sc .)
check "calendar --json: exit 1 (one expression does not parse)" test $rc -eq 1
check "calendar --json: the elapses systemd-analyze gives ($want)" test "$(jq -c '.[0].next' <<<"$out")" = "$want" -a "$want" != '[]'
check "calendar --json: the normalized form" test "$(jq -r '.[0].normalized' <<<"$out")" = "Mon..Fri *-*-* 03:30:00 Europe/Berlin"
check "calendar --json: the one that does not parse has its error" jq -e '.[1].expression == "bogus" and (.[1].error | length > 0)' <<<"$out"

# JSON that cannot be written (a full disk): said, exit 1, not 0 with nothing.
"$ETCD_BACKUPCTL" --json calendar daily > /dev/full 2> "$T/err"; rc=$?
check "calendar --json to a full disk: exit 1, saying so" \
  test $rc -eq 1 -a -n "$(grep -F 'etcd-backupctl calendar: cannot print JSON: No space left on device' "$T/err")"

# Each command's --help is its own parser's, the same however asked for
# (-h, --help, or -h among other short options).
for c in restore verify inspect get objects audit calendar; do
  a=$("$ETCD_BACKUPCTL" $c --help) b=$("$ETCD_BACKUPCTL" $c -h)
  check "$c --help and -h print the same text" test -n "$a" -a "$a" = "$b"
done
check "verify --help says where a compressed backup is decompressed" \
  grep -qF 'temporary file in $TMPDIR (default' <<<"$("$ETCD_BACKUPCTL" verify --help)"
check "--help wins over what else the line holds (-c before restore, a bad --timeout)" \
  test "$("$ETCD_BACKUPCTL" -c /nonexistent restore --help)" = "$("$ETCD_BACKUPCTL" restore --help)" -a \
       "$("$ETCD_BACKUPCTL" verify --timeout x --help)" = "$("$ETCD_BACKUPCTL" verify --help)"
check "restore --help and restore -yh: the same text, with its exit codes" \
  test "$("$ETCD_BACKUPCTL" restore -yh)" = "$("$ETCD_BACKUPCTL" restore --help)" -a \
  -n "$("$ETCD_BACKUPCTL" restore --help | grep -F '3 the rollback')"

printf 'storage: { compression = "lzma"; };\n' > "$T/bad.conf"
out=$("$ETCD_BACKUPCTL" status -c "$T/bad.conf" 2>&1); rc=$?
check "a broken config is still a configuration error (78)" test $rc = 78
finish
