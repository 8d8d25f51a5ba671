#!/bin/sh
# shipped-config.sh CONF — a C header with the example configuration's
# SHA-256 and its text, for `etcd-backupctl discover` (see meson.build).
set -eu
printf '#define SHIPPED_CONFIG_SHA256 "%s"\n' "$(sha256sum < "$1" | cut -d' ' -f1)"
echo '#define SHIPPED_CONFIG_TEXT \'
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/        "/' -e 's/$/\\n" \\/' "$1"
echo '        ""'
