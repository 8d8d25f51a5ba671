#!/bin/bash
# SPDX-License-Identifier: MIT
#
# calendar-parity.sh — `etcd-backupctl calendar` against the real
# `systemd-analyze calendar` (systemd 252): a wide set of expressions in six
# time zones (among them 30-minute DST on Lord Howe and the +12:45/+13:45
# Chatham Islands) from base times around DST changes, month ends, Feb 28/29
# and the year end, five iterations each. "From now:" lines depend on the
# wall clock and are dropped; everything else, and the exit status, must be
# identical. Then a list of bad expressions that both must reject. Stops with
# a diff at the first mismatch; prints how many cases passed.
#
# Environment: ETCD_BACKUPCTL (the binary; run as "$ETCD_BACKUPCTL calendar"),
# TOP_BUILDDIR (unused beyond locating the binary when ETCD_BACKUPCTL is
# unset), CALENDAR_CMD (optional: a command that takes the calendar
# arguments directly, overriding both), SYSTEMD_ANALYZE (default
# systemd-analyze). Exit 77 (skip) when systemd-analyze is missing or is not
# version 252, whose behaviour this test pins.

set -u

analyze=${SYSTEMD_ANALYZE:-systemd-analyze}
if ! command -v "$analyze" >/dev/null 2>&1; then
        echo "SKIP: $analyze not found"
        exit 77
fi
version=$("$analyze" --version | awk 'NR == 1 { print $2 }')
if [ "$version" != 252 ] && [ -z "${CALENDAR_PARITY_ANY_VERSION:-}" ]; then
        echo "SKIP: systemd $version, this test pins 252 (set CALENDAR_PARITY_ANY_VERSION=1 to run anyway)"
        exit 77
fi

if [ -n "${CALENDAR_CMD:-}" ]; then
        read -r -a ours <<<"$CALENDAR_CMD"
else
        ctl=${ETCD_BACKUPCTL:-${TOP_BUILDDIR:-build}/etcd-backupctl}
        if [ ! -x "$ctl" ]; then
                echo "FAIL: $ctl is not executable (set ETCD_BACKUPCTL or CALENDAR_CMD)"
                exit 1
        fi
        ours=("$ctl" calendar)
fi
theirs=("$analyze" calendar)

expressions=(
        # shorthands, any case
        minutely hourly daily weekly monthly yearly annually anually quarterly
        semiannually semi-annually biannually bi-annually DAILY Weekly
        # plain times and dates
        '*-*-* 02:00:00' '*-*-* 02:00' '2:00' '02:30' '03:00' '01:30' '00:00'
        '23:59:59' '*-*-* 2:30:00' '12:00' '*:*:*' '*:*' '*:0/15' '*:00/15:00'
        '*-*-* *:*:00' '0/3:00' '*-*-* 00/6:00' '1,13:30' '9..17:00'
        '9..17/2:00' '22..23,0..2:00:00' '*:5..50/15' '*:*:0/20' '*:*:10..50/20'
        # fractional seconds
        '*:*:0/0.5' '*:*:1.5' '*:*:0.25,0.75' '*:*:59.999999' '*:*:1.1234567'
        '*:*:0..1/0.25' '*:*:30/7.5' '13:*:31/7.5,0/1' '*:*:0/1,5'
        # weekdays
        'Mon..Fri 9:00' 'Mon..Fri *-*-* 09:00:00' 'Sat,Sun 10:00' 'mon 00:00'
        'MONDAY,sun 9:00' 'Mon-Wed 9:00' 'Mon,Wed,Fri..Sun 12:00' 'Fri *-*-13'
        'Mon *-*-1..7 03:00' 'Sun *-*-* 02:30' 'Sun *-*-* 03:00' 'Tue,Thu 0/2:15'
        'Mon..Sun 12:00' 'Sat *-02-29' 'Mon, 9:00' 'Sun'
        # month ends, days from the end, Feb 29
        '*-02~01' '*-*~01' '*~01' '*-*~07/1' '*-*~1..3' '*-*~04/2' '*-*~28'
        '*-02-29' '*-02-28,29' '*-*-31' '*-*-29..31' '*-02-30' '*-*-01,15'
        '*-01,04,07,10-01' '*-2..11/3-1' '*-*-1/10 06:00' '*-*~1,2,3' '*-*~5,9'
        # blanks: runs between the parts, trailing after the date
        '*-2 ' 'Mon *-*-* ' '*-*-*  12:00' '1-1  12:00' 'Mon  *-*-* 9:00'
        # years
        '2025-*-*' '2024-02-29' '2030-01-01' '2024..2026-03-31' '24-12-31 23:59:59'
        '2025..2199/25-01-01' '99-1-1' '2020-01-01' '2199-12-31 23:59:59'
        '2024,2026-06-15 12:00' '@1700000000' '@2000000000' '@0'
        # zones
        'daily UTC' '*-*-* 02:00 UTC' 'Mon..Fri 9:00 Europe/Berlin'
        '*-*-* 02:30 America/New_York' '*:0/30 Australia/Lord_Howe'
        '*-*-* 02:00 Asia/Kolkata' '03:45 Pacific/Chatham' 'daily Etc/UTC'
        'daily utc' '*-*-* 01:30 Europe/London' 'weekly Asia/Tokyo'
        '*-*~01 23:00 Pacific/Auckland' '*:*:0/0.5 Europe/Berlin'
)

