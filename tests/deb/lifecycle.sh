#!/usr/bin/env bash
# The Debian package's life cycle on a pristine Debian 12 root booted with
# systemd (systemd-nspawn --boot, the root read-only under a tmpfs overlay,
# so every run starts from the same root).
#
#   build:    scripts/build-deb builds the package (lintian judges it) and a
#             rebuild with a higher version for the upgrade;
#   root:     debootstrap --variant=minbase bookworm (plus systemd, to boot),
#             cached in $LIFECYCLE_CACHE (default /var/cache/etcd-backupd-test),
#             made again when absent; the same mirror as the host's apt;
#   install:  `apt-get install ./etcd-backupd_*.deb` pulls only libraries and
#             the recommended etcd-client; units present and disabled,
#             nothing started, the user, the catalog, the manual pages, the
#             configuration made from the example (not a conffile);
#   run:      a configuration written by hand for a real mutual-TLS etcd
#             (scripts/dev-etcd on loopback; the container shares the host's
#             network), kubeadm's certificate paths as the shipped unit
#             expects; `systemctl enable --now etcd-backupd.socket
#             etcd-backupd.service`; a scheduled backup appears and is judged
#             by `etcdctl snapshot status`; the restore socket, started by
#             hand, answers root's dry run (refused here: no etcd on this
#             node) and refuses the daemon's user;
#   upgrade:  to the rebuilt package, whose example differs, without a
#             terminal: nothing asked, the daemon runs again (restarted on the
#             new programs), the configuration and every backup are kept and
#             scheduled backups go on;
#   remove:   stops the daemon and the sockets, keeps configuration and backups;
#   purge:    removes the configuration (and the copies discover --force
#             kept) and the runtime files, says that the
#             backups are kept, keeps every backup byte for byte and the key
#             file an operator put beside the configuration;
#   untouched: installed afresh, the configuration (the example, never
#             edited) becomes the new example on the upgrade.
#
# Needs root, network access to the Debian mirror, systemd-nspawn, nsenter,
# debootstrap, etcd, etcdctl. Prints the time of each phase.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
PASS=0 FAIL=0 TIME_LIMIT=${TIME_LIMIT:-1500}
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { echo "# $PASS passed, $FAIL failed"; [[ $FAIL -eq 0 ]] && exit 0; exit 1; }
# The container is booted with the e2e tests' helpers (tests/e2e/lib.sh).
TOP_SRCDIR=$top
. "$top/tests/e2e/lib.sh"

[[ $(id -u) -eq 0 ]] || { echo "lifecycle.sh needs root"; exit 77; }
for c in systemd-nspawn nsenter debootstrap etcd etcdctl dpkg-deb; do
  command -v "$c" >/dev/null || { echo "lifecycle.sh needs $c"; exit 1; }
done

e2e_setup etcd-backupd-deb
etcd_dir=$T/etcd
e2e_cleanup_deb() { "$top/scripts/dev-etcd" --stop "$etcd_dir" >/dev/null 2>&1; e2e_cleanup; }
trap e2e_cleanup_deb EXIT

phase_start=$SECONDS
phase() { echo "# phase $1: $((SECONDS - phase_start)) s"; phase_start=$SECONDS; }

# ---- build ------------------------------------------------------------------
v1=$(cd "$top" && dpkg-parsechangelog -S Version)
v2=$v1+lifecycle1
# LIFECYCLE_DEBS=DIR: take both packages from DIR (a developer's rerun of
# the later phases); scripts/check always builds them.
if [[ -n ${LIFECYCLE_DEBS:-} ]]; then
  mkdir -p "$T/deb1" "$T/deb2"
  cp "$LIFECYCLE_DEBS"/etcd-backupd_"$v1"_*.deb "$T/deb1/" && cp "$LIFECYCLE_DEBS"/etcd-backupd_"$v2"_*.deb "$T/deb2/" ||
    { not_ok "packages $v1 and $v2 in $LIFECYCLE_DEBS"; finish; }
else
  if BUILD_DEB_DIR=$T/deb1 "$top/scripts/build-deb" > "$T/build1.log" 2>&1; then
    ok "build-deb $v1 (lintian: no error, no warning)"
  else
    cat "$T/build1.log"; not_ok "build-deb $v1"; finish
  fi
  if DEB_VERSION=$v2 BUILD_DEB_DIR=$T/deb2 "$top/scripts/build-deb" > "$T/build2.log" 2>&1; then
    ok "build-deb $v2"
  else
    cat "$T/build2.log"; not_ok "build-deb $v2"; finish
  fi
