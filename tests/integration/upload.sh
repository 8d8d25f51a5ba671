#!/usr/bin/env bash
# The copy off the machine, against a real S3-compatible store: OpenStack
# Swift with s3api (scripts/dev-swift) checks every SigV4 signature and the
# payload's SHA-256. `--once` uploads the backup and its sidecar (checked with
# curl's own SigV4 signer and byte equality), a wrong secret and an
# unreachable store are reported while the local backup stays and --once
# exits 0, the next run uploads every backup that is missing, a large backup
# goes up as a multipart upload, remote retention leaves exactly what the
# policy keeps (and nothing while a copy is named later than now), and unfinished multipart uploads of backups are aborted once
# older than upload.abort_incomplete_after. Then the daemon reports a failed upload in STATUS=, the
# journal/stderr line and its metrics.
. "$(dirname "$0")/lib.sh"
: "${NOTIFY_RECV:?}"

for p in swift-proxy-server memcached strace; do
  command -v "$p" >/dev/null || { echo "not ok - $p is not installed (scripts/install-deps installs it)"; exit 1; }
done

start_etcd
ctl put /a 1 >/dev/null
CLEANUP+=("'$TOP_SRCDIR/scripts/dev-swift' --stop '$T/swift'")
"$TOP_SRCDIR/scripts/dev-swift" "$T/swift" > "$T/swift.env" || { echo "cannot start Swift"; exit 1; }
# shellcheck disable=SC1091
. "$T/swift/env"
printf '%s\n' "$S3_SECRET" > "$T/secret"; chmod 600 "$T/secret"
echo wrong-secret > "$T/bad-secret"

EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
# s3 METHOD PATH [curl args]: a request signed by curl itself (an independent
# SigV4 signer). The key holds a colon, so key and secret come from a netrc.
s3() {
  local method=$1 path=$2; shift 2
  curl -s --max-time 30 -X "$method" --aws-sigv4 'aws:amz:us-east-1:s3' --netrc-file "$S3_NETRC" \
    -H "x-amz-content-sha256: $EMPTY_SHA" "$@" "$S3_URL$path"
}
# s3_put FILE KEY: FILE's bytes as the object KEY in the bucket.
s3_put() {
  curl -s --max-time 30 -X PUT --aws-sigv4 'aws:amz:us-east-1:s3' --netrc-file "$S3_NETRC" \
    -H "x-amz-content-sha256: $(sha256sum "$1" | cut -d' ' -f1)" --data-binary @"$1" "$S3_URL/$S3_BUCKET/$2" >/dev/null
}
# remote PREFIX: "key size" lines of a ListObjectsV2 listing.
remote() {
  s3 GET "/$S3_BUCKET?list-type=2&prefix=$1%2F" | sed 's#<Contents>#\n#g' |
    sed -nE 's#.*<Key>([^<]*)</Key>.*<Size>([0-9]+)</Size>.*#\1 \2#p' | sort
}
# local_state DIR PREFIX: the same lines for the local directory.
local_state() { (cd "$1" && for f in *; do echo "$2/$f $(stat -c %s "$f")"; done) | sort; }
backups() { ls "$1" 2>/dev/null | grep -vc json; }

B=$T/b
# The test store speaks plain HTTP on loopback: accepted only with
# upload.allow_insecure_http and age-encrypted backups.
age-keygen -o "$T/age.key" 2>/dev/null
encryption="encryption: { recipients = [\"$(age-keygen -y "$T/age.key")\"]; identity_file = \"$T/age.key\"; };"
# conf FILE SECRET_FILE [KEEP_LAST [UPLOAD_RETENTION]]
conf() {
  { etcd_group; storage_group "$B" gzip 1; echo "$encryption"
    echo "retention: { keep_last = ${3:-20}; keep_hourly = 0; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; };"
    echo "upload: { url = \"$S3_URL/$S3_BUCKET/node1/\"; region = \"us-east-1\"; access_key_id = \"$S3_KEY\";"
    echo "          secret_access_key_file = \"$2\"; part_size = \"5M\"; retention = ${4:-false};"
    echo "          allow_insecure_http = true; };"
  } > "$1"
}
conf "$T/good.conf" "$T/secret"
conf "$T/bad.conf" "$T/bad-secret"

# 1. One backup, one signed PUT each for the backup and its sidecar.
out=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/good.conf" 2>"$T/1.err"); rc=$?
check "once: exits 0" test $rc -eq 0
name=$(basename "$out")
check "once: the backup exists locally" test -f "$out"
check "once: the upload is logged for the backup and the sidecar" \
  bash -c "grep -q 'Uploaded $name to ' '$T/1.err' && grep -q 'Uploaded $name.json to ' '$T/1.err'"
check "once: no upload failure" bash -c "! grep -q 'Upload failed' '$T/1.err'"
check "once: plain HTTP is warned about" grep -q 'upload.url: "http://.*" is plain HTTP' "$T/1.err"
check "once: the remote listing is the local directory (names and sizes)" \
  test "$(remote node1)" = "$(local_state "$B" node1)"
s3 GET "/$S3_BUCKET/node1/$name" -o "$T/dl"
check "once: the downloaded backup is byte-identical" cmp -s "$T/dl" "$out"
s3 GET "/$S3_BUCKET/node1/$name.json" -o "$T/dl.json"
check "once: the downloaded sidecar is byte-identical" cmp -s "$T/dl.json" "$out.json"

# 2. A wrong secret: reported with the server's reason, the backup stays.
out2=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/bad.conf" 2>"$T/2.err"); rc=$?
check "wrong secret: --once exits 1 (rc $rc)" test $rc -eq 1
check "wrong secret: the local backup exists" test -f "$out2" -a -f "$out2.json"
check "wrong secret: 'Upload failed' names HTTP 403 SignatureDoesNotMatch" \
  grep -qE "Upload failed after backup $out2: .*HTTP 403 SignatureDoesNotMatch" "$T/2.err"
check "wrong secret: the secret is not in the output" bash -c "! grep -q wrong-secret '$T/2.err'"
listing=$(remote node1)
check "wrong secret: nothing new remotely" test "$listing" = "$(local_state "$B" node1 | grep -v "$(basename "$out2")")"

# 3. The store unreachable (its proxy stopped): reported, the backup stays.
proxy_pid=$(awk '{print $NF}' <<<"$S3_PIDS")
kill "$proxy_pid"; for _ in $(seq 1 50); do kill -0 "$proxy_pid" 2>/dev/null || break; sleep 0.1; done
start=$SECONDS
out3=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/good.conf" 2>"$T/3.err"); rc=$?
check "unreachable: --once exits 1 (rc $rc)" test $rc -eq 1
check "unreachable: the local backup exists" test -f "$out3" -a -f "$out3.json"
check "unreachable: 'Upload failed' says the connection failed after retries" \
  grep -qE "Upload failed after backup $out3: listing of .*(onnect|refused).*\(3 tries\)" "$T/3.err"
check "unreachable: bounded retries (under 30 s)" test $((SECONDS - start)) -lt 30

# 4. The store back: the next run uploads every missing backup, newest first.
swift-proxy-server "$T/swift/proxy-server.conf" > "$T/swift/log/proxy-2.log" 2>&1 &
proc_id $! >> "$T/swift/pids"
for _ in $(seq 1 300); do curl -sf "$S3_URL/healthcheck" >/dev/null 2>&1 && break; sleep 0.1; done
out4=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/good.conf" 2>"$T/4.err"); rc=$?
check "catch-up: --once exits 0" test $rc -eq 0
check "catch-up: no upload failure" bash -c "! grep -q 'Upload failed' '$T/4.err'"
check "catch-up: 4 local backups" test "$(backups "$B")" -eq 4
check "catch-up: the remote listing is the local directory (names and sizes)" \
  test "$(remote node1)" = "$(local_state "$B" node1)"
