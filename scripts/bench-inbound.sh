#!/usr/bin/env bash
# Inbound accept rate, Relaybox against a throwaway Postfix in the same run (testing-tools.md).
# Load shape: 20 parallel sessions, 4 KiB messages, one message per connection, a 1,000-message
# warm-up before every timed run. Plain: Postfix's smtp-source. STARTTLS: our cmd/smtpload (same
# shape plus STARTTLS and a full handshake per message, X25519/P-256 only, no resumption).
#
# The figure is the *accept* rate: messages / wall time for the client to finish, every message
# fsynced by the server before its 250. Relaybox only queues; Postfix relays at the same time to
# `smtp-sink` (relayhost), as it always does, and runs with in_flow_delay = 0 (its default of 1s
# makes its accept rate bimodal). Postfix's end-to-end rate (timed load plus queue drain) is shown
# as well. Each Relaybox round runs on a fresh process and data directory; Postfix runs once per
# mode and its queue is drained before every timed run. Rounds alternate Relaybox and Postfix.
#
# Usage: scripts/bench-inbound.sh BIN [MESSAGES] [ROUNDS]   (defaults 20000 and 5; loopback only;
# needs go, postfix (smtp-source, smtp-sink), openssl and python3)
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BIN [MESSAGES] [ROUNDS]" >&2; exit 2; }
BIN=$(readlink -f "$1"); N=${2:-20000}; ROUNDS=${3:-5}
WARM=1000; SESSIONS=20; SIZE=4096; FROM=load@loadgen.test; TO=sink@example.test; HELO=loadgen.test
(( ROUNDS >= 3 )) || { echo "ROUNDS must be at least 3" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d); chmod 755 "$work" # the postfix user must reach data_directory below it
rbpid=""; sinkpid=""; pfdir=""; pflogs=()
cleanup() {
  set +e
  [ -n "$rbpid" ] && { kill "$rbpid"; wait "$rbpid"; } 2>/dev/null
  [ -n "$pfdir" ] && postfix_stop
  [ -n "$sinkpid" ] && { kill "$sinkpid"; wait "$sinkpid"; } 2>/dev/null
  rm -rf "$work" "${pflogs[@]}"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s%N; }
die() { echo "bench-inbound: $*" >&2; exit 1; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; die "nothing listens on 127.0.0.1:$1"; }

(cd "$root" && go build -o "$work/smtpload" ./cmd/smtpload)

# load MODE PORT COUNT: send COUNT messages, print the rate (messages / client wall time).
load() {
  local t0 t1
  t0=$(now)
  if [ "$1" = plain ]; then
    smtp-source -s "$SESSIONS" -l "$SIZE" -m "$3" -f "$FROM" -t "$TO" -M "$HELO" "127.0.0.1:$2" 2>"$work/load.err" ||
      die "smtp-source failed: $(head -5 "$work/load.err")"
    [ -s "$work/load.err" ] && die "smtp-source reported errors: $(head -5 "$work/load.err")"
  else
    "$work/smtpload" -addr "127.0.0.1:$2" -sessions "$SESSIONS" -messages "$3" -size "$SIZE" -starttls \
      -from "$FROM" -to "$TO" -helo "$HELO" >"$work/load.out" 2>"$work/load.err" ||
      die "smtpload failed: $(cat "$work/load.out") $(head -5 "$work/load.err")"
  fi
  t1=$(now)
  awk -v n="$3" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f\n", n / (ns / 1e9) }'
}

# relaybox_round MODE: fresh daemon and data directory, warm-up, one timed run; sets rate.
relaybox_round() {
  local d p1 got
  d=$(mktemp -d "$work/rb.XXXX"); p1=$(freeport)
  RELAYBOX_ADMIN_PASSWORD=bench RELAYBOX_RESOLVER=127.0.0.1:1 "$BIN" serve --data "$d" --domains example.test --smtp-port "$p1" \
    --submission-port "$(freeport)" --https-port "$(freeport)" --ssh-port "$(freeport)" >"$work/rb.log" 2>&1 & rbpid=$!
  for _ in $(seq 200); do [ -S "$d/relaybox.sock" ] && break; sleep 0.05; done
  printf 'listenerconfig edit IncomingMail limits 10485760 100 1000\nsslconfig inbound methods 1-2\ncommit bench\n' |
    "$BIN" cli --data "$d" >"$work/cli.log" 2>&1 || die "relaybox cli failed: $(cat "$work/cli.log" "$work/rb.log")"
  wait_port "$p1"
  load "$1" "$p1" "$WARM" >/dev/null
  rate=$(load "$1" "$p1" "$N")
  got=$(find "$d/queue/msg" -name '*.msg' | wc -l)
  if [ "$1" = starttls ]; then rbtls=$(grep -m1 -o "TLS success.*" "$d/logs/mail_logs"); fi
  (( got == WARM + N )) || die "relaybox spooled $got messages, want $((WARM + N))"
  kill "$rbpid"; wait "$rbpid" || die "relaybox exited with an error: $(tail -5 "$work/rb.log")"
  rbpid=""; rm -rf "$d"
}