fi
mkdir -p "$T/pkgs"
cp "$T"/deb1/etcd-backupd_"$v1"_*.deb "$T"/deb2/etcd-backupd_"$v2"_*.deb "$T/pkgs/"
deb1=$(cd "$T/pkgs" && ls etcd-backupd_"$v1"_*.deb) deb2=$(cd "$T/pkgs" && ls etcd-backupd_"$v2"_*.deb)
depends=$(dpkg-deb -f "$T/pkgs/$deb1" Depends)
# Libraries from shlibs, what debhelper adds for the sysusers.d entry, and
# procps for ExecReload='s /bin/kill.
check "Depends: only shared libraries, systemd-sysusers and procps ($depends)" \
  test -z "$(tr ',' '\n' <<<"$depends" | sed 's/^ *//' | grep -vxE 'systemd \| systemd-standalone-sysusers \| systemd-sysusers' |
             sed 's/ .*//' | grep -vE '^(lib|zlib1g$|procps$)')"
check "Recommends: etcd-client" test "$(dpkg-deb -f "$T/pkgs/$deb1" Recommends)" == etcd-client
phase build

# ---- the root -------------------------------------------------------------------
cache=${LIFECYCLE_CACHE:-/var/cache/etcd-backupd-test}
root=$cache/bookworm
# The mirror the host's apt uses for bookworm (deb822 or one-line sources).
mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ { u = $2 } /^Suites:.*bookworm( |$)/ && u ~ /debian\/?$/ { print u; exit }')
[[ -n $mirror ]] || mirror=$(grep -hE '^deb .* bookworm ' /etc/apt/sources.list 2>/dev/null | awk '{ print $2; exit }')
mirror=${mirror:-http://deb.debian.org/debian}
if [[ ! -x $root/lib/systemd/systemd ]]; then
  echo "# making the Debian 12 root in $root from $mirror"
  rm -rf "$root.new"; mkdir -p "$cache"
  if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$root.new" "$mirror" \
       > "$T/debootstrap.log" 2>&1; then
    tail -20 "$T/debootstrap.log"; not_ok "debootstrap"; finish
  fi
  mv "$root.new" "$root"
fi
check "the cached root is Debian 12" grep -q 'VERSION_ID="12"' "$root/etc/os-release"
check "the cached root has no etcd-backupd" test ! -e "$root/usr/sbin/etcd-backupd"
phase root

# ---- etcd ------------------------------------------------------------------------
if ! "$top/scripts/dev-etcd" "$etcd_dir" > "$T/etcd.log" 2>&1; then
  cat "$T/etcd.log"; not_ok "dev-etcd"; finish
fi
. "$etcd_dir/env"
ectl() { etcdctl --endpoints "$ETCD_ENDPOINT" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" "$@"; }
for i in $(seq 1 20); do ectl put "/registry/configmaps/default/cm-$i" "value $i" >/dev/null; done

# ---- boot ---------------------------------------------------------------------------
# e2e_boot boots the host's /; this boots the cached root, read-only under a
# tmpfs overlay, in the host's network namespace (the mirror, the etcd).
systemd-nspawn -D "$root" --volatile=overlay --boot --register=no --keep-unit \
  --machine="$MACHINE" --bind="$T/pkgs:/pkgs" --bind-ro="$etcd_dir/pki/etcd:/e2e-pki" -- \
  systemd.firstboot=off systemd.mask=systemd-networkd-wait-online.service \
  > "$T/nspawn.log" 2>&1 < /dev/null &
NSPAWN_PID=$!
NSPAWN_IDS+=("$(proc_id "$NSPAWN_PID")")
for _ in $(seq 1 100); do
  LEADER=$(pgrep -P "$NSPAWN_PID" | head -1)
  [[ -n $LEADER && $(cat "/proc/$LEADER/comm" 2>/dev/null) == systemd ]] && break
  LEADER=""; sleep 0.1
done
[[ -n $LEADER ]] || { cat "$T/nspawn.log"; not_ok "container booted"; finish; }
LEADERS+=("$(proc_id "$LEADER")")

ct() { # CMD...: inside the container, clean environment, bounded
  echo "+ $*" >> "$T/ct.log"
  timeout 300 nsenter -t "$LEADER" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@" 2>> "$T/ct.log" < /dev/null
}
wait_until() { # SECONDS COMMAND...: polls every 0.2 s
  local n=$(($1 * 5)); shift
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.2; done
  return 1
}
booted() { [[ $(ct systemctl is-system-running) =~ ^(running|degraded)$ ]]; }
check "the container's systemd is up" wait_until 60 booted
prop() { ct systemctl show -P "$2" "$1"; }
is_active() { [[ $(prop "$1" ActiveState) == active ]]; } # UNIT: asked anew each time (for wait_until)
phase boot

# ---- install ------------------------------------------------------------------------
ct dpkg-query -W -f='${Package}\n' | sort > "$T/before"
if ct apt-get update -q > "$T/apt-update.log" && ct apt-get install -y -q "/pkgs/$deb1" > "$T/apt-install.log"; then
  ok "apt-get install ./$deb1"
else
  cat "$T/apt-install.log"; tail -20 "$T/ct.log"; not_ok "apt-get install ./$deb1"; finish
fi
ct dpkg-query -W -f='${Package}\n' | sort > "$T/after"
new=$(comm -13 "$T/before" "$T/after")
echo "# apt-get install added $(wc -l <<<"$new") packages: $(tr '\n' ' ' <<<"$new")"
check "installed: etcd-backupd and the recommended etcd-client" \
  test -n "$(grep -x etcd-backupd <<<"$new")" -a -n "$(grep -x etcd-client <<<"$new")"
# The rest is what those libraries depend on or recommend in Debian
# (ca-certificates, openssl, …); never a build or test tool.
check "installed: no build or test tool, no etcd server" \
  test -z "$(grep -E -- '-dev$|^(gcc.*|cpp.*|clang.*|meson|ninja-build|make|debhelper|scdoc|lintian|etcd-server|python3.*|swift.*|memcached|age|jq)$' <<<"$new")"
check "installed: at most 40 packages ($(wc -l <<<"$new"))" test "$(wc -l <<<"$new")" -le 40
for u in etcd-backupd.service etcd-backupd.socket etcd-backupd-restore.socket etcd-backupd-restore@.service; do
  check "unit $u installed" test -n "$(ct systemctl cat "$u" | grep -m1 '^\[Unit\]')"
done
for u in etcd-backupd.service etcd-backupd.socket etcd-backupd-restore.socket; do
  check "$u disabled" test "$(ct systemctl is-enabled "$u")" == disabled
  check "$u not started" test "$(prop "$u" ActiveState)" == inactive
done
check "the system user etcd-backup exists (sysusers.d)" test -n "$(ct getent passwd etcd-backup)"
check "/etc/etcd-backupd is root:etcd-backup 0750 (tmpfiles.d)" \
  test "$(ct stat -c '%U:%G %a' /etc/etcd-backupd)" == "root:etcd-backup 750"
check "the configuration made from the example: the same bytes, root's, 0644, not a conffile" \
  eval 'ct cmp -s /usr/share/etcd-backupd/etcd-backupd.conf /etc/etcd-backupd/etcd-backupd.conf &&
        test "$(ct stat -c "%U:%G %a" /etc/etcd-backupd/etcd-backupd.conf)" == "root:root 644" &&
        test -z "$(ct dpkg-query -W -f="\${Conffiles}" etcd-backupd)"'
check "the journal catalog was picked up by systemd's trigger" \
  test -n "$(ct journalctl --list-catalog 6f4d1e7603174871a906e1567f206ed7 | grep 'etcd backup completed')"
check "the catalog cites only installed manual pages" \
  test -z "$(for m in $(grep -o 'man:[a-z.-]*([0-9])' "$top/systemd/etcd-backupd.catalog" | sort -u | sed 's/man:\(.*\)(\(.\))/\1.\2/'); do
               ct test -e "/usr/share/man/man${m##*.}/$m.gz" || echo "$m"; done)"
for m in man8/etcd-backupd.8 man8/etcd-backupctl.8 man5/etcd-backupd.conf.5; do
  check "manual page $m installed" ct test -s "/usr/share/man/$m.gz"
done
check "bash completion installed" ct test -s /usr/share/bash-completion/completions/etcd-backupctl
check "etcd-backupctl runs" test -n "$(ct etcd-backupctl --version)"
phase install

# ---- a configuration, enable, a scheduled backup ---------------------------------------------
ct mkdir -p /etc/kubernetes/pki/etcd
for f in ca.crt healthcheck-client.crt healthcheck-client.key; do ct cp "/e2e-pki/$f" /etc/kubernetes/pki/etcd/; done
ct chmod 0600 /etc/kubernetes/pki/etcd/healthcheck-client.key
# The shipped file with the test etcd's endpoint, a schedule every 10 s and
# enough kept that no backup is pruned while the test runs.
sed -e "s|\"https://127.0.0.1:2379\"|\"$ETCD_ENDPOINT\"|" \
    -e 's|calendar = "\*-\*-\* 03:30:00";|calendar = "*-*-* *:*:00/10";|' \
    -e 's|persistent = true;|persistent = false;|' -e 's|keep_last = 7;|keep_last = 1000;|' \
    "$top/conf/etcd-backupd.conf" > "$T/pkgs/etcd-backupd.conf"
check "the hand-written configuration differs from the shipped one only in endpoint, schedule, retention" \
  test "$(diff "$top/conf/etcd-backupd.conf" "$T/pkgs/etcd-backupd.conf" | grep -c '^>')" -eq 4
ct cp /pkgs/etcd-backupd.conf /etc/etcd-backupd/etcd-backupd.conf
check "etcd-backupd --check-config accepts it" ct etcd-backupd --check-config
ct systemctl enable --now etcd-backupd.socket etcd-backupd.service > /dev/null
check "etcd-backupd.service active" wait_until 30 is_active etcd-backupd.service
backups() { ct find /var/lib/etcd-backupd -maxdepth 1 -name 'etcd-*.db.gz' -printf '%f\n' | sort; }
has_backup() { [[ -n $(backups) ]]; }
check "a scheduled backup appears in /var/lib/etcd-backupd" wait_until 60 has_backup
first=$(backups | head -1)
ct cat "/var/lib/etcd-backupd/$first" | gzip -dc > "$T/first.db"
check "the backup passes etcdctl snapshot status" \
  test "$(ETCDCTL_API=3 etcdctl snapshot status "$T/first.db" -w json 2>/dev/null | jq -r .totalKey)" -ge 20
check "etcd-backupctl status (through the socket) answers" ct etcd-backupctl status
check "the journal has the completion event" \
  test -n "$(ct journalctl -u etcd-backupd.service MESSAGE_ID=6f4d1e7603174871a906e1567f206ed7 -o cat)"
# ExecReload= runs /bin/kill (procps, a dependency): a minimal root has no other.
check "systemctl reload etcd-backupd succeeds" ct systemctl reload etcd-backupd.service
reloaded() { ct journalctl -u etcd-backupd.service -o cat | grep -x 'Reloaded /etc/etcd-backupd/etcd-backupd.conf' >/dev/null; }
check "the daemon reloaded its configuration" wait_until 10 reloaded
# The restore socket as packaged, started by hand for a restore: each
# connection a root service of its own. In this container (no etcd here, no
# kubelet) a dry run checks the backup whole, then refuses, saying why.
ct systemctl start etcd-backupd-restore.socket
out=$(ct etcd-backupctl restore latest --dry-run 2>&1); rc=$?
check "restore --dry-run through the packaged restore socket: answered by the restore service, refused with why (exit $rc: $out)" \
  eval 'test $rc -ne 0 && grep -qF "detect: cannot tell how etcd runs here: there is no /etc/kubernetes/manifests/etcd.yaml and etcd.service is not a loaded systemd unit" <<<"$out"'
out=$(ct sh -c 'exec setpriv --reuid=etcd-backup --regid=etcd-backup --clear-groups \
  etcd-backupctl restore latest --dry-run 2>&1'); rc=$?
check "the restore socket refuses the daemon's own user (exit $rc: $out)" \
  eval 'test $rc -ne 0 && grep -q "Permission denied" <<<"$out"'
ct systemctl stop etcd-backupd-restore.socket
check "no restore service left running, the daemon still active" \
  test -z "$(ct systemctl list-units --no-legend --state=active 'etcd-backupd-restore@*')" -a "$(prop etcd-backupd.service ActiveState)" == active
phase run

# ---- upgrade ------------------------------------------------------------------------------
backups > "$T/before-upgrade"
ct sh -c 'cd /var/lib/etcd-backupd && sha256sum etcd-*' | sort > "$T/sums-before-upgrade"
pid1=$(prop etcd-backupd.service MainPID)
# The rebuilt package's example differs (one more comment line) and the
# configuration here was changed: unattended (no terminal, nothing on
# standard input), the upgrade asks nothing.
if ct apt-get install -y -q "/pkgs/$deb2" > "$T/apt-upgrade.log" 2>&1 < /dev/null; then
  ok "apt-get install ./$deb2 (upgrade), without a terminal, though the example and the configuration both changed"
else
  cat "$T/apt-upgrade.log"; tail -20 "$T/ct.log"; not_ok "upgrade"; fi
check "the upgrade brought the new example" ct grep -qx "# Rebuilt as $v2 by scripts/build-deb." /usr/share/etcd-backupd/etcd-backupd.conf
check "upgraded to $v2" test "$(ct dpkg-query -W -f='${Version}' etcd-backupd)" == "$v2"
check "the daemon runs after the upgrade" wait_until 30 is_active etcd-backupd.service
pid2=$(prop etcd-backupd.service MainPID)
check "the daemon was restarted on the new programs (pid $pid1 → $pid2)" test "$pid2" != "$pid1" -a "$pid2" != 0
check "still enabled" test "$(ct systemctl is-enabled etcd-backupd.service)" == enabled
check "the hand-written configuration is kept" \
  cmp -s "$T/pkgs/etcd-backupd.conf" <(ct cat /etc/etcd-backupd/etcd-backupd.conf)
check "every backup taken before the upgrade is kept, unchanged" \
  test -z "$(comm -23 "$T/sums-before-upgrade" <(ct sh -c 'cd /var/lib/etcd-backupd && sha256sum etcd-*' | sort))"
n_before=$(wc -l < "$T/before-upgrade")
newer() { [[ $(backups | wc -l) -gt $n_before ]]; }
check "scheduled backups go on after the upgrade" wait_until 40 newer
phase upgrade

# ---- remove ----------------------------------------------------------------------------------
ct sh -c 'umask 077; echo "AGE-SECRET-KEY-1TESTONLY" > /etc/etcd-backupd/restore.agekey'
# What `discover --write --force` keeps of a configuration it replaces.
ct cp /etc/etcd-backupd/etcd-backupd.conf /etc/etcd-backupd/etcd-backupd.conf.pre-discover-20261201T000000Z
# The restore socket started by hand (a one-off restore), not enabled.
ct systemctl start etcd-backupd-restore.socket
declare -A was_active=()
for u in etcd-backupd.service etcd-backupd.socket etcd-backupd-restore.socket; do was_active[$u]=$(prop "$u" ActiveState); done
ct apt-get remove -y -q etcd-backupd > "$T/apt-remove.log"
check "apt-get remove: package in state rc" test "$(ct dpkg-query -W -f='${db:Status-Abbrev}' etcd-backupd)" == "rc "
for u in etcd-backupd.service etcd-backupd.socket etcd-backupd-restore.socket; do
  check "apt-get remove: $u stopped" test "$(prop "$u" ActiveState)" != active
done
check "apt-get remove: no etcd-backupd process left" test -z "$(ct pgrep -x etcd-backupd)"
check "apt-get remove: the configuration is kept" \
  cmp -s "$T/pkgs/etcd-backupd.conf" <(ct cat /etc/etcd-backupd/etcd-backupd.conf)
ct sh -c 'cd /var/lib/etcd-backupd && sha256sum etcd-*' | sort > "$T/sums-after-remove"
check "apt-get remove: every backup is kept" test -z "$(comm -23 "$T/sums-before-upgrade" "$T/sums-after-remove")"
phase remove

# ---- installed again, then removed again -------------------------------------------------
if ct apt-get install -y -q "/pkgs/$deb2" > "$T/apt-reinstall.log"; then ok "apt-get install ./$deb2 after the removal"; else
  cat "$T/apt-reinstall.log"; not_ok "reinstall"; fi
check "before the removal: the daemon and its socket ran, the restore socket too (started by hand)" \
  test "${was_active[etcd-backupd.service]} ${was_active[etcd-backupd.socket]} ${was_active[etcd-backupd-restore.socket]}" \
       == "active active active"
for u in etcd-backupd.service etcd-backupd.socket; do
  check "reinstalled: $u, stopped by the removal, runs again" wait_until 30 is_active "$u"
done
check "reinstalled: the restore socket, which only ran started by hand (not enabled), is not started" \
  test "$(prop etcd-backupd-restore.socket ActiveState)" == inactive
ct apt-get remove -y -q etcd-backupd > "$T/apt-remove2.log"
check "removed again: state rc, nothing running" \
  test "$(ct dpkg-query -W -f='${db:Status-Abbrev}' etcd-backupd)" == "rc " -a -z "$(ct pgrep -x etcd-backupd)"
ct sh -c 'cd /var/lib/etcd-backupd && sha256sum etcd-*' | sort > "$T/sums-after-remove"
phase reinstall

# ---- purge ---------------------------------------------------------------------------------
echo "+ apt-get purge" >> "$T/ct.log"
timeout 300 nsenter -t "$LEADER" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  apt-get purge -y -q etcd-backupd > "$T/apt-purge.log" 2>&1 < /dev/null
check "apt-get purge: package gone" test -z "$(ct dpkg-query -W -f='${Status}' etcd-backupd 2>/dev/null | grep installed)"
check "apt-get purge: the configuration file and the copies discover --force kept are removed" \
  eval 'ct test ! -e /etc/etcd-backupd/etcd-backupd.conf && ct test ! -e /etc/etcd-backupd/etcd-backupd.conf.pre-discover-20261201T000000Z'
check "apt-get purge: the runtime files are removed" ct test ! -e /run/etcd-backupd
check "apt-get purge: the operator's key file beside it is kept" ct test -s /etc/etcd-backupd/restore.agekey
check "apt-get purge: says the backups are kept" \
  grep -q 'backups are never removed: /var/lib/etcd-backupd is kept' "$T/apt-purge.log"
check "apt-get purge: every backup is kept, byte for byte" \
  test "$(ct sh -c 'cd /var/lib/etcd-backupd && sha256sum etcd-*' | sort)" == "$(cat "$T/sums-after-remove")"
n_db=$(grep -c '\.db\.gz$' "$T/sums-after-remove")
check "apt-get purge: a sidecar beside each of the $n_db backups" \
  test "$n_db" -gt 0 -a "$(ct find /var/lib/etcd-backupd -name 'etcd-*.db.gz.json' | wc -l)" -eq "$n_db"
phase purge

# ---- an untouched configuration, upgraded --------------------------------------------------
# Installed afresh, the configuration is the example; never edited, the
# upgrade puts the new example in its place (as dpkg updates an untouched
# conffile), where the hand-written one above was kept.
if ct apt-get install -y -q "/pkgs/$deb1" > "$T/apt-install3.log" 2>&1 < /dev/null; then
  ok "apt-get install ./$deb1 after the purge"; else cat "$T/apt-install3.log"; not_ok "install after purge"; fi
check "installed afresh: the configuration is the example" \
  ct cmp -s /usr/share/etcd-backupd/etcd-backupd.conf /etc/etcd-backupd/etcd-backupd.conf
if ct apt-get install -y -q "/pkgs/$deb2" > "$T/apt-upgrade2.log" 2>&1 < /dev/null; then
  ok "apt-get install ./$deb2 (upgrade of an untouched configuration), without a terminal"; else
  cat "$T/apt-upgrade2.log"; not_ok "upgrade of an untouched configuration"; fi
check "upgraded: the untouched configuration is the new example, root's, 0644" \
  eval 'ct grep -qx "# Rebuilt as $v2 by scripts/build-deb." /etc/etcd-backupd/etcd-backupd.conf &&
        ct cmp -s /usr/share/etcd-backupd/etcd-backupd.conf /etc/etcd-backupd/etcd-backupd.conf &&
        test "$(ct stat -c "%U:%G %a" /etc/etcd-backupd/etcd-backupd.conf)" == "root:root 644"'
check "upgraded: the mark preinst left is gone" ct test ! -e /run/etcd-backupd/config-as-shipped
phase untouched

finish