# Base times, read in each zone (local time unless marked).
bases=(
        '2024-01-01 00:00:00' '2023-12-31 23:59:59' '2024-02-28 12:00:00'
        '2024-02-29 23:59:59' '2023-02-28 23:30:00' '2025-02-28 00:00:00'
        '2024-03-10 01:59:59' '2024-03-31 01:59:59' '2024-03-31 02:30:00'
        '2024-04-07 01:45:00' '2024-04-07 03:30:00' '2024-09-29 02:30:00'
        '2024-10-06 01:59:59' '2024-10-27 02:30:00' '2024-10-27 00:59:59'
        '2024-11-03 01:30:00' '2024-04-30 23:59:59' '2024-06-30 18:00:00'
        '2024-03-30 12:00:00 UTC' '@1711846800' '@1730000000.5' '2038-01-19 03:14:08'
        '2199-12-31 00:00:00' '1970-01-02 00:00:00'
)

zones=(UTC Europe/Berlin America/New_York Australia/Lord_Howe Asia/Kolkata Pacific/Chatham)

bad=(
        '' ' ' 'bad' 'today' 'tomorrow' 'yesterday' 'now' '*' '12' '1:' ':1' '1:2:3:4'
        '*-*-* 25:00' '*-*-* 24:00' '*-*-* 23:60' '*:*:60' '*-13-1' '*-0-1' '*-1-0'
        '*-1-32' '1969-1-1' '2200-1-1' '100-1-1' '*-*-*-*' '*-*-~1' '*-*~29'
        '*-*~3..1' '*-*~1/2' '2024~01-01' '*-*-* 4..2:00' '*-*-* 0/0:00'
        '*-*-* 0/24:00' '*-*-* 1/23:00' '*:*:0/0' '*:*:0..0.5' '*:*:1.' '*:*:.5'
        '*:*:1.5.5' '*:*:59..0' '*:*:0/60' '*:*:2148' '*:*:1/0.0000001'
        '*-*-* 99999999999:00' '*-*-* 2147483648:00'
        '99999999999999999999999999-1-1' 'Mon.. 9:00' 'Wed..Mon 9:00'
        'Mon,,Tue 9:00' 'Mon..Tue..Wed 9:00' 'Monx 9:00' 'Mond 9:00' 'Mon-'
        'daily Europe' 'daily europe/berlin' 'daily  UTC' 'daily UTC UTC' 'UTC'
        ' UTC' '9:00 ' '  9:00' 'Mon 9:00:00   ' '@-1' '@' '@1.5' '@1700000000 12:00'
        '@99999999999' '@9223372036854775808' '*-*-* 12:00 junk' '12:00:00x'
        'daily daily' '*-*-* 1,,2:00' '*-*-* 1,:00' '*-*-* 1..:00' '*-*-* /2:00'
        '*-*~1,26' '*-*~1,2,3,4,5,6,7,8,9,10' '*-*~28,28/1'
        "$(printf '1,%.0s' {1..241})1:00"
)

fail() {
        echo "FAIL: $*"
        echo "$passed cases passed before the failure"
        exit 1
}

# run CMD... -> stdout without "From now:" lines, then "exit=N"
run() {
        local out rc
        out=$("$@" 2>/dev/null)
        rc=$?
        printf '%s\n' "$out" | grep -v '^ *From now: '
        echo "exit=$rc"
}

