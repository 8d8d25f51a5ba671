# shellcheck shell=bash
# scripts/ports.sh — free loopback ports, sourced by scripts/dev-etcd,
# scripts/dev-swift and tests/integration/restore-lib.sh.

# port_in_use PORT: something listens on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports are picked below the kernel's ephemeral range (ip_local_port_range),
# from which every client connection takes its local port: a port there that
# nothing listens on can still be held by a connection (of a test beside this
# one), and a server's bind() then fails with "address already in use".
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
((EPHEMERAL_LOW > 12000)) || EPHEMERAL_LOW=32768

# free_port [TAKEN...]: prints a port P with P and P+1 free (a member's
# client and peer port) and apart from each pair TAKEN, TAKEN+1 (ports
# picked before, which nothing may listen on yet), or fails saying so.
free_port() {
  local p t clash
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (EPHEMERAL_LOW - 10002)))
    clash=false
    for t in "$@"; do ((p >= t - 1 && p <= t + 1)) && clash=true; done
    $clash || port_in_use "$p" || port_in_use $((p + 1)) || { echo "$p"; return 0; }
  done
  echo "free_port: no free port found on 127.0.0.1" >&2
  return 1
}
