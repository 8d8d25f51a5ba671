#!/usr/bin/env bash
# Golden tests for `etcd-backupd --check-config`: the shipped example passes;
# each tests/configs/bad-*.conf exits 78 and names the line and the problem
# written in its first line ("# expect: LINE: text"), and no other error;
# warn-*.conf exit 0 with the warning ("# expect-warning: LINE: text").
set -uo pipefail
: "${ETCD_BACKUPD:?}" "${TOP_SRCDIR:?}"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

out=$("$ETCD_BACKUPD" --check-config -c "$TOP_SRCDIR/conf/etcd-backupd.conf" 2>&1); rc=$?
# The shipped example names kubeadm's certificate paths; on a host without
# them they are warnings, never errors.
if [[ $rc -eq 0 ]] && ! grep -v ': warning: ' <<<"$out" | grep -q ':[0-9]*: '; then
  ok "shipped example passes"
else
  bad "shipped example: rc=$rc: $out"
fi

for f in "$TOP_SRCDIR"/tests/configs/*.conf; do
  name=$(basename "$f")
  head=$(head -1 "$f")
  out=$("$ETCD_BACKUPD" --check-config -c "$f" 2>&1); rc=$?
  case $head in
    "# expect: "*)
      want=${head#\# expect: }
      line=${want%%: *}; text=${want#*: }
      # That error and no other: a refused value is not reported again
      # as missing ("url is required" after a bad URL).
      errors=$(grep -v ': warning: ' <<<"$out" | grep -c "^$f:[0-9]*: ")
      if [[ $rc -eq 78 ]] && grep -qF -- "$f:$line: $text" <<<"$out" && [[ $errors -eq 1 ]]; then
        ok "$name"
      else
        bad "$name: rc=$rc, wanted 78 and '$f:$line: $text', got: $out"
      fi ;;
    "# expect-warning: "*)
      want=${head#\# expect-warning: }
      line=${want%%: *}; text=${want#*: }
      if [[ $rc -eq 0 ]] && grep -qF -- "$f:$line: warning: $text" <<<"$out"; then
        ok "$name"
      else
        bad "$name: rc=$rc, wanted 0 and '$f:$line: warning: $text', got: $out"
      fi ;;
    *) bad "$name: no '# expect' line" ;;
  esac
done

# A calendar that ends in the local zone's abbreviation elapses (as in
# systemd) only while that abbreviation is in effect: a daily or monthly one
# stops for good after its last elapse before the other begins (named as
# systemd-analyze lists it, the switch too); one that falls in its own half only
# (January for CET) runs on, but a start or reload in the other half finds
# no elapse. Warned about where the zone has two. One that never elapses
# from now, because of its abbreviation or as a date gone by, is warned
# about too (systemd-analyze agrees). The zone's name, or a zone without
# daylight saving time, is not warned about. Which of CET and CEST is in
# effect depends on today's date, so the expectations follow it.
cal=$(mktemp)
now_de=$(TZ=Europe/Berlin date +%Z)
other_de=$([[ $now_de == CET ]] && echo CEST || echo CET)
month_de=$([[ $now_de == CET ]] && echo 01 || echo 07)   # a month wholly in the half in effect now
# A daylight saving time of five days (the zone is checked every day).
short='XST0XDT,J100,J105'
now_short=$(TZ=$short date +%Z)
# Sydney: a weekly calendar in the hour repeated when AEDT ends still
# elapses once after the switch, then never.
now_au=$(TZ=Australia/Sydney date +%Z)
kind_au=$([[ $now_au == AEDT ]] && echo stops || echo never)
half() { case $1 in CET|JST|XST|AEST) echo standard ;; *) echo "daylight saving" ;; esac; }
the_other() { case $1 in CET) echo CEST ;; CEST) echo CET ;; XST) echo XDT ;; XDT) echo XST ;; AEDT) echo AEST ;; AEST) echo AEDT ;; esac; }
unnamed='its name in /usr/share/zoneinfo'
# stop_facts TZ EXPR: "LAST|FROM" by glibc and systemd-analyze: the
# calendar's last elapse (systemd-analyze from now; for one with too many
# elapses before it, from nine days before the zone's next switch, where a
# five-minute, a daily and a weekly calendar still elapse) and the first
# second after the switch, in systemd-analyze's layout.
elapses() { # TZ EXPR [BASE]: every elapse systemd-analyze lists, at most 3000
  TZ=$1 systemd-analyze calendar --iterations 3000 ${3:+--base-time "$3"} "$2" |
    sed -n 's/^ *\(Next elapse\|Iter\. #[0-9]*\): //p'
}
stop_facts() {
  local sw base last from all
  sw=$(TZ=$1 python3 -c 'import time
t = int(time.time()); d = time.localtime(t).tm_isdst
lo, hi = t, t + 86400
while time.localtime(hi).tm_isdst == d: lo, hi = hi, hi + 86400
while hi - lo > 1:
    m = (lo + hi) // 2
    if time.localtime(m).tm_isdst == d: lo = m
    else: hi = m
print(hi)')
  from=$(TZ=$1 date -d "@$sw" '+%a %Y-%m-%d %H:%M:%S %Z')
  all=$(elapses "$1" "$2")
  if [[ $(grep -c . <<<"$all") -ge 3000 ]]; then
    base=$(TZ=$1 date -d "@$((sw - 9 * 86400))" '+%Y-%m-%d %H:%M:%S')
    all=$(elapses "$1" "$2" "$base")
  fi
  last=$(tail -1 <<<"$all")
  echo "$last|$from"
}
for case in "Europe/Berlin|*-*-* 02:00 $now_de|stops|Europe/Berlin" \
            "Europe/Berlin|*:0/5 $now_de|stops|Europe/Berlin" \
            "Europe/Berlin|*-*-01 02:00 $now_de|stops|Europe/Berlin" \
            "Australia/Sydney|Sun 02:30 AEDT|$kind_au|Australia/Sydney" \
            "CET|*-*-* 02:00 $now_de|stops|$unnamed" \
            "$short|*-*-* 02:00 $now_short|stops|$unnamed" \
            "Europe/Berlin|*-$month_de-01 02:00 $now_de|restart|Europe/Berlin" \
            "Europe/Berlin|*-*-* 02:00 $other_de|never|Europe/Berlin" \
            "Europe/Berlin|*-$month_de-* 02:00 $other_de|never|Europe/Berlin" \
            "/usr/share/zoneinfo/Europe/Berlin|*-*-* 02:00 $now_de|stops|Europe/Berlin" \
            "CET-1CEST,M3.5.0,M10.5.0/3|*-*-* 02:00 $now_de|stops|$unnamed" \
            "Asia/Tokyo|*-*-* 02:00 JDT|never|Asia/Tokyo" "Europe/Moscow|*-*-* 02:00 MSD|never|Europe/Moscow" \
            "UTC|2020-01-01 02:00|gone|" "Europe/Berlin|2020-01-01 02:00 CET|gone|" \
            "Europe/Berlin|2020-01-01 02:00 CEST|gone|" "Asia/Tokyo|2020-01-01 02:00 JDT|gone|" \
            "Europe/Berlin|*-*-* 02:00 Europe/Berlin|none|" "Europe/Berlin|*-*-* 02:00|none|" \
            "UTC|*-*-* 02:00 UTC|none|" "Asia/Tokyo|*-*-* 02:00 JST|none|"; do
  IFS='|' read -r tz expr kind zone <<<"$case"
  printf 'schedule: { calendar = "%s"; };\n' "$expr" > "$cal"
  out=$(TZ=$tz "$ETCD_BACKUPD" --check-config -c "$cal" 2>&1); rc=$?
  abbr=${expr##* }
  # A calendar that stops for good has stopped already when its last
  # elapse is behind (a monthly one after its last first of the month).
  [[ $kind == stops ]] && TZ=$tz systemd-analyze calendar "$expr" | grep -q "Next elapse: never" && kind=never
  w="$cal:1: warning: schedule.calendar: \"$expr\" ends in $abbr, the local time zone's abbreviation for its $(half "$abbr") time: as in systemd, it elapses"
  case $kind in
    stops)
      other=$(the_other "$abbr")
      IFS='|' read -r last from <<<"$(stop_facts "$tz" "$expr")"
      [[ $rc -eq 0 && -n $last && -n $from ]] && grep -qF "$w while $abbr is in effect; its last elapse is $last, and after it there is none at all ($other is in effect from $from), so scheduled backups stop then for good (until the daemon is restarted or reloaded while $abbr is in effect)" <<<"$out" \
        && grep -qF "name the zone ($zone)" <<<"$out" && ok "calendar '$expr' in $tz: its last elapse $last, then none, warned" \
        || bad "calendar '$expr' in $tz: rc=$rc (systemd-analyze: last elapse '$last', $other from '$from') $out" ;;
    restart)
      other=$(the_other "$abbr")
      [[ $rc -eq 0 ]] && grep -qF "$w only while $abbr is in effect, and a start or reload of the daemon while $other is in effect finds no elapse at all, so scheduled backups stop until it is started or reloaded while $abbr is in effect" <<<"$out" \
        && grep -qF "name the zone ($zone)" <<<"$out" && ok "calendar '$expr' in $tz: a start in $other finds none, warned" \
        || bad "calendar '$expr' in $tz: rc=$rc $out" ;;
    never)
      [[ $rc -eq 0 ]] && grep -qF "$w only while $abbr is in effect, and from now it never does (\"Next elapse: never\"), so no scheduled backup runs" <<<"$out" \
        && grep -qF "name the zone ($zone)" <<<"$out" && TZ=$tz systemd-analyze calendar "$expr" | grep -q "Next elapse: never" \
        && ok "calendar '$expr' in $tz: never elapses, warned" || bad "calendar '$expr' in $tz: rc=$rc $out" ;;
    gone)
      [[ $rc -eq 0 ]] && grep -qF "$cal:1: warning: schedule.calendar: \"$expr\" never elapses again (systemd-analyze calendar says \"Next elapse: never\"): no scheduled backup runs" <<<"$out" \
        && TZ=$tz systemd-analyze calendar "$expr" | grep -q "Next elapse: never" \
        && ok "calendar '$expr' in $tz: never elapses, warned" || bad "calendar '$expr' in $tz: rc=$rc $out" ;;
    none)
      [[ $rc -eq 0 ]] && ! grep -q "schedule.calendar" <<<"$out" && ok "calendar '$expr' in $tz: no warning" \
        || bad "calendar '$expr' in $tz: rc=$rc $out" ;;
  esac
done
# What the warnings say, by systemd-analyze: the daily calendar's last
# elapse is right before the switch (none after it, from there); the
# one-month one goes on a year later, but has none from the other half.
sw_day=$(python3 -c '
import datetime, zoneinfo
z = zoneinfo.ZoneInfo("Europe/Berlin"); t = datetime.datetime.now(z)
d = t.dst()
while (t + datetime.timedelta(days=1)).dst() == d: t += datetime.timedelta(days=1)
print((t + datetime.timedelta(days=1)).strftime("%Y-%m-%d"))')
last=$(TZ=Europe/Berlin systemd-analyze calendar --base-time "$sw_day 00:00" "*-*-* 02:00 $now_de" | sed -n 's/^ *Next elapse: //p')
check_judge() { if "$@"; then ok "$JUDGE"; else bad "$JUDGE"; fi; }
JUDGE="systemd-analyze: '*-*-* 02:00 $now_de' has no elapse from the day $other_de begins ($sw_day: $last)"
check_judge test "$last" = never
JUDGE="systemd-analyze: '*-$month_de-01 02:00 $now_de' has none from the day $other_de begins"
check_judge bash -c "TZ=Europe/Berlin systemd-analyze calendar --base-time '$sw_day 12:00' '*-$month_de-01 02:00 $now_de' | grep -q 'Next elapse: never'"
JUDGE="systemd-analyze: '*-$month_de-01 02:00 $now_de' goes on a year later from now"
check_judge bash -c "TZ=Europe/Berlin systemd-analyze calendar --iterations 2 '*-$month_de-01 02:00 $now_de' | grep -q 'Iter. #2:'"
rm -f "$cal"

# A file that does not exist, and one that is not text.
out=$("$ETCD_BACKUPD" --check-config -c /nonexistent/etcd-backupd.conf 2>&1); rc=$?
[[ $rc -eq 78 ]] && grep -qF "/nonexistent/etcd-backupd.conf: cannot read: No such file or directory" <<<"$out" \
  && ok "missing config file" || bad "missing config file: rc=$rc $out"
tmp=$(mktemp); printf 'etcd: {\0};\n' > "$tmp"
out=$("$ETCD_BACKUPD" --check-config -c "$tmp" 2>&1); rc=$?
[[ $rc -eq 78 ]] && grep -qF "NUL byte" <<<"$out" && ok "binary config" || bad "binary config: rc=$rc $out"
rm -f "$tmp"

# Relative key names resolve in $CREDENTIALS_DIRECTORY (systemd LoadCredential=).
# systemd hands credentials over as 0400.
creds=$(mktemp -d); install -m 0400 /dev/null "$creds/etcd-client.crt"; install -m 0400 /dev/null "$creds/etcd-client.key"
cfg=$(mktemp); printf 'etcd: { cert = "etcd-client.crt"; key = "etcd-client.key"; cacert = ""; };\n' > "$cfg"
out=$(CREDENTIALS_DIRECTORY=$creds "$ETCD_BACKUPD" --check-config -c "$cfg" 2>&1); rc=$?
[[ $rc -eq 0 ]] && ! grep -q warning <<<"$out" && ok "credentials directory" || bad "credentials directory: rc=$rc $out"
out=$(env -u CREDENTIALS_DIRECTORY "$ETCD_BACKUPD" --check-config -c "$cfg" 2>&1); rc=$?
[[ $rc -eq 0 ]] && grep -qF "$(dirname "$cfg")/etcd-client.crt: No such file" <<<"$out" \
  && ok "relative name beside the config" || bad "relative name beside the config: rc=$rc $out"
# An absolute path whose file name is a credential: the credential is used.
printf 'etcd: { cert = "/nonexistent/pki/etcd-client.crt"; key = "/nonexistent/pki/etcd-client.key"; cacert = ""; };\n' > "$cfg"
out=$(CREDENTIALS_DIRECTORY=$creds "$ETCD_BACKUPD" --check-config -c "$cfg" 2>&1); rc=$?
[[ $rc -eq 0 ]] && ! grep -q warning <<<"$out" && ok "absolute path served by a credential of its name" \
  || bad "absolute path served by a credential of its name: rc=$rc $out"
out=$(env -u CREDENTIALS_DIRECTORY "$ETCD_BACKUPD" --check-config -c "$cfg" 2>&1); rc=$?
[[ $rc -eq 0 ]] && grep -qF "/nonexistent/pki/etcd-client.key: No such file" <<<"$out" \
  && ok "absolute path without credentials" || bad "absolute path without credentials: rc=$rc $out"
# systemd 254 and later (noswap tmpfs) hand a credential over 0440 with an
# ACL for the service's user: an age identity there is not warned about;
# the same mode elsewhere is.
install -m 0440 /dev/null "$creds/restore.agekey"; install -m 0440 /dev/null "$creds/elsewhere.agekey"
printf 'encryption: { recipients = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]; identity_file = "restore.agekey"; };\n' > "$cfg"
out=$(CREDENTIALS_DIRECTORY=$creds "$ETCD_BACKUPD" --check-config -c "$cfg" 2>&1); rc=$?
[[ $rc -eq 0 ]] && ! grep -q "may access it" <<<"$out" && ok "an identity credential at 0440: no warning" \
  || bad "an identity credential at 0440: rc=$rc $out"
mv "$creds/elsewhere.agekey" "$(dirname "$cfg")/elsewhere.agekey"
printf 'encryption: { recipients = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]; identity_file = "%s"; };\n' \
  "$(dirname "$cfg")/elsewhere.agekey" > "$cfg"
out=$(CREDENTIALS_DIRECTORY=$creds "$ETCD_BACKUPD" --check-config -c "$cfg" 2>&1); rc=$?
[[ $rc -eq 0 ]] && grep -q "group or others may access it (mode 0440)" <<<"$out" && ok "an identity at 0440 elsewhere: warned" \
  || bad "an identity at 0440 elsewhere: rc=$rc $out"
rm -f "$(dirname "$cfg")/elsewhere.agekey"
rm -rf "$creds" "$cfg"

# Usage errors exit 2; --version and --help exit 0.
"$ETCD_BACKUPD" --bogus >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] && ok "usage error exit $rc" || bad "usage error exit $rc"
"$ETCD_BACKUPD" --version | grep -q '^etcd-backupd ' && ok "--version" || bad "--version"

echo "config-golden: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
