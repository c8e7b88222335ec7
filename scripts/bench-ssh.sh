#!/usr/bin/env bash
# SSH figures of Relaybox, with the real OpenSSH client:
#   1. login-to-prompt latency with key authentication: `ssh -i KEY host version` (connect, key
#      exchange, public-key login, one command, its output, logout), median of LOGINS rounds;
#   2. IDLE concurrent idle sessions (`ssh -T`, stdin held open): the daemon's resident memory
#      before and after, per session.
# Postfix has no SSH server to compare with; docs/performance.md says so.
# Usage: scripts/bench-ssh.sh BIN [LOGINS] [IDLE]   (loopback only; needs ssh, ssh-keygen)
set -euo pipefail
source "$(dirname "$0")/lib/bench.sh" # freeport, now, stats, bench_init, bench_cleanup, relaybox_start
BIN=$(readlink -f "$1"); LOGINS=${2:-50}; IDLE=${3:-100}
bench_init bench-ssh
holders=()
cleanup() {
  for p in "${holders[@]}"; do kill "$p" 2>/dev/null || true; done
  bench_cleanup
}
trap cleanup EXIT

ssh-keygen -q -t ed25519 -N "" -C bench -f "$work/key"
opts=(-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
  -o BatchMode=yes -o IdentitiesOnly=yes -i "$work/key")
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
ms_since() { echo $(( ($(now) - $1) / 1000000 )); }

# latency USER PORT COMMAND: one login, in ms.
latency() { local t0; t0=$(now); ssh "${opts[@]}" -p "$2" "$1@127.0.0.1" "$3" >/dev/null; ms_since "$t0"; }

# hold USER PORT: IDLE sessions that wait for input (their stdin is a sleep that never writes),
# from 127.0.0.2 … 127.0.0.21 in turn: the daemon takes at most 16 SSH connections per address.
hold() {
  holders=()
  for i in $(seq "$IDLE"); do
    sleep 3600 | ssh "${opts[@]}" -T -b "127.0.0.$(( i % 20 + 2 ))" -p "$2" "$1@127.0.0.1" >/dev/null 2>&1 &
    holders+=($!)
  done
}
release() { for p in "${holders[@]}"; do kill "$p" 2>/dev/null || true; done; holders=(); pkill -f "sleep 3600" 2>/dev/null || true; }

# --- Relaybox ------------------------------------------------------------------------------------
relaybox_start
sshport=$(sed -n 's/^  ssh Management on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/rb.log")
for _ in $(seq 200); do [ -n "$sshport" ] && break; sleep 0.05; sshport=$(sed -n 's/^  ssh Management on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/rb.log"); done
[ -n "$sshport" ] || die "no SSH port in the daemon's output: $(cat "$work/rb.log")"
printf 'sshconfig userkeys new admin %s\nsshconfig setup max_sessions=%d\ncommit bench keys\n' "$(cat "$work/key.pub")" $((IDLE + 10)) |
  "$BIN" cli --data "$rbdir" >/dev/null
latency admin "$sshport" version >/dev/null # warm-up
rb=(); for _ in $(seq "$LOGINS"); do rb+=("$(latency admin "$sshport" version)"); done
read -r rbmed rbmin rbmax < <(printf '%s\n' "${rb[@]}" | stats)

before=$(rss_kb "$rbpid")
hold admin "$sshport"
for _ in $(seq 600); do
  n=$(printf 'who\n' | "$BIN" cli --data "$rbdir" | grep -c ' ssh$' || true)
  [ "$n" -ge "$IDLE" ] && break; sleep 0.1
done
[ "$n" -ge "$IDLE" ] || die "only $n of $IDLE SSH sessions opened"
sleep 1
after=$(rss_kb "$rbpid")
release

echo "SSH, Relaybox $("$BIN" version | head -1):"
echo "  login-to-prompt, key auth, median of $LOGINS (ms): $rbmed (min $rbmin, max $rbmax)"
echo "  $IDLE idle sessions: RSS $before kB -> $after kB, $(( (after - before) / IDLE )) kB per session"
