#!/usr/bin/env bash
# bash completion for etcd-backupctl (daemon/completions/etcd-backupctl), driven as
# bash drives it: the real bash-completion library is loaded, COMP_WORDS and
# COMP_CWORD are set for a command line, the completion function runs
# (through `compgen -F`) and its answers are compared with what the built
# program says: its commands from --help, each command's options from
# COMMAND --help, backup names from `list` on backups taken by `etcd-backupd
# --once` from a real etcd, file names for FILE arguments.
. "$(dirname "$0")/lib.sh"

bc=/usr/share/bash-completion/bash_completion
[[ -f $bc ]] || { echo "completion.sh needs bash-completion"; exit 1; }

start_etcd
{ etcd_group; storage_group "$T/backups" zstd 1; echo "control: { socket = \"$T/none.sock\"; group = \"\"; };"; } > "$T/c.conf"
for _ in 1 2; do "$ETCD_BACKUPD" --once -c "$T/c.conf" > /dev/null 2>&1; ctl put /k v >/dev/null; done
mapfile -t backups < <(cd "$T/backups" && ls ./*.db.zst | sed 's|^\./||')
check "two backups to complete" test "${#backups[@]}" -eq 2

mkdir -p "$T/bin" "$T/files"
ln -s "$ETCD_BACKUPCTL" "$T/bin/etcd-backupctl"
touch "$T/files/alpha.db.gz" "$T/files/alpine.agekey"

# complete LINE: the candidates bash offers with the cursor at the end of LINE, one a line.
complete_line() {
  PATH=$T/bin:$PATH LINE=$1 SRC=$TOP_SRCDIR/daemon/completions/etcd-backupctl BC=$bc bash --norc --noprofile -c '
    . "$BC"; . "$SRC"
    read -ra COMP_WORDS <<<"$LINE"
    [[ $LINE == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) COMP_LINE=$LINE COMP_POINT=${#LINE}
    _etcd_backupctl etcd-backupctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf "%s\n" "${COMPREPLY[@]}" | sort -u
    # compgen as bash runs the function registered for the command
    [[ $(complete -p etcd-backupctl) == *"-F _etcd_backupctl"* ]] || echo "NOT REGISTERED"
  ' 2>&1
}
words() { tr ' ' '\n' | sed '/^$/d' | sort -u; }

want=$("$ETCD_BACKUPCTL" --help | sed -n '/^Commands:/,$s/^  \([a-z][a-z-]*\) .*/\1/p' | words)
got=$(complete_line "etcd-backupctl ")
check "commands: every command of --help ($(wc -l <<<"$want"))" test "$got" == "$want"
got=$(complete_line "etcd-backupctl ve")
check "commands: 've' completes to verify" test "$got" == verify

got=$(complete_line "etcd-backupctl --")
check "global options: --config --help --json --socket --version offered" \
  test -z "$(comm -23 <(printf '%s\n' --config --help --json --socket --version) <(echo "$got"))"
got=$(complete_line "etcd-backupctl prune --")
check "prune options include --dry-run" grep -qx -- --dry-run <<<"$got"
got=$(complete_line "etcd-backupctl get x --p")
check "get options: --prefix" test "$got" == --prefix
for c in $want; do
  opts=$("$ETCD_BACKUPCTL" "$c" --help | sed -n 's/^ \{1,\}\(-[A-Za-z], \)\{0,1\}\(--[a-z][a-z-]*\).*/\2/p' | sort -u)
  [[ $c != calendar ]] || opts=$(printf '%s\n' $opts --iterations --base-time | sort -u)
  got=$(complete_line "etcd-backupctl $c --")
  missing=$(comm -23 <(echo "$opts") <(echo "$got"))
  check "$c: every long option of its --help is offered" test -z "$missing"
done

got=$(complete_line "etcd-backupctl -c $T/c.conf verify ")
names=$(printf '%s\n' "${backups[@]}" | sort)
check "verify: backup names from list" test -z "$(comm -23 <(echo "$names") <(echo "$got"))"
got=$(complete_line "etcd-backupctl -c $T/c.conf restore ")
check "restore: backup names and latest" grep -qx latest <<<"$got"
check "restore: offers every backup" test -z "$(comm -23 <(echo "$names") <(echo "$got"))"
got=$(complete_line "etcd-backupctl -c $T/c.conf inspect ${backups[0]%.zst}")
check "inspect: a name prefix narrows to one backup" test "$got" == "${backups[0]}"

got=$(complete_line "etcd-backupctl -c $T/c.conf verify $T/files/alp")
check "verify: FILE completes to files" \
  test "$got" == "$(printf '%s\n' "$T/files/alpha.db.gz" "$T/files/alpine.agekey" | sort)"
got=$(complete_line "etcd-backupctl verify x --identity $T/files/alpi")
check "--identity completes a file" test "$got" == "$T/files/alpine.agekey"
got=$(complete_line "etcd-backupctl -c $T/files/alph")
check "-c completes a file" test "$got" == "$T/files/alpha.db.gz"
got=$(complete_line "etcd-backupctl -c $T/c.conf verify ${backups[0]} ")
check "verify: nothing after the backup argument but options" test -z "$got"
got=$(complete_line "etcd-backupctl fetch ")
check "fetch: latest offered (the backups are remote)" test "$got" == latest
mkdir "$T/files/alpdir"
got=$(complete_line "etcd-backupctl fetch latest --output $T/files/alp")
check "fetch --output completes a directory" test "$got" == "$T/files/alpdir"
got=$(complete_line "etcd-backupctl get x --output ")
check "get --output (a format) offers no file" test -z "$got"
got=$(complete_line "etcd-backupctl status ")
check "status takes no argument: nothing offered" test -z "$got"

finish