order=$(grep -o 'Uploaded etcd-[^ ]*\.db\.gz\.age to' "$T/4.err" | awk '{print $2}' | tr '\n' ' ')
want="$(basename "$out4") $(basename "$out3") $(basename "$out2") "
check "catch-up: the missing backups went up newest first ($order)" test "$order" = "$want"
check "catch-up: the first backup was not sent again" bash -c "! grep -q 'Uploaded $name ' '$T/4.err'"

# 5. A backup larger than part_size (5M) goes up in parts.
load_random 56 256
out5=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/good.conf" 2>"$T/5.err"); rc=$?
size5=$(stat -c %s "$out5")
check "multipart: --once exits 0" test $rc -eq 0
check "multipart: the backup is larger than 12 MiB ($size5)" test "$size5" -gt $((12 * 1024 * 1024))
check "multipart: uploaded" grep -q "Uploaded $(basename "$out5") to " "$T/5.err"
parts=$(( (size5 + 5 * 1048576 - 1) / (5 * 1048576) ))
etag=$(s3 HEAD "/$S3_BUCKET/node1/$(basename "$out5")" -I | tr -d '\r' | grep -i '^etag:' | cut -d' ' -f2-)
check "multipart: the object's ETag has the multipart suffix -$parts ($etag)" grep -qE "^\"[0-9a-f]{32}-$parts\"$" <<<"$etag"
s3 GET "/$S3_BUCKET/node1/$(basename "$out5")" -o "$T/dl5"
check "multipart: the downloaded backup is byte-identical" cmp -s "$T/dl5" "$out5"

# 5b. fetch: a backup back from the copy, for a node whose own are gone.
F=$T/fetched; mkdir "$F"
got=$("$ETCD_BACKUPCTL" -c "$T/good.conf" fetch latest --output "$F" 2>"$T/f1.err"); rc=$?
check "fetch latest: exit 0 ($(cat "$T/f1.err"))" test $rc -eq 0
check "fetch latest: prints the path of the newest backup" test "$got" = "$F/$(basename "$out5")"
check "fetch latest: byte-identical to the local backup" cmp -s "$got" "$out5"
check "fetch latest: its sidecar too" cmp -s "$got.json" "$out5.json"
check "fetch latest: said checked against its sidecar" \
  grep -qF "Fetched $(basename "$out5") from $S3_URL/$S3_BUCKET/node1/: $(stat -c %s "$out5") bytes, SHA-256 as its sidecar says" "$T/f1.err"
check "fetch latest: the files are 0600" test "$(stat -c %a "$got") $(stat -c %a "$got.json")" = "600 600"
check "fetch latest: etcd-backupctl verify passes on it" "$ETCD_BACKUPCTL" -c "$T/good.conf" verify "$got"
json=$("$ETCD_BACKUPCTL" -c "$T/good.conf" --json fetch "$(basename "$out2")" --output "$F" 2>"$T/f2.err"); rc=$?
check "fetch NAME --json: exit 0" test $rc -eq 0
check "fetch NAME --json: the file and its sidecar's name" \
  test "$(jq -r '.file + " " + .sidecar.name' <<<"$json")" = "$F/$(basename "$out2") $(basename "$out2")"
check "fetch NAME: byte-identical" cmp -s "$F/$(basename "$out2")" "$out2"
"$ETCD_BACKUPCTL" -c "$T/good.conf" fetch latest --output "$F" >/dev/null 2>"$T/f3.err"; rc=$?
check "fetch again: refused, exit 1 ($rc)" test $rc -eq 1
check "fetch again: the file there is named" grep -qF "$F/$(basename "$out5") is there already; nothing fetched" "$T/f3.err"
# A copy named later than now (the clock set back since, or ahead then):
# "latest" is refused, as a restore's is.
future=$(sed -E 's/-[0-9]{8}T[0-9]{6}Z-/-29990101T000000Z-/' <<<"$(basename "$out5")")
jq --arg n "$future" '.name = $n' "$out5.json" > "$T/future.json"
s3_put "$out5" "node1/$future"; s3_put "$T/future.json" "node1/$future.json"
"$ETCD_BACKUPCTL" -c "$T/good.conf" fetch latest --output "$F" >/dev/null 2>"$T/f3b.err"; rc=$?
check "fetch latest, the newest named later than now: refused, exit 1 ($rc)" test $rc -eq 1
check "fetch latest, the newest named later than now: said, nothing fetched" grep -qF \
  "\"latest\" would be $future, which is named 29990101T000000Z, later than now (" "$T/f3b.err"
check "fetch latest, the newest named later than now: nothing left in DIR" test ! -e "$F/$future" -a ! -e "$F/$future.json"
s3 DELETE "/$S3_BUCKET/node1/$future" >/dev/null; s3 DELETE "/$S3_BUCKET/node1/$future.json" >/dev/null
check "the copy named later than now: removed from the store again" \
  test "$(remote node1 | grep -c 29990101T000000Z)" -eq 0
"$ETCD_BACKUPCTL" -c "$T/good.conf" fetch etcd-0000000000000001-20200101T000000Z-r1.db.gz.age --output "$F" \
  >/dev/null 2>"$T/f4.err"; rc=$?
check "fetch a name not there: exit 1, said" \
  bash -c "[[ $rc -eq 1 ]] && grep -qF 'no backup etcd-0000000000000001-20200101T000000Z-r1.db.gz.age at $S3_URL/$S3_BUCKET/node1/ (' '$T/f4.err'"
"$ETCD_BACKUPCTL" -c "$T/good.conf" fetch ../../etc/passwd --output "$F" >/dev/null 2>"$T/f4b.err"; rc=$?
check "fetch what is not a backup's name: usage error (exit $rc)" \
  bash -c "[[ $rc -eq 2 ]] && grep -qF '\"../../etc/passwd\" is not a backup'\''s name' '$T/f4b.err'"
# The copy of out3 damaged there (same size): nothing is left in DIR.
head -c "$(stat -c %s "$out3")" /dev/urandom > "$T/garbage"
s3_put "$T/garbage" "node1/$(basename "$out3")"
"$ETCD_BACKUPCTL" -c "$T/good.conf" fetch "$(basename "$out3")" --output "$F" >/dev/null 2>"$T/f5.err"; rc=$?
check "fetch a damaged copy: exit 1 ($rc)" test $rc -eq 1
check "fetch a damaged copy: the SHA-256 that arrived and the sidecar's are named" \
  grep -qE "$(basename "$out3") arrived with SHA-256 [0-9a-f]{64}, its sidecar says $(jq -r .file_sha256 "$out3.json"); nothing fetched" "$T/f5.err"
check "fetch a damaged copy: neither it nor its sidecar is left" \
  test ! -e "$F/$(basename "$out3")" -a ! -e "$F/$(basename "$out3").json"
check "fetch: only what was fetched is in DIR" test "$(ls -A "$F" | wc -l)" -eq 4
{ etcd_group; storage_group "$B" gzip 1; } > "$T/noupload.conf"
"$ETCD_BACKUPCTL" -c "$T/noupload.conf" fetch latest --output "$F" >/dev/null 2>"$T/f6.err"; rc=$?
check "fetch without an upload group: exit 78, said" \
  bash -c "[[ $rc -eq 78 ]] && grep -qF '$T/noupload.conf has no upload group: there is no copy to fetch from' '$T/f6.err'"