passed=0
for zone in "${zones[@]}"; do
        for base in "${bases[@]}"; do
                a=$(TZ=$zone run "${theirs[@]}" --iterations 5 --base-time "$base" "${expressions[@]}")
                b=$(TZ=$zone run "${ours[@]}" --iterations 5 --base-time "$base" "${expressions[@]}")
                if [ "$a" != "$b" ]; then
                        # Narrow it down to the first expression that differs.
                        for e in "${expressions[@]}"; do
                                a=$(TZ=$zone run "${theirs[@]}" --iterations 5 --base-time "$base" "$e")
                                b=$(TZ=$zone run "${ours[@]}" --iterations 5 --base-time "$base" "$e")
                                if [ "$a" != "$b" ]; then
                                        diff -u <(echo "$a") <(echo "$b") | sed '1s/.*/--- systemd-analyze/; 2s/.*/+++ etcd-backupctl/'
                                        fail "TZ=$zone --base-time '$base' '$e'"
                                fi
                                passed=$((passed + 1))
                        done
                        diff -u <(echo "$a") <(echo "$b")
                        fail "TZ=$zone --base-time '$base' (all expressions together)"
                fi
                passed=$((passed + ${#expressions[@]}))
        done
done
echo "parity: $passed cases passed (${#expressions[@]} expressions x ${#bases[@]} base times x ${#zones[@]} zones)"

rejected=0
for zone in UTC Europe/Berlin; do
        for e in "${bad[@]}"; do
                a=$(TZ=$zone run "${theirs[@]}" --base-time '2024-03-30 12:00:00' "$e")
                b=$(TZ=$zone run "${ours[@]}" --base-time '2024-03-30 12:00:00' "$e")
                case "$a" in
                *exit=0) fail "systemd-analyze accepts '$e' (TZ=$zone); move it out of the bad list" ;;
                esac
                if [ "$a" != "$b" ]; then
                        diff -u <(echo "$a") <(echo "$b")
                        fail "bad expression '$e' (TZ=$zone) not rejected the same way"
                fi
                passed=$((passed + 1))
                rejected=$((rejected + 1))
        done
done
echo "parity: $rejected bad expressions rejected by both"

# --base-time in every form systemd takes, and near misses: the journal's
# short form (the current year), RFC 3339's T (which systemd 252 refuses),
# weekdays, fractions, UTC and the local zone's abbreviations. (Not a zone
# name behind: ours takes one, systemd-analyze 252 refuses every one.)
base_forms=(
        'Mar 30 12:00:00' 'Mar 30 12:00:00.5' 'march 30 12:00:00' 'MAR 30 12:00:00' 'Feb 29 12:00:00'
        'Mar 3 12:00:00' 'Mar  3 12:00:00' 'Mar 30 12:00' 'Mar 30' 'Mar 30 12:00:00 UTC'
        'Mar 30 12:00:00 CEST' 'Sat Mar 30 12:00:00' 'Mon Mar 30 12:00:00'
        'Dec 31 23:59:59' 'Jan 1 00:00:00' 'Foo 1 00:00:00' 'Mar 32 12:00:00' 'Mar 30 25:00:00'
        '2024-03-30T12:00:00' '2024-03-30T12:00:00.25' '2024-03-30T12:00' 'Sat 2024-03-30T12:00:00'
        '24-03-30T12:00:00' '2024-03-30T12:00:00 UTC' '2024-03-30T12:00:00Z' '2024-03-30t12:00:00'
        'Sat 2024-03-30 12:00:00' 'Sun 2024-03-30 12:00:00' '2024-03-30 12:00:00.000001'
        '2024-03-30 12:00:00 CEST' '24-03-30 12:00' '2024-03-30' '12:00'
)
forms=0
# (Africa/Accra: UTC today, with +0030 summers until 1956 in its history.)
for zone in UTC Europe/Berlin Africa/Accra; do
        for base in "${base_forms[@]}"; do
                a=$(TZ=$zone run "${theirs[@]}" --base-time "$base" '*-*-* 00/6:00')
                b=$(TZ=$zone run "${ours[@]}" --base-time "$base" '*-*-* 00/6:00')
                # A refused option: systemd-analyze exits 1, we exit 2 (usage).
                [ "$a" = "$(printf '\nexit=1')" ] && [ "$b" = "$(printf '\nexit=2')" ] && b=$a
                if [ "$a" != "$b" ]; then
                        diff -u <(echo "$a") <(echo "$b")
                        fail "--base-time '$base' (TZ=$zone) not taken the same way"
                fi
                passed=$((passed + 1))
                forms=$((forms + 1))
        done
done
echo "parity: $forms --base-time forms taken (or refused) the same way"
# The "(in UTC)" lines follow glibc's timezone and daylight, which change
# with the last time it converted to local time: the base time, the elapses
# of a local-time expression, the elapses printed for the expression before.
# America/Danmarkshavn is GMT by its TZ string since 1996, but had -02
# summers before, so glibc takes it for UTC or not depending on that time.
utc_lines=0
utc_case() {
        local zone=$1 a b
        shift
        a=$(TZ=$zone run "${theirs[@]}" "$@")
        b=$(TZ=$zone run "${ours[@]}" "$@")
        if [ "$a" != "$b" ]; then
                diff -u <(echo "$a") <(echo "$b")
                fail "TZ=$zone calendar $* (the \"(in UTC)\" lines)"
        fi
        passed=$((passed + 1))
        utc_lines=$((utc_lines + 1))
}
for zone in America/Danmarkshavn Africa/Accra Africa/Freetown; do
        utc_case "$zone" --iterations 5 --base-time '1995-12-30 12:00' '*-*-* 02:00'
        utc_case "$zone" '*-*-* 02:00 UTC'
        utc_case "$zone" '*-*-* 02:00' '*-*-* 02:00 UTC'
        utc_case "$zone" '*-*-* 02:00 Europe/Berlin' '*-*-* 02:00 UTC' '*-*-* 02:00'
        utc_case "$zone" --base-time '1990-01-01 12:00' '*-*-* 02:00 UTC' '*-*-* 02:00 UTC'
        utc_case "$zone" --base-time '1990-01-01 12:00 UTC' '*-*-* 02:00 UTC'
        utc_case "$zone" --base-time today '*-*-* 02:00 UTC'
        utc_case "$zone" --base-time '@100000' '*-*-* 02:00 UTC' '*-*-* 02:00 Europe/Berlin'
        utc_case "$zone" --base-time '1990-01-01 12:00' '2020-01-01' '*-*-* 02:00 UTC'
        utc_case "$zone" --base-time '1990-01-01 12:00' '*-02-30' '*-*-* 02:00 UTC'
        utc_case "$zone" --iterations 3 --base-time '1995-12-30 12:00' '*-*-* 02:00' '*-*-* 02:00 UTC'
        # A search that gives up where it started, not in 2199.
        utc_case "$zone" --base-time '1995-06-01 12:00' '1990-01-01' '*-*-* 02:00 UTC'
        utc_case "$zone" --base-time '@820465199' '1990-01-01' '*-*-* 02:00 UTC'
        # An expression that does not parse is tried as a timestamp (for a
        # hint), which converts the clock's time, or the time it names.
        utc_case "$zone" --base-time '1995-12-31 12:00' 'junk' '*-*-* 02:00 UTC'
        utc_case "$zone" --base-time '1995-12-31 12:00' 'today' '*-*-* 02:00 UTC'
        utc_case "$zone" --base-time '1995-12-31 12:00' 'junk UTC' '*-*-* 02:00 UTC'
        utc_case "$zone" --base-time '1995-12-31 12:00' 'junk Europe/Berlin' '*-*-* 02:00 UTC'
done
# The local abbreviations a calendar may end in are glibc's tzname[] at the
# last time converted: a zone that gave up daylight saving time no longer
# has its old daylight name once a time of today was converted.
for zone in Asia/Tokyo Europe/Moscow America/Sao_Paulo America/Danmarkshavn; do
        for abbr in JDT MSD -02 GMT; do
                utc_case "$zone" '*-*-* 02:00' "*-*-* 02:00 $abbr"
                utc_case "$zone" "*-*-* 02:00 $abbr" "*-*-* 02:00 $abbr"
                utc_case "$zone" --base-time today "*-*-* 02:00 $abbr"
                utc_case "$zone" --base-time '1995-01-10 12:00' "*-*-* 02:00 $abbr" '*-*-* 02:00 UTC'
        done
done
# The timestamp systemd tries a failed expression as ends in an
# abbreviation only if tzname[] has it then.
utc_case Asia/Tokyo daily '1950-06-01 12:00 JDT' '12:00 JDT'
utc_case Africa/Accra --base-time @1700000000 daily '1930-06-01 +0030' 'daily UTC'
utc_case America/Danmarkshavn daily '1995-06-01 12:00 -02' '*-*-* 02:00 -02'
echo "parity: $utc_lines cases of \"(in UTC)\" lines and abbreviations as glibc's state decides them"
echo "parity: $passed cases passed in all"