# postfix_start MODE: a throwaway Postfix relaying to smtp-sink; sets pfdir, pfport, pfq, pflog.
postfix_start() {
  local sp
  pfdir=$work/pf-$1; pfq=$work/pfq-$1; pfport=$(freeport); sp=$(freeport)
  pflog=/var/log/relaybox-bench-inbound-$$-$1.log; pflogs+=("$pflog")
  mkdir -p "$pfdir" "$pfq" "$work/pfd-$1"; chown postfix "$work/pfd-$1"
  smtp-sink -u postfix "127.0.0.1:$sp" 1024 & sinkpid=$!
  cp /etc/postfix/master.cf "$pfdir/master.cf" 2>/dev/null || cp /usr/share/postfix/master.cf.dist "$pfdir/master.cf"
  sed -i -E 's/^(smtp +inet .*)$/#\1/' "$pfdir/master.cf"
  sed -i -E 's/^([a-z]+ +(unix|fifo|pass) +[-n] +[-n] +)[-yn]/\1n/' "$pfdir/master.cf" # chroot off
  echo "127.0.0.1:$pfport inet n - n - - smtpd" >>"$pfdir/master.cf"
  cat >"$pfdir/main.cf" <<CF
compatibility_level = 3.6
myhostname = bench.localdomain
queue_directory = $pfq
data_directory = $work/pfd-$1
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$sp
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
in_flow_delay = 0
maillog_file = $pflog
CF
  if [ "$1" = starttls ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench.localdomain \
      -keyout "$pfdir/key.pem" -out "$pfdir/cert.pem" 2>/dev/null
    printf 'smtpd_tls_security_level = may\nsmtpd_tls_loglevel = 1\nsmtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n' \
      "$pfdir/cert.pem" "$pfdir/key.pem" >>"$pfdir/main.cf"
  fi
  postfix -c "$pfdir" start >/dev/null 2>&1 || die "postfix did not start (its fatal errors go to syslog)"
  wait_port "$pfport"
}

postfix_stop() {
  postfix -c "$pfdir" stop >/dev/null 2>&1 || true
  for _ in $(seq 100); do postfix -c "$pfdir" status >/dev/null 2>&1 || break; sleep 0.05; done
  sleep 0.2; pfdir="" # postlogd writes its last lines after master has gone
  kill "$sinkpid" 2>/dev/null || true; wait "$sinkpid" 2>/dev/null || true; sinkpid=""
}

# drain: wait until Postfix's queue is empty (nothing may be deferred).
drain() {
  local n
  for _ in $(seq 6000); do
    [ -n "$(find "$pfq/deferred" -type f -print -quit 2>/dev/null)" ] && die "postfix deferred mail: $(tail -3 "$pflog")"
    n=$(find "$pfq/maildrop" "$pfq/incoming" "$pfq/active" "$pfq/hold" -type f 2>/dev/null | wc -l)
    (( n == 0 )) && return 0
    sleep 0.1
  done
  die "postfix queue did not drain"
}

# postfix_round MODE: warm-up, drain, one timed run, drain; sets rate (accept) and e2e (end to end).
postfix_round() {
  local t0 t1
  load "$1" "$pfport" "$WARM" >/dev/null; drain
  t0=$(now); rate=$(load "$1" "$pfport" "$N"); drain; t1=$(now)
  e2e=$(awk -v n="$N" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f\n", n / (ns / 1e9) }')
}

stats() { sort -n | awk '{a[NR]=$1} END {printf "%s %s %s\n", a[int((NR+1)/2)], a[1], a[NR]}'; }

declare -A med lo hi
for mode in plain starttls; do
  postfix_start "$mode"
  rb=(); pa=(); pe=()
  for i in $(seq "$ROUNDS"); do
    relaybox_round "$mode"; rb+=("$rate")
    postfix_round "$mode"; pa+=("$rate"); pe+=("$e2e")
    echo "  $mode round $i/$ROUNDS: relaybox ${rb[-1]}, postfix accept ${pa[-1]}, postfix end to end $e2e msgs/s" >&2
  done
  sent=$(grep -c 'status=sent' "$pflog" || true)
  (( sent == ROUNDS * (WARM + N) )) || die "postfix logged $sent deliveries, want $((ROUNDS * (WARM + N)))"
  if [ "$mode" = starttls ]; then
    pftls=$(grep -m1 -o 'TLS connection established from.*' "$pflog") || die "postfix logged no TLS connection"
  fi
  postfix_stop
  read -r med[rb-$mode] lo[rb-$mode] hi[rb-$mode] < <(printf '%s\n' "${rb[@]}" | stats)
  read -r med[pa-$mode] lo[pa-$mode] hi[pa-$mode] < <(printf '%s\n' "${pa[@]}" | stats)
  read -r med[pe-$mode] lo[pe-$mode] hi[pe-$mode] < <(printf '%s\n' "${pe[@]}" | stats)
done

pfv=$(postconf -d -h mail_version)
echo
echo "Inbound accept rate: $N messages of $SIZE bytes, $SESSIONS sessions, one message per connection,"
echo "$WARM warm-up messages per run, median of $ROUNDS rounds; Relaybox $("$BIN" version | sed 's/^Relaybox //'), Postfix $pfv (in_flow_delay = 0)."
echo
echo "| client | target | mode | median msgs/s | min–max |"
echo "|---|---|---|---:|---|"
for mode in plain starttls; do
  client=smtp-source; [ "$mode" = starttls ] && client=smtpload
  echo "| $client | Relaybox (accept) | $mode | ${med[rb-$mode]} | ${lo[rb-$mode]}–${hi[rb-$mode]} |"
  echo "| $client | Postfix $pfv (accept) | $mode | ${med[pa-$mode]} | ${lo[pa-$mode]}–${hi[pa-$mode]} |"
  echo "| $client | Postfix $pfv (end to end) | $mode | ${med[pe-$mode]} | ${lo[pe-$mode]}–${hi[pe-$mode]} |"
done
echo
echo "STARTTLS as negotiated: Relaybox \"$rbtls\"; Postfix \"$pftls\""
for mode in plain starttls; do
  awk -v m="$mode" -v r="${med[rb-$mode]}" -v a="${med[pa-$mode]}" -v e="${med[pe-$mode]}" \
    'BEGIN { printf "Relaybox/Postfix, %s: %.2f× accept rate (%.2f× Postfix end to end)\n", m, r / a, r / e }'
done
