#!/usr/bin/env bash
# Random and mutated configurations to `etcd-backupd --check-config`: the
# shipped example with lines deleted, duplicated, cut or swapped, bytes
# flipped and junk inserted, plus random bytes. Every run must exit 0 or 78
# (never a signal) and every message must name the file ("FILE:LINE: …" or
# "FILE: …").
. "$(dirname "$0")/../integration/lib.sh"
ROUNDS=${ROUNDS:-300}
RANDOM=${SEED:-4242}
src=$TOP_SRCDIR/conf/etcd-backupd.conf
mapfile -t lines < "$src"
n=${#lines[@]}
junk=('{' '}' ';' '"' '= =' '@include "/etc/passwd"' 'etcd: {' '[[[' 'level = 99999999999999999999;' \
      'timeout = "-5s";' 'size = "1Q";' $'\x01\x02' 'endpoints = [1, 2];' 'x = 1;' '};};')
bad=0 zero=0 config=0
for i in $(seq 1 "$ROUNDS"); do
  f=$T/m$i.conf
  out=("${lines[@]}")
  for _ in $(seq 0 $((RANDOM % 3))); do
    k=$((RANDOM % n))
    case $((RANDOM % 6)) in
      0) out[k]="" ;;
      1) out[k]="${out[k]}${out[k]}" ;;
      2) out[k]="${out[k]:0:$((RANDOM % (${#out[k]} + 1)))}" ;;
      3) out[k]="${junk[RANDOM % ${#junk[@]}]}" ;;
      4) j=$((RANDOM % n)); t=${out[k]}; out[k]=${out[j]}; out[j]=$t ;;
      5) s=${out[k]}; p=$((RANDOM % (${#s} + 1))); out[k]="${s:0:p}$(printf "\\x$(printf %x $((RANDOM % 94 + 33)))")${s:p+1}" ;;
    esac
  done
  if ((i % 10 == 0)); then head -c $((RANDOM % 2000)) /dev/urandom > "$f"; else printf '%s\n' "${out[@]}" > "$f"; fi
  msg=$("$ETCD_BACKUPD" --check-config -c "$f" 2>&1); rc=$?
  case $rc in
    0) zero=$((zero + 1)) ;;
    78) config=$((config + 1)) ;;
    *) bad=$((bad + 1)); echo "# round $i: exit $rc"; cp "$f" "$T/../config-mutation-$i.conf" 2>/dev/null ;;
  esac
  if grep -v -e "^$f:[0-9]*: " -e "^$f: " -e "^$f: OK$" <<<"$msg" | grep -q .; then
    bad=$((bad + 1)); echo "# round $i: a message without FILE:LINE: $(grep -v "^$f" <<<"$msg" | head -2)"
  fi
done
echo "# $ROUNDS configurations: $zero accepted, $config rejected with 78, $bad bad"
check "every mutated configuration exits 0 or 78 with FILE:LINE messages" test "$bad" -eq 0
check "most mutations are caught" test "$config" -gt $((ROUNDS / 2))
finish
