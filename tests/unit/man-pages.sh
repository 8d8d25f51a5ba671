#!/usr/bin/env bash
# The manual pages name everything the programs accept: every configuration
# key that daemon/config/config-schema.c's schema tables accept (as *group.key* in
# etcd-backupd.conf(5)), every command and option that `etcd-backupctl
# --help` and each `etcd-backupctl COMMAND --help` list (in etcd-backupctl(8)),
# and every option of `etcd-backupd --help` (in etcd-backupd(8)). When scdoc
# was found, the built pages exist and render with man.
set -uo pipefail
src=${TOP_SRCDIR:?} build=${TOP_BUILDDIR:?}
fails=0 checked=0
miss() { echo "not ok: $1"; fails=$((fails + 1)); }

# has PAGE WORD: the page shows WORD in bold (*WORD*, or *WORD*=ARG / *WORD* in a list).
has() { checked=$((checked + 1)); grep -qF -- "*$2*" "$src/daemon/man/$1.scd" || miss "$1 does not name $2"; }

# ---- configuration keys -------------------------------------------------------
# "table key child" for every entry of every KeySpec table; child is the
# nested table of a KEY_GROUP entry.
entries=$(awk '
  match($0, /static const KeySpec [a-z_]+\[\]/) { split(substr($0, RSTART, RLENGTH), w, /[ \[]/); t = w[4]; next }
  t != "" && /^};/ { t = ""; next }
  t != "" && match($0, /\{ "[a-z_]+", KEY_[A-Z_]+/) {
    split(substr($0, RSTART, RLENGTH), w, /"/); key = w[2]; child = "-"
    if ($0 ~ /KEY_GROUP/ && match($0, /[a-z_]+_keys *\}/)) { child = substr($0, RSTART, RLENGTH); sub(/ *\}/, "", child) }
    print t, key, child
  }' "$src/daemon/config/config-schema.c")
[[ -n $entries ]] || miss "no KeySpec tables found in config-schema.c"
keys=()
walk() { # TABLE PREFIX
  local t k c
  while read -r t k c; do
    [[ $t == "$1" ]] || continue
    [[ -n $2 ]] && keys+=("$2$k")
    [[ $c != - ]] && walk "$c" "$2$k."
  done <<<"$entries"
}
walk root_keys ""
((${#keys[@]} > 30)) || miss "only ${#keys[@]} keys read from config-schema.c: the table format changed?"
for k in "${keys[@]}"; do has etcd-backupd.conf.5 "$k"; done
echo "config keys: ${#keys[@]}"

# ---- options and commands ------------------------------------------------------
# options_of: the options a --help text offers: those of its Usage: lines and
# those that start an indented option line (not options of other programs
# that the prose mentions, such as kube-apiserver's --etcd-servers).
options_of() {
  awk '/^Usage:/ { u = 1; print; next } u && /^ +\[/ { print; next } { u = 0 }
       /^ +(-[A-Za-z], )?--?[A-Za-z]/ { print $1, $2 }' |
    grep -oE '(^|[][ ,|(])(--[a-z][a-z-]*|-[A-Za-z])\b' | sed 's/^[][ ,|(]//' | sort -u
}

help=$("$ETCD_BACKUPCTL" --help) || miss "etcd-backupctl --help failed"
commands=$(sed -n '/^Commands:/,$p' <<<"$help" | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[[ $(wc -w <<<"$commands") -ge 10 ]] || miss "etcd-backupctl --help lists only: $commands"
all=$help
for c in $commands; do
  has etcd-backupctl.8 "$c"
  ch=$("$ETCD_BACKUPCTL" "$c" --help) || miss "etcd-backupctl $c --help failed"
  all+=$'\n'$ch
done
for o in $(options_of <<<"$all"); do has etcd-backupctl.8 "$o"; done
echo "etcd-backupctl commands: $(wc -w <<<"$commands")"

dhelp=$("$ETCD_BACKUPD" --help) || miss "etcd-backupd --help failed"
dopts=$(options_of <<<"$dhelp")
[[ $(wc -w <<<"$dopts") -ge 5 ]] || miss "etcd-backupd --help lists only: $dopts"
for o in $dopts; do has etcd-backupd.8 "$o"; done

# ---- the built pages -----------------------------------------------------------
if [[ -f $build/daemon/man/etcd-backupd.8 ]] || grep -q '"scdoc"' "$build/meson-info/intro-targets.json" 2>/dev/null; then
  for p in etcd-backupd.8 etcd-backupctl.8 etcd-backupd.conf.5; do
    checked=$((checked + 1))
    out=$(MANWIDTH=80 man -l "$build/daemon/man/$p" 2>&1) && grep -q '^NAME' <<<"$out" \
      || miss "$build/daemon/man/$p does not render: $(head -3 <<<"$out")"
    grep -q '@SYSCONFDIR@' "$build/daemon/man/$p" && miss "$p still says @SYSCONFDIR@"
  done
fi

echo "man-pages: $checked checks, $fails missing"
((fails == 0))