# Into a directory without O_TMPFILE, as on NFS (bindfs, FUSE; root only,
# as CI runs): the same files, and no hidden temporary file left, also
# when the copy there is damaged.
if [[ $(id -u) == 0 ]]; then
  mkdir -m 0700 "$T/nfs-under" "$T/nfs"
  if bindfs "$T/nfs-under" "$T/nfs"; then
    CLEANUP+=("umount '$T/nfs'")
    got=$("$ETCD_BACKUPCTL" -c "$T/good.conf" fetch latest --output "$T/nfs" 2>"$T/f7.err"); rc=$?
    check "fetch into a directory without O_TMPFILE: exit 0 ($(cat "$T/f7.err"))" test $rc -eq 0
    check "fetch into a directory without O_TMPFILE: byte-identical, with its sidecar" \
      bash -c "cmp -s '$got' '$out5' && cmp -s '$got.json' '$out5.json'"
    "$ETCD_BACKUPCTL" -c "$T/good.conf" fetch "$(basename "$out3")" --output "$T/nfs" >/dev/null 2>"$T/f8.err"; rc=$?
    check "fetch a damaged copy into it: exit 1 ($rc)" test $rc -eq 1
    check "fetch into a directory without O_TMPFILE: only the fetched files there, nothing hidden" \
      test "$(ls -A "$T/nfs" | sort | paste -sd' ')" = "$(basename "$got") $(basename "$got").json"
  else
    not_ok "bindfs cannot mount $T/nfs"
  fi
else
  echo "# not root: fetch into a FUSE directory not tried"
fi

# 6. Remote retention, keep_last = 2: exactly the two kept backups remain,
# and each remote deletion is logged.
conf "$T/keep2.conf" "$T/secret" 2 true
remote_backups() { remote node1 | awk '{ sub("^node1/", "", $1); print $1 }' | grep -v '\.json$'; }
before6=$(remote_backups)
out6=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/keep2.conf" 2>"$T/6.err"); rc=$?
check "retention: --once exits 0" test $rc -eq 0
check "retention: 2 local backups" test "$(backups "$B")" -eq 2
check "retention: exactly 2 remote backups and 2 sidecars, the local ones" \
  test "$(remote node1)" = "$(local_state "$B" node1)"
check "retention: 4 remote objects" test "$(remote node1 | wc -l)" -eq 4
check "retention: the newest is among them" grep -q "$(basename "$out6") " <<<"$(remote node1)"
gone=$(comm -23 <(echo "$before6") <(remote_backups))
check "retention: remote backups were deleted ($(grep -c . <<<"$gone"))" test -n "$gone"
check "retention: each remote deletion logged as \"Pruned NAME from URL\"" \
  bash -c 'for n in $1; do grep -qF "Pruned $n from " "$2" || exit 1; done' _ "$gone" "$T/6.err"
check "retention: one such line per remote deletion" \
  test "$(grep -c 'Pruned .* from ' "$T/6.err")" -eq "$(grep -c . <<<"$gone")"

# 6c. Remote retention when the last backup uploaded sorts before the
# others (the oldest local one, without a sidecar): the plan sees each
# remote backup once. X, on the store only, is within keep_last = 3 and
# stays. (The walk sorted the remote set under itself: X was seen twice,
# the oldest not at all, and X deleted.)
R=$T/r6c
mkdir -p "$R"
# r6c_conf FILE KEEP_LAST: keep2.conf's store under node3/, the directory R.
r6c_conf() { conf "$1" "$T/secret" "$2" true; sed -i "s#/node1/#/node3/#; s#\"$B\"#\"$R\"#" "$1"; }
r6c_conf "$T/r6c-all.conf" 20
r6c_conf "$T/r6c-keep3.conf" 3
next_second() { local s; s=$(date +%s); while [[ $(date +%s) == "$s" ]]; do sleep 0.1; done; }
x=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/r6c-all.conf" 2>"$T/r6c-1.err"); x=$(basename "$x")
next_second; ctl put /r6c 1 >/dev/null
b3=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/r6c-all.conf" 2>"$T/r6c-2.err"); b3=$(basename "$b3")
check "6c: X and B3 on the store under node3/, with their sidecars" \
  test "$(remote node3 | awk '{ print $1 }' | tr '\n' ' ')" = "node3/$b3 node3/$b3.json node3/$x node3/$x.json " -o \
       "$(remote node3 | awk '{ print $1 }' | tr '\n' ' ')" = "node3/$x node3/$x.json node3/$b3 node3/$b3.json "
rm "$R/$x" "$R/$x.json"
# The oldest: a copy of B3 named ten years earlier, without a sidecar.
b1=$(sed -E 's/-[0-9]{8}T[0-9]{6}Z-/-20160101T000000Z-/' <<<"$b3")
cp "$R/$b3" "$R/$b1"
next_second; ctl put /r6c 2 >/dev/null
out6c=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/r6c-keep3.conf" 2>"$T/r6c-3.err"); rc=$?
check "6c: --once exits 0 (rc $rc)" test $rc -eq 0
check "6c: the oldest was uploaded" grep -q "node3/$b1 " <<<"$(remote node3)"
check "6c: X, the third newest, stays on the store with its sidecar" \
  bash -c 'grep -q "node3/$1 " <<<"$2" && grep -q "node3/$1.json " <<<"$2"' _ "$x" "$(remote node3)"
check "6c: nothing pruned from the store" bash -c '! grep -q "Pruned .* from " "$1"' _ "$T/r6c-3.err"
# 6d. The oldest, without a sidecar, gone from the directory: on the store
# it stays, as it would locally (retention plans over backups with a
# sidecar only); X, with one, is pruned by keep_last = 1.
r6c_conf "$T/r6c-keep1.conf" 1
rm "$R/$b1"
next_second; ctl put /r6c 3 >/dev/null
timeout 120 "$ETCD_BACKUPD" --once -c "$T/r6c-keep1.conf" >/dev/null 2>"$T/r6d.err"; rc=$?
check "6d: --once exits 0 (rc $rc)" test $rc -eq 0
check "6d: X, with its sidecar, pruned from the store" \
  bash -c 'grep -qF "Pruned $1 from " "$2" && ! grep -q "node3/$1" <<<"$3"' _ "$x" "$T/r6d.err" "$(remote node3)"
check "6d: the oldest, without a sidecar, stays on the store" grep -q "node3/$b1 " <<<"$(remote node3)"

# 6f. A copy on the store named later than now (the clock set back since,
# or ahead then): remote retention keeps it, applies the policy to the
# others and says why, as the local one does; --once exits 0.
d6=$(remote node3 | awk '{ print $1 }' | grep -vF "node3/$b1" | grep -v '\.json$' | sed 's#^node3/##')
future=$(sed -E 's/-[0-9]{8}T[0-9]{6}Z-/-29990101T000000Z-/' <<<"$d6")
jq --arg n "$future" '.name = $n' "$R/$d6.json" > "$T/r6f-future.json"
s3_put "$R/$d6" "node3/$future"; s3_put "$T/r6f-future.json" "node3/$future.json"
next_second; ctl put /r6c 4 >/dev/null
out6f=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/r6c-keep1.conf" 2>"$T/r6f.err"); rc=$?
check "6f: --once exits 0 (rc $rc)" test $rc -eq 0
check "6f: the new backup is on the store" grep -q "node3/$(basename "$out6f") " <<<"$(remote node3)"
check "6f: remote retention says which it keeps and why" grep -qF "remote retention on $S3_URL/$S3_BUCKET/node3/: \
$future is named 29990101T000000Z, later than now" "$T/r6f.err"
check "6f: the copy named later than now stays" grep -q "node3/$future " <<<"$(remote node3)"
check "6f: the previous copy ($d6), which keep_last = 1 prunes, is pruned from the store" \
  bash -c '! grep -q "node3/$1 " <<<"$2" && grep -qF "Pruned $1 from " "$3"' _ "$d6" "$(remote node3)" "$T/r6f.err"
s3 DELETE "/$S3_BUCKET/node3/$future" >/dev/null; s3 DELETE "/$S3_BUCKET/node3/$future.json" >/dev/null

# 6g. Other writers on the prefix. A backup of this cluster taken from
# another member (its sidecar says so) and one of another cluster, both
# older than keep_last = 1 keeps: neither is deleted, and the warning says
# why; this node's own older copy is pruned as before. A copy on the store
# whose size is not the local backup's (another node's of the same name) is
# never replaced: the upload fails and says so, and remote retention waits
# (keep_last = 2, so that the local backup is still there).
newest=$(basename "$out6f")
cid=$(jq -r .cluster_id "$R/$newest.json")
other_member=$(sed -E 's/-[0-9]{8}T[0-9]{6}Z-/-20210101T000000Z-/' <<<"$newest")
other_cluster=$(sed -E "s/^etcd-$cid-[0-9]{8}T[0-9]{6}Z-/etcd-00000000000000aa-20210101T000001Z-/" <<<"$newest")
jq --arg n "$other_member" '.name = $n | .member_id = "00000000000000bb"' "$R/$newest.json" > "$T/r6g-m.json"
jq --arg n "$other_cluster" '.name = $n | .cluster_id = "00000000000000aa"' "$R/$newest.json" > "$T/r6g-c.json"
s3_put "$R/$newest" "node3/$other_member"; s3_put "$T/r6g-m.json" "node3/$other_member.json"
s3_put "$R/$newest" "node3/$other_cluster"; s3_put "$T/r6g-c.json" "node3/$other_cluster.json"
next_second; ctl put /r6c 5 >/dev/null
out6g=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/r6c-keep1.conf" 2>"$T/r6g.err"); rc=$?
check "6g: --once exits 0 (rc $rc)" test $rc -eq 0
check "6g: this node's previous copy ($newest) pruned from the store" \
  bash -c 'grep -qF "Pruned $1 from " "$2" && ! grep -q "node3/$1" <<<"$3"' _ "$newest" "$T/r6g.err" "$(remote node3)"
check "6g: the other member's and the other cluster's backups stay, with their sidecars" \
  test "$(remote node3 | grep -cE "node3/($other_member|$other_cluster)(\.json)? ")" = 4
check "6g: the warning names the other member's backup and member" grep -qF "remote retention on \
$S3_URL/$S3_BUCKET/node3/: 1 backup the policy drops left alone, taken from another etcd member than the \
local backups ($other_member: member 00000000000000bb)" "$T/r6g.err"
check "6g: and the other cluster's" \
  grep -qF "remote retention on $S3_URL/$S3_BUCKET/node3/: 1 backup of another etcd cluster" "$T/r6g.err"
grep -q "left alone" "$T/r6g.err" || sed 's/^/# /' "$T/r6g.err"
newest=$(basename "$out6g")
head -c 100 /dev/urandom > "$T/r6g-other"; s3_put "$T/r6g-other" "node3/$newest"
# This node's own older copy, on the store only, which keep_last = 2 drops: it stays while the upload fails.
own_old=$(sed -E 's/-[0-9]{8}T[0-9]{6}Z-/-20200102T000000Z-/' <<<"$newest")
jq --arg n "$own_old" '.name = $n' "$R/$newest.json" > "$T/r6g-own.json"
s3_put "$R/$newest" "node3/$own_old"; s3_put "$T/r6g-own.json" "node3/$own_old.json"
r6c_conf "$T/r6c-keep2.conf" 2
next_second; ctl put /r6c 6 >/dev/null
out6h=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/r6c-keep2.conf" 2>"$T/r6h.err"); rc=$?
check "6g: a copy of another size under the name of a local backup: --once exits 1 (rc $rc)" test $rc -eq 1
check "6g: ... the upload failure says it is not replaced" grep -qF "Upload failed after backup $out6h: $newest has \
$(stat -c %s "$R/$newest") bytes here, and $S3_URL/$S3_BUCKET/node3/ holds 100 under its name: not replaced" "$T/r6h.err"
check "6g: ... the copy there is as it was; the new backup went up" \
  bash -c 'grep -q "node3/$1 100$" <<<"$3" && grep -q "node3/$2 " <<<"$3"' _ "$newest" "$(basename "$out6h")" "$(remote node3)"
check "6g: ... remote retention waits: this node's older copy, which it would prune, stays" \
  bash -c 'grep -q "node3/$1 " <<<"$2" && ! grep -q "Pruned .* from " "$3"' _ "$own_old" "$(remote node3)" "$T/r6h.err"
for k in "$other_member" "$other_cluster" "$own_old"; do s3 DELETE "/$S3_BUCKET/node3/$k" >/dev/null; s3 DELETE "/$S3_BUCKET/node3/$k.json" >/dev/null; done
s3_put "$R/$newest" "node3/$newest"

# 6e. Unfinished multipart uploads (an abort that failed or never ran, a
# CreateMultipartUpload retried after its answer was lost) are aborted once
# they are older than upload.abort_incomplete_after, only a backup's under
# the prefix; by default (1d) fresh ones stay.
conf "$T/r6e.conf" "$T/secret"
sed -i 's#/node1/#/node4/#' "$T/r6e.conf"
sed 's#part_size = "5M";#part_size = "5M"; abort_incomplete_after = "2s";#' "$T/r6e.conf" > "$T/r6e-2s.conf"
orphan=$(sed -E 's/-[0-9]{8}T[0-9]{6}Z-/-20200101T000000Z-/' <<<"$(basename "$out6")")
pending() { s3 GET "/$S3_BUCKET?prefix=node4%2F&uploads=" | grep -o '<Key>[^<]*</Key>' | sed 's#</*Key>##g' | sort | tr '\n' ' '; }
for key in "$orphan" "$orphan" other.bin "sub/$orphan"; do
  s3 POST "/$S3_BUCKET/node4/$key?uploads=" | grep -q '<UploadId>' || echo "# cannot start an upload of $key"
done
created=$(date +%s)
want_all="node4/$orphan node4/$orphan node4/other.bin node4/sub/$orphan "
check "6e: four unfinished uploads under node4/ ($(pending))" test "$(pending)" = "$want_all"
# Swift keeps whole seconds: the uploads are more than 2 s old once 3 have passed.
wait_until 10 bash -c '(($(date +%s) >= $1))' _ $((created + 3))
timeout 120 "$ETCD_BACKUPD" --once -c "$T/r6e.conf" >/dev/null 2>"$T/r6e-1.err"; rc=$?
check "6e: with the default (1d) --once exits 0 (rc $rc) and aborts nothing" \
  test $rc -eq 0 -a "$(pending)" = "$want_all" -a -z "$(grep 'Aborted' "$T/r6e-1.err")"
timeout 120 "$ETCD_BACKUPD" --once -c "$T/r6e-2s.conf" >/dev/null 2>"$T/r6e-2.err"; rc=$?
check "6e: with 2s --once exits 0 (rc $rc)" test $rc -eq 0
check "6e: the backup's two are aborted, the others stay ($(pending))" \
  test "$(pending)" = "node4/other.bin node4/sub/$orphan "
check "6e: each abort is logged with its start" \
  test "$(grep -c "Aborted the unfinished multipart upload of $orphan (started 20[0-9-]*T[0-9:]*Z) at $S3_URL/$S3_BUCKET/node4/" "$T/r6e-2.err")" -eq 2
check "6e: no upload failure" bash -c '! grep -q "Upload failed" "$1"' _ "$T/r6e-2.err"

# 6b. A broken endpoint whose answers never end (a misconfigured proxy):
# the upload fails at once with what the answer said, and the backup stays.
# Before, the body was read on for ever, and the worker with it.
# broken_endpoint STATUS [trickle]: endless-http.py started, its PID in EPID.
broken_endpoint() {
  rm -f "$T/endless.port"
  python3 "$TOP_SRCDIR/tests/helpers/endless-http.py" "$T/endless.port" "$@" > "$T/endless.log" 2>&1 &
  EPID=$! EID=$(proc_id $!); kill_at_exit "$EPID"
  for _ in $(seq 1 100); do [[ -s $T/endless.port ]] && break; sleep 0.1; done
}
# broken_endpoint_conf FILE DIR [UPLOAD KEYS]: a configuration uploading to it.
broken_endpoint_conf() {
  { etcd_group; storage_group "$2" gzip 1; echo "$encryption"
    echo "upload: { url = \"http://127.0.0.1:$(cat "$T/endless.port")/bucket/node1/\"; region = \"us-east-1\";"
    echo "          access_key_id = \"$S3_KEY\"; secret_access_key_file = \"$T/secret\"; allow_insecure_http = true; ${3:-} };"
  } > "$1"
}
for status in 403 200; do
  broken_endpoint $status
  broken_endpoint_conf "$T/endless.conf" "$T/e$status"
  start=$SECONDS
  oute=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/endless.conf" 2>"$T/e$status.err"); rc=$?
  check "endless $status answer: --once exits 1 (rc $rc)" test $rc -eq 1
  check "endless $status answer: the local backup exists" test -f "$oute" -a -f "$oute.json"
  if [[ $status = 403 ]]; then
    check "endless 403 answer: 'Upload failed' names HTTP 403" grep -qE "Upload failed after backup .*: listing of .*HTTP 403" "$T/e403.err"
  else
    check "endless 200 answer: 'Upload failed' says the listing is too large" \
      grep -qE "Upload failed after backup .*: listing of .*: the answer is larger than [0-9]+ bytes" "$T/e200.err"
  fi
  check "endless $status answer: over in under 60 s ($((SECONDS - start)) s)" test $((SECONDS - start)) -lt 60
  signal_proc -TERM "$EID"; wait "$EPID" 2>/dev/null
done

# 6c. An endpoint that trickles its answer (a byte every 0.5 s, above any
# low-speed limit): each request ends at upload.request_timeout (2.5 s here),
# is retried, and the upload fails naming the timeout; the backup stays.
broken_endpoint 200 trickle
broken_endpoint_conf "$T/trickle.conf" "$T/trickle" 'request_timeout = "2500ms";'
start=$SECONDS
outt=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/trickle.conf" 2>"$T/trickle.err"); rc=$?
check "trickled answer: --once exits 1 (rc $rc)" test $rc -eq 1
check "trickled answer: the local backup exists" test -f "$outt" -a -f "$outt.json"
# curl says when it gave up: at about 2.5 s or later (a busy machine wakes
# it late; its own clock may say 2499 ms for a 2500 ms limit); before
# request_timeout was kept to the millisecond, it gave up at 2 s.
pat="Upload failed after backup .*: listing of .*[Tt]imed out after (2[4-9][0-9]{2}|[3-9][0-9]{3}) milli"
check "trickled answer: 'Upload failed' names the timeout" grep -qE "$pat" "$T/trickle.err"
grep -qE "$pat" "$T/trickle.err" || sed 's/^/# /' "$T/trickle.err"
check "trickled answer: three tries of 2.5 s and their backoff, over in under 30 s ($((SECONDS - start)) s)" \
  test $((SECONDS - start)) -ge 9 -a $((SECONDS - start)) -lt 30

# The daemon uploading there: a List while the upload trickles (the backup
# published, its job not over) names the new backup once, and so does a List
# after the job (the job's end added it to a listing that List had read from
# the directory already, and it was listed twice from then on). The List
# asks once the directory's last change is older than the daemon's margin
# for file system clocks (2 s), so that the daemon trusts what it read.
{ sed "s|\"$T/trickle\"|\"$T/trickle-d\"|" "$T/trickle.conf"; echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = false; };"
  echo "control: { socket = \"$T/control6.sock\"; group = \"\"; };"; } > "$T/trickled.conf"
"$ETCD_BACKUPD" -c "$T/trickled.conf" > "$T/trickled.log" 2>&1 &
TPID=$!; kill_at_exit "$TPID"
wait_until 10 listening "$T/control6.sock"
timeout 120 "$ETCD_BACKUPCTL" -s "$T/control6.sock" backup > "$T/trickled.out" 2>&1 &
BPID=$!
for _ in $(seq 1 600); do compgen -G "$T/trickle-d/etcd-*.json" >/dev/null && break; sleep 0.1; done
until (( $(date +%s) > $(stat -c %Y "$T/trickle-d") + 3 )); do sleep 0.1; done
once() { "$ETCD_BACKUPCTL" -s "$T/control6.sock" --json list | jq -r '.[].name' | sort | uniq -c | awk '$1 != 1'; }
listed_during=$("$ETCD_BACKUPCTL" -s "$T/control6.sock" --json list | jq length)
check "trickled upload, daemon: the job still runs when List asks" kill -0 "$BPID"
check "trickled upload, daemon: List during the upload has the new backup ($listed_during)" test "$listed_during" = 1
wait "$BPID"
check "trickled upload, daemon: the backup ends, its upload failed" grep -q "Upload failed" "$T/trickled.log"
check "trickled upload, daemon: List after the job names each backup once" test -z "$(once)" -a \
  "$("$ETCD_BACKUPCTL" -s "$T/control6.sock" --json list | jq length)" = 1
kill "$TPID"; wait "$TPID" 2>/dev/null
kill "$EPID" 2>/dev/null; wait "$EPID" 2>/dev/null

# 6d. fetch through a connection that breaks half-way through the backup:
# the download is tried again from the start, and what arrives is whole.
mkdir "$T/flaky-src" "$T/flaky-out"
cp "$out6" "$out6.json" "$T/flaky-src/"
rm -f "$T/flaky.port"
python3 "$TOP_SRCDIR/tests/helpers/s3-standin.py" "$T/flaky.port" "$T/flaky-src" --cut-once > "$T/flaky.log" 2>&1 &
FPID=$!; kill_at_exit "$FPID"
for _ in $(seq 1 100); do [[ -s $T/flaky.port ]] && break; sleep 0.1; done
{ etcd_group; storage_group "$T/flaky-b" gzip 1; echo "$encryption"
  echo "upload: { url = \"http://127.0.0.1:$(cat "$T/flaky.port")/bucket/node1/\"; region = \"us-east-1\";"
  echo "          access_key_id = \"$S3_KEY\"; secret_access_key_file = \"$T/secret\"; allow_insecure_http = true; };"
} > "$T/flaky.conf"
got=$("$ETCD_BACKUPCTL" -c "$T/flaky.conf" fetch latest --output "$T/flaky-out" 2>"$T/flaky.err"); rc=$?
check "broken download: fetch exits 0 ($(cat "$T/flaky.err"))" test $rc -eq 0
check "broken download: the first GET was cut, the second whole" \
  test "$(grep -c "GET node1/$(basename "$out6") cut" "$T/flaky.log") $(grep -c "GET node1/$(basename "$out6") whole" "$T/flaky.log")" = "1 1"
check "broken download: byte-identical all the same" cmp -s "$got" "$out6"
kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null

# 6d'. A fetch into a directory without O_TMPFILE (the FUSE mount of 5b),
# interrupted by Ctrl-C (SIGINT; started with SIGINT's default action, as
# from a terminal, where a background job of this script would ignore it)
# while the download stalls half-way: it ends by the signal and leaves
# none of its hidden temporary files.
if mountpoint -q "$T/nfs"; then
  mkdir "$T/nfs/int"
  rm -f "$T/stall.port"
  python3 "$TOP_SRCDIR/tests/helpers/s3-standin.py" "$T/stall.port" "$T/flaky-src" --stall > "$T/stall.log" 2>&1 &
  SPID=$!; kill_at_exit "$SPID"
  for _ in $(seq 1 100); do [[ -s $T/stall.port ]] && break; sleep 0.1; done
  sed "s#127.0.0.1:[0-9]*/bucket#127.0.0.1:$(cat "$T/stall.port")/bucket#" "$T/flaky.conf" > "$T/stall.conf"
  python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
    "$ETCD_BACKUPCTL" -c "$T/stall.conf" fetch latest --output "$T/nfs/int" >/dev/null 2>"$T/stall.err" &
  XPID=$!; kill_at_exit -9 "$XPID"
  for _ in $(seq 1 300); do grep -q stalled "$T/stall.log" && break; sleep 0.1; done
  check "interrupted fetch: the download stalls half-way" grep -q "GET node1/$(basename "$out6") stalled" "$T/stall.log"
  check "interrupted fetch: its hidden files are there meanwhile (sidecar and backup)" \
    test "$(ls -A "$T/nfs/int" | grep -c '^\.etcd-backupctl-fetch-[0-9a-f]\{16\}$')" = 2
  kill -INT "$XPID"; wait "$XPID"; rc=$?
  check "interrupted fetch: ended by SIGINT (exit $rc)" test $rc -eq 130
  check "interrupted fetch: nothing left in DIR, hidden or not ($(ls -A "$T/nfs/int" | paste -sd' '))" \
    test -z "$(ls -A "$T/nfs/int")"
  kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
fi

# 6d''. Ctrl-C between the fetch's two links: strace holds the first
# linkat(2) (the sidecar's name) 3 s on its way back, and SIGINT comes once
# the sidecar has its name. The fetch ends by the signal with both names
# there, the backup whole, never with the sidecar alone (the next fetch
# would refuse it: "is there already").
mkdir "$T/int2"
rm -f "$T/int2.port"
python3 "$TOP_SRCDIR/tests/helpers/s3-standin.py" "$T/int2.port" "$T/flaky-src" > "$T/int2.log" 2>&1 &
SPID=$!; kill_at_exit "$SPID"
for _ in $(seq 1 100); do [[ -s $T/int2.port ]] && break; sleep 0.1; done
sed "s#127.0.0.1:[0-9]*/bucket#127.0.0.1:$(cat "$T/int2.port")/bucket#" "$T/flaky.conf" > "$T/int2.conf"
strace -f -qq -o /dev/null -e trace=linkat -e inject=linkat:delay_exit=3000000:when=1 \
  python3 -c 'import os, signal, sys
open(sys.argv[1], "w").write(str(os.getpid()))
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[2], sys.argv[2:])' "$T/int2.pid" \
  "$ETCD_BACKUPCTL" -c "$T/int2.conf" fetch latest --output "$T/int2" >/dev/null 2>"$T/int2.err" &
XPID=$!; kill_at_exit -9 "$XPID"
for _ in $(seq 1 300); do [[ -e $T/int2/$(basename "$out6").json ]] && break; sleep 0.1; done
check "fetch interrupted between its links: the sidecar has its name first" test -e "$T/int2/$(basename "$out6").json"
kill -INT "$(cat "$T/int2.pid")"; wait "$XPID"; rc=$?
check "fetch interrupted between its links: ended by SIGINT (exit $rc)" test $rc -eq 130
check "fetch interrupted between its links: the backup has its name too, byte-identical ($(ls -A "$T/int2" | paste -sd' '))" \
  cmp -s "$T/int2/$(basename "$out6")" "$out6"
check "fetch interrupted between its links: the sidecar as the store has it" \
  cmp -s "$T/int2/$(basename "$out6").json" "$out6.json"
check "fetch interrupted between its links: nothing else in DIR" test "$(ls -A "$T/int2" | wc -l)" -eq 2
kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null

# 6e. A store with newer backups that cannot be taken, and one that lies
# about a size. "latest" passes over a newer backup without a sidecar and
# one whose sidecar is another backup's, naming both; a backup named
# without a sidecar comes unchecked, with the advice to verify it; a
# sidecar file already in DIR stops it; a body longer than the listing
# says is cut off, leaving nothing.
H=$T/hostile-src; mkdir "$H" "$T/h-out" "$T/h-out2"
a=$(basename "$out6"); cluster=$(cut -d- -f2 <<<"$a")
n1=etcd-$cluster-20991231T000000Z-r1.db.gz.age n2=etcd-$cluster-20991231T000001Z-r2.db.gz.age
n3=etcd-$cluster-20000101T000000Z-r3.db.gz.age
cp "$out6" "$H/$a"; cp "$out6.json" "$H/$a.json"
cp "$out6" "$H/$n1"; cp "$out6.json" "$H/$n1.json"
cp "$out6" "$H/$n2"; cp "$out6" "$H/$n3"
rm -f "$T/hostile.port"
python3 "$TOP_SRCDIR/tests/helpers/s3-standin.py" "$T/hostile.port" "$H" --list-size "$n3=1000" > "$T/hostile.log" 2>&1 &
HPID=$!; kill_at_exit "$HPID"
for _ in $(seq 1 100); do [[ -s $T/hostile.port ]] && break; sleep 0.1; done
sed "s#127.0.0.1:[0-9]*/bucket#127.0.0.1:$(cat "$T/hostile.port")/bucket#" "$T/flaky.conf" > "$T/hostile.conf"
got=$("$ETCD_BACKUPCTL" -c "$T/hostile.conf" fetch latest --output "$T/h-out" 2>"$T/h1.err"); rc=$?
check "passed over: latest is the newest backup with a usable sidecar ($(cat "$T/h1.err"))" \
  test $rc -eq 0 -a "$got" = "$T/h-out/$a"
check "passed over: named, with why" \
  grep -qF "newer ones passed over: $n2 (no sidecar); $n1 (sidecar unusable: its sidecar is another backup's)" "$T/h1.err"
check "passed over: byte-identical" cmp -s "$got" "$out6"
got=$("$ETCD_BACKUPCTL" -c "$T/hostile.conf" fetch "$n2" --output "$T/h-out" 2>"$T/h2.err"); rc=$?
check "no sidecar there: fetched unchecked, exit 0" test $rc -eq 0 -a -f "$T/h-out/$n2" -a ! -e "$T/h-out/$n2.json"
check "no sidecar there: said, with the advice to verify" \
  grep -qF "with no sidecar there to check it against; check it with \`etcd-backupctl verify $T/h-out/$n2\`" "$T/h2.err"
echo '{}' > "$T/h-out2/$n2.json"
"$ETCD_BACKUPCTL" -c "$T/hostile.conf" fetch "$n2" --output "$T/h-out2" >/dev/null 2>"$T/h3.err"; rc=$?
check "a sidecar file in DIR, none there: refused" \
  bash -c "[[ $rc -eq 1 ]] && grep -qF '$T/h-out2/$n2.json is there already; nothing fetched' '$T/h3.err' && [[ ! -e '$T/h-out2/$n2' ]]"
"$ETCD_BACKUPCTL" -c "$T/hostile.conf" fetch "$n3" --output "$T/h-out2" >/dev/null 2>"$T/h4.err"; rc=$?
check "a body longer than listed: stopped, exit 1" \
  bash -c "[[ $rc -eq 1 ]] && grep -qF 'more than the 1000 bytes the listing says arrived; nothing fetched' '$T/h4.err'"
check "a body longer than listed: nothing left" test "$(ls -A "$T/h-out2")" = "$n2.json"
kill "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null
# A prefix with a large folder below it (100001 objects in sub/, more than a
# listing takes): only the prefix's own level is listed (delimiter=/), so
# the folder is no object of ours and counts against nothing.
rm -f "$T/deep.port"
python3 "$TOP_SRCDIR/tests/helpers/s3-standin.py" "$T/deep.port" "$H" --deep 100001 > "$T/deep.log" 2>&1 &
DPID2=$!; kill_at_exit "$DPID2"
for _ in $(seq 1 100); do [[ -s $T/deep.port ]] && break; sleep 0.1; done
sed "s#127.0.0.1:[0-9]*/bucket#127.0.0.1:$(cat "$T/deep.port")/bucket#" "$T/flaky.conf" > "$T/deep.conf"
mkdir -p "$T/h-deep"
got=$("$ETCD_BACKUPCTL" -c "$T/deep.conf" fetch latest --output "$T/h-deep" 2>"$T/deep.err"); rc=$?
check "a folder of 100001 objects below the prefix: fetch latest still finds the newest (exit $rc: $(head -c 200 "$T/deep.err"))" \
  test $rc -eq 0 -a "$got" = "$T/h-deep/$a"
kill "$DPID2" 2>/dev/null; wait "$DPID2" 2>/dev/null

# 6f. A store that pages in a loop, and one whose error holds a terminal
# control sequence: the listing stops, and says why; the message reaches
# the terminal as printable ASCII. (An alternating token paged on for
# 100000 pages, holding the worker and every later backup.)
for mode in loop denied; do
  rm -f "$T/l$mode.port"
  python3 "$TOP_SRCDIR/tests/helpers/s3-standin.py" "$T/l$mode.port" "$H" "--list-$mode" > "$T/l$mode.log" 2>&1 &
  LPID=$!; kill_at_exit "$LPID"
  for _ in $(seq 1 100); do [[ -s $T/l$mode.port ]] && break; sleep 0.1; done
  sed "s#127.0.0.1:[0-9]*/bucket#127.0.0.1:$(cat "$T/l$mode.port")/bucket#" "$T/flaky.conf" > "$T/l$mode.conf"
  timeout 60 "$ETCD_BACKUPCTL" -c "$T/l$mode.conf" fetch latest --output "$T/h-out2" >/dev/null 2>"$T/l$mode.err"; rc=$?
  check "listing $mode: fetch exits 1 (rc $rc): $(tr -c '[:print:]\n' '?' < "$T/l$mode.err")" test $rc -eq 1
  case $mode in
    loop) check "listing loop: a token that comes back stops it at once (asked $(grep -c LIST "$T/l$mode.log") times)" \
            bash -c 'grep -qF "truncated without a new continuation token (page 3)" "$1" && [[ $(grep -c LIST "$2") -eq 3 ]]' \
            _ "$T/l$mode.err" "$T/l$mode.log" ;;
    denied) check "listing denied: the message as printable ASCII" \
              bash -c 'grep -q "HTTP 403 AccessDenied: x  2J 31mall good" "$1" && ! LC_ALL=C grep -q "[^[:print:][:space:]]" "$1"' \
              _ "$T/l$mode.err" ;;
  esac
  kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null
done

# A store that hands out new pages slowly without end: the listing stops
# once it has taken 4 times upload.request_timeout (here 1 s), not after
# 10000 pages (83 minutes at this pace, holding the worker).
rm -f "$T/lslow.port"
python3 "$TOP_SRCDIR/tests/helpers/s3-standin.py" "$T/lslow.port" "$H" --list-slow > "$T/lslow.log" 2>&1 &
LPID=$!; kill_at_exit "$LPID"
for _ in $(seq 1 100); do [[ -s $T/lslow.port ]] && break; sleep 0.1; done
sed "s#127.0.0.1:[0-9]*/bucket#127.0.0.1:$(cat "$T/lslow.port")/bucket#; s#region = #request_timeout = \"1s\"; region = #" \
  "$T/flaky.conf" > "$T/lslow.conf"
start=$SECONDS
timeout 120 "$ETCD_BACKUPCTL" -c "$T/lslow.conf" fetch latest --output "$T/h-out2" >/dev/null 2>"$T/lslow.err"; rc=$?
check "slow pages without end: fetch exits 1 within 60 s (rc $rc, $((SECONDS - start)) s, $(grep -c LIST "$T/lslow.log") pages)" \
  test $rc -eq 1 -a $((SECONDS - start)) -lt 60
check "slow pages without end: said" grep -qE "listing of .*/bucket/node1/: not done after [0-9]+ pages in 4s \(4 times \
upload.request_timeout\): the store answers too slowly" "$T/lslow.err"
grep -q "not done after" "$T/lslow.err" || sed 's/^/# /' "$T/lslow.err"
kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null

# 7. The daemon: a failed upload shows in STATUS=, the journal line and metrics.
B=$T/d
{ etcd_group; storage_group "$B" gzip 1; echo "$encryption"
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = true; retry = { attempts = 0; backoff = \"1s\"; }; };"
  echo "upload: { url = \"$S3_URL/$S3_BUCKET/node2/\"; region = \"us-east-1\"; access_key_id = \"$S3_KEY\";"
  echo "          secret_access_key_file = \"$T/bad-secret\"; allow_insecure_http = true; };"
  echo "control: { socket = \"$T/control7.sock\"; group = \"\"; };"
  echo "metrics: { textfile = \"$T/metrics.prom\"; };"; } > "$T/d.conf"
"$NOTIFY_RECV" "$T/notify.sock" 60 > "$T/notify.log" &
NPID=$!; kill_at_exit "$NPID"
check "the notify listener's socket is there" wait_until 15 test -S "$T/notify.sock"
NOTIFY_SOCKET=$T/notify.sock "$ETCD_BACKUPD" -c "$T/d.conf" > "$T/daemon.log" 2>&1 &
DPID=$!; kill_at_exit -9 "$DPID"
wait_for() { # file pattern seconds
  for _ in $(seq 1 $(($3 * 10))); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1
}
check "daemon: STATUS says the backup is ok and the upload failed" \
  wait_for "$T/notify.log" '^STATUS=Idle\. Last backup [0-9:]+ ok, rev [0-9]+, [^;]+; upload failed: listing of .*HTTP 403 SignatureDoesNotMatch' 30
check "daemon: the upload failure is logged" grep -q 'Upload failed after backup .*HTTP 403' "$T/daemon.log"
check "daemon: metrics count the failed upload" wait_for "$T/metrics.prom" '^etcd_backup_upload_failures_total 1$' 5
check "daemon: metrics keep the backup's success" grep -q '^etcd_backup_last_attempt_success 1$' "$T/metrics.prom"
check "daemon: metrics say the last upload failed" grep -q '^etcd_backup_upload_last_attempt_success 0$' "$T/metrics.prom"
st=$("$ETCD_BACKUPCTL" -s "$T/control7.sock" --json status 2>&1)
jq_true .upload "$st" || echo "# status: $st"
check "daemon: status --json keeps the backup ok and the upload error apart" \
  jq_true '(.last.name | startswith("etcd-")) and (.upload.error | test("HTTP 403")) and .upload.failures_total == 1' "$st"
check "daemon: status says Upload: FAILED" grep -q '^Upload: *FAILED: .*HTTP 403' <<<"$("$ETCD_BACKUPCTL" -s "$T/control7.sock" status 2>&1)"
check "daemon: the local backup exists" test "$(backups "$B")" -eq 1
kill -TERM "$DPID"; wait "$DPID" 2>/dev/null

# 8. The daemon, a good upload with remote retention (keep_last = 1): what
# its worker uploaded and deleted remotely reaches the daemon's log.
B=$T/b
conf "$T/d8.conf" "$T/secret" 1 true
{ echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = false; };"
  echo "control: { socket = \"$T/control.sock\"; group = \"\"; };"; } >> "$T/d8.conf"
before8=$(remote_backups)
"$ETCD_BACKUPD" -c "$T/d8.conf" > "$T/daemon8.log" 2>&1 &
DPID=$!; kill_at_exit -9 "$DPID"
check "the daemon's control socket listens" wait_until 30 listening "$T/control.sock"
out8=$(timeout 120 "$ETCD_BACKUPCTL" -s "$T/control.sock" --json backup 2>&1); rc=$?
check "daemon: a backup through the control socket succeeds" test $rc -eq 0
new8=$(comm -13 <(echo "$before8") <(remote_backups))
gone8=$(comm -23 <(echo "$before8") <(remote_backups))
check "daemon: one new remote backup ($new8), one left" test -n "$new8" -a "$(remote_backups | grep -c .)" = 1
check "daemon: the upload is in the daemon's log" grep -qF "Uploaded $new8 to " "$T/daemon8.log"
check "daemon: each remote deletion ($(grep -c . <<<"$gone8")) is in the daemon's log" \
  bash -c '[[ -n $1 ]] && for n in $1; do grep -qF "Pruned $n from " "$2" || exit 1; done' _ "$gone8" "$T/daemon8.log"
# A reload moving upload.url while a backup runs: the backup goes where its
# job started, and its result is logged with that URL, not the new one.
oks=$(grep -c ' ok, rev ' "$T/daemon8.log")
"$ETCD_BACKUPCTL" -s "$T/control.sock" backup >/dev/null 2>&1 & cpid=$!
hold_worker "$DPID"; held=$HELD_WORKER
check "reload during a backup: its worker held" test -n "$held"
reloads=$(grep -c 'Reloaded ' "$T/daemon8.log")
sed -i 's#/node1/#/node9/#' "$T/d8.conf"
kill -HUP "$DPID"
check "reload during a backup: reloaded" wait_until 30 bash -c '(( $(grep -c "Reloaded " "$1") > $2 ))' _ "$T/daemon8.log" "$reloads"
[[ -n $held ]] && kill -CONT "$held"
wait "$cpid"; rc=$?
check "reload during a backup: the backup succeeds (rc $rc), one more logged" \
  test $rc -eq 0 -a "$(grep -c ' ok, rev ' "$T/daemon8.log")" -eq $((oks + 1))
last8=$(grep -o 'Backup [^ ]* ok' "$T/daemon8.log" | tail -1 | awk '{ print $2 }')
check "reload during a backup: its upload logged with the URL it went to" \
  grep -qF "Uploaded $(basename "$last8") to $S3_URL/$S3_BUCKET/node1/" "$T/daemon8.log"
check "reload during a backup: nothing logged as uploaded to the new URL" bash -c '! grep -q "to .*/node9/" "$1"' _ "$T/daemon8.log"
check "reload during a backup: the copy is under node1/" grep -q "node1/$(basename "$last8") " <<<"$(remote node1)"
kill -TERM "$DPID"; wait "$DPID" 2>/dev/null

# 9. A libcurl that cannot sign with SigV4 (older than 7.75, or built
# without AWS support; tests/helpers/curl-nosigv4.c, found first on
# LD_LIBRARY_PATH, passes everything else on to the real one): no request
# is made (libcurl would send the key and secret as HTTP Basic), and the
# failure names the cause.
# The real one: beside the libc the daemon runs with (the right architecture on a multiarch host).
real=$(dirname "$(ldd "$ETCD_BACKUPD" | awk '$1 == "libc.so.6" { print $3 }')")/libcurl.so.4
[[ -e $real ]] || not_ok "no libcurl.so.4 beside the daemon's libc ($real)"
mkdir -p "$T/nosigv4" "$T/b9"
ln -sf "$CURL_NOSIGV4" "$T/nosigv4/libcurl.so.4"
sed "s#\"$B\"#\"$T/b9\"#; s#/node1/#/node10/#" "$T/good.conf" > "$T/b9.conf"
out9=$(LD_LIBRARY_PATH="$T/nosigv4" REAL_LIBCURL="$real" timeout 120 "$ETCD_BACKUPD" --once -c "$T/b9.conf" 2>"$T/9.err"); rc=$?
check "no SigV4 in libcurl: --once exits 1, the backup is kept (rc $rc)" test $rc -eq 1 -a -f "$out9"
check "no SigV4 in libcurl: the failure names it" grep -qF "Upload failed after backup $out9: listing of \
$S3_URL/$S3_BUCKET/node10/: the libcurl loaded cannot make a SigV4-signed request" "$T/9.err"
grep -q "SigV4-signed" "$T/9.err" || sed 's/^/# /' "$T/9.err"
check "no SigV4 in libcurl: nothing under node10/ on the store" test -z "$(remote node10)"

# 10. Run as root into the service user's directory (a backup before an
# upgrade): a name that user made a hard link to one of root's files is not
# uploaded (root's file would go to a bucket that user reads), and the
# rest is, also what is older than that name (listed newest first).
if [[ $(id -u) = 0 ]] && id nobody >/dev/null 2>&1; then
  chmod 0711 "$T"
  install -d -m 0700 -o nobody -g nogroup "$T/b10"
  sed "s#\"$B\"#\"$T/b10\"#; s#/node1/#/node11/#" "$T/good.conf" > "$T/b10.conf"
  cid=$(basename "$out" | cut -d- -f2)
  linked=etcd-$cid-$(date -u -d '+5 min' +%Y%m%dT%H%M%SZ)-r1.db.gz.age
  printf 'root:x:0:0\n' > "$T/victim"; chmod 0600 "$T/victim"
  ln "$T/victim" "$T/b10/$linked"
  out10=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/b10.conf" 2>"$T/10.err"); rc=$?
  check "as root, a hard link in the directory: --once exits 1, the backup kept (rc $rc)" \
    test $rc -eq 1 -a -f "$out10"
  check "as root: the hard link is refused, said so" grep -qF "upload of $linked to $S3_URL/$S3_BUCKET/node11/\
$linked: not sent by root: the local file belongs to uid 0, not to the backup directory's owner \
(uid $(id -u nobody))" "$T/10.err"
  check "as root: the hard link is not on the store; the new backup, older by its name, is" \
    test "$(remote node11 | cut -d' ' -f1 | grep -v json)" = "node11/$(basename "$out10")"
  rm -f "$T/b10/$linked"
else
  not_ok "as root into nobody's directory: needs root and the user nobody"
fi

# 11. A local backup not on the store whose size is no longer its sidecar's
# (damaged since it was made) is not uploaded: off the machine it would
# count as good and push a good copy out. The rest is uploaded; the run
# says why it failed.
mkdir -p "$T/b11"
sed "s#\"$B\"#\"$T/b11\"#; s#/node1/#/node12/#" "$T/good.conf" > "$T/b11.conf"
x11=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/b11.conf" 2>"$T/11a.err"); rc=$?
check "11: a first backup, uploaded (rc $rc)" test $rc -eq 0 -a -n "$(remote node12 | grep -F "node12/$(basename "$x11") ")"
s3 DELETE "/$S3_BUCKET/node12/$(basename "$x11")" >/dev/null
truncate -s -1 "$x11"
ctl put /u11 1 >/dev/null
out11=$(timeout 120 "$ETCD_BACKUPD" --once -c "$T/b11.conf" 2>"$T/11.err"); rc=$?
check "11: the damaged backup: --once exits 1, the new backup kept (rc $rc)" test $rc -eq 1 -a -f "$out11"
check "11: said why it is not uploaded" grep -qF "$(basename "$x11") has $(stat -c %s "$x11") bytes here, not the \
$(( $(stat -c %s "$x11") + 1 )) its sidecar says (damaged since it was made): not uploaded" "$T/11.err"
check "11: not on the store; the new backup is" \
  test "$(remote node12 | cut -d' ' -f1 | grep -v json)" = "node12/$(basename "$out11")"

finish
