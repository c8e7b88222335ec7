#!/usr/bin/env bash
# Inbound accept rate, Relaybox against a throwaway Postfix in the same run (testing-tools.md).
# Load shape: 20 parallel sessions, 4 KiB messages, one message per connection, a 1,000-message
# warm-up before every timed run. Plain: Postfix's smtp-source. STARTTLS: our cmd/smtpload (same
# shape plus STARTTLS and a full handshake per message, X25519/P-256 only, no resumption).
#
# The figure is the *accept* rate: messages / wall time for the client to finish, every message
# fsynced by the server before its 250. Both relay at the same time to a loopback `smtp-sink`
# (Relaybox: smtproutes; Postfix: relayhost), so that neither asks any DNS server nor bounces.
# Postfix runs with in_flow_delay = 0 (its default of 1s makes its accept rate bimodal). Postfix's
# end-to-end rate (timed load plus queue drain) is shown as well. Each Relaybox round runs on a fresh process and data directory; Postfix runs once per
# mode and its queue is drained before every timed run. Rounds alternate Relaybox and Postfix.
#
# Modes: plain; starttls (Postfix with its RSA 2048 certificate, as Debian sets it up); starttls-ecdsa
# (the same, Postfix also given an ECDSA P-256 certificate, smtpd_tls_eccert_file: the like-for-like
# comparison with Relaybox's Demo certificate and its ECDSA twin). Relaybox runs on its defaults in all
# of them (TLS 1.2-1.3 inbound).
#
# Usage: scripts/bench-inbound.sh BIN [MESSAGES] [ROUNDS]   (defaults 20000 and 5; loopback only;
# needs go, postfix (smtp-source, smtp-sink), openssl and python3)
set -euo pipefail
source "$(dirname "$0")/lib/bench.sh"
[ $# -ge 1 ] || { echo "usage: $0 BIN [MESSAGES] [ROUNDS]" >&2; exit 2; }
BIN=$(readlink -f "$1"); N=${2:-20000}; ROUNDS=${3:-5}
WARM=1000; SESSIONS=20; SIZE=4096; FROM=load@loadgen.test; TO=sink@example.test; HELO=loadgen.test
(( ROUNDS >= 3 )) || { echo "ROUNDS must be at least 3" >&2; exit 2; }
bench_init bench-inbound # sets root, work, rbpid, sinkpid, pfdir, pflogs
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

build_smtpload

# load MODE PORT COUNT: send COUNT messages, print the rate (messages / client wall time).
load() {
  local t0 t1
  t0=$(now)
  send_load "$@"
  t1=$(now)
  rate "$3" $((t1 - t0))
}

# relaybox_round MODE: fresh daemon and data directory, warm-up, one timed run; sets rate.
relaybox_round() {
  local d p1 got sp rbsink
  sp=$(freeport)
  smtp-sink -u postfix "127.0.0.1:$sp" 1024 & rbsink=$! # its own sink: sinkpid is Postfix's
  relaybox_start; d=$rbdir; p1=$rbport
  printf 'listenerconfig edit IncomingMail limits 10485760 100 1000 100\nsslconfig inbound methods 1-2\nsmtproutes new example.test 127.0.0.1:%s\ncommit bench\n' "$sp" |
    "$BIN" cli --data "$d" >"$work/cli.log" 2>&1 || die "relaybox cli failed: $(cat "$work/cli.log" "$work/rb.log")"
  wait_port "$p1"
  load "$1" "$p1" "$WARM" >/dev/null
  rate=$(load "$1" "$p1" "$N")
  got=$(grep -c ' queued for delivery$' "$d/logs/mail_logs" || true)
  if [ "$1" != plain ]; then rbtls=$(grep -m1 -o "TLS success.*" "$d/logs/mail_logs"); fi
  (( got == WARM + N )) || die "relaybox spooled $got messages, want $((WARM + N))"
  relaybox_stop; kill "$rbsink" 2>/dev/null || true; wait "$rbsink" 2>/dev/null || true
}

# postfix_start MODE: a throwaway Postfix relaying to smtp-sink (started here: stop both with
# postfix_stop; sink_stop); sets pfdir, pfport, pfq, pflog, sinkpid. starttls: TLS in only (a
# certificate of its own in pfdir), logged; it relays in clear.
postfix_start() {
  local sp
  sp=$(freeport)
  smtp-sink -u postfix "127.0.0.1:$sp" 1024 & sinkpid=$!
  postfix_prepare "$1" "$sp"
  if [ "$1" != plain ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench.localdomain \
      -keyout "$pfdir/key.pem" -out "$pfdir/cert.pem" 2>/dev/null
    printf 'smtpd_tls_security_level = may\nsmtpd_tls_loglevel = 1\nsmtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n' \
      "$pfdir/cert.pem" "$pfdir/key.pem" >>"$pfdir/main.cf"
  fi
  if [ "$1" = starttls-ecdsa ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.localdomain \
      -keyout "$pfdir/eckey.pem" -out "$pfdir/eccert.pem" 2>/dev/null
    printf 'smtpd_tls_eccert_file = %s\nsmtpd_tls_eckey_file = %s\n' "$pfdir/eccert.pem" "$pfdir/eckey.pem" >>"$pfdir/main.cf"
    # Our load client is Go, whose signature algorithm list puts RSA-PSS before ECDSA (OpenSSL 3's
    # puts ECDSA first); OpenSSL follows the client's order unless the server's preference is on, so
    # without this Postfix would sign with RSA although it has the ECDSA certificate.
    echo 'tls_preempt_cipherlist = yes' >>"$pfdir/main.cf"
  fi
  postfix_launch
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
  e2e=$(rate "$N" $((t1 - t0)))
}

declare -A med lo hi
pftlsall=""
MODES=${MODES:-plain starttls starttls-ecdsa}
for mode in $MODES; do
  postfix_start "$mode"
  rb=(); pa=(); pe=()
  for i in $(seq "$ROUNDS"); do
    relaybox_round "$mode"; rb+=("$rate")
    postfix_round "$mode"; pa+=("$rate"); pe+=("$e2e")
    echo "  $mode round $i/$ROUNDS: relaybox ${rb[-1]}, postfix accept ${pa[-1]}, postfix end to end $e2e msgs/s" >&2
  done
  sent=$(grep -c 'status=sent' "$pflog" || true)
  (( sent == ROUNDS * (WARM + N) )) || die "postfix logged $sent deliveries, want $((ROUNDS * (WARM + N)))"
  if [ "$mode" != plain ]; then
    pftls=$(grep -m1 -o 'TLS connection established from.*' "$pflog") || die "postfix logged no TLS connection"
    pftlsall+="$mode: \"$pftls\"; "
  fi
  postfix_stop; sink_stop
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
for mode in $MODES; do
  client=smtp-source; [ "$mode" != plain ] && client=smtpload
  echo "| $client | Relaybox (accept) | $mode | ${med[rb-$mode]} | ${lo[rb-$mode]}–${hi[rb-$mode]} |"
  echo "| $client | Postfix $pfv (accept) | $mode | ${med[pa-$mode]} | ${lo[pa-$mode]}–${hi[pa-$mode]} |"
  echo "| $client | Postfix $pfv (end to end) | $mode | ${med[pe-$mode]} | ${lo[pe-$mode]}–${hi[pe-$mode]} |"
done
echo
echo "STARTTLS as negotiated: Relaybox \"$rbtls\"; Postfix ${pftlsall:-}"
# Goals of issue 15 for STARTTLS inbound: ≥ 3× Postfix with its RSA certificate, ≥ 1.5× Postfix with an
# ECDSA certificate too.
for mode in $MODES; do
  goal=""; [ "$mode" = starttls ] && goal=3; [ "$mode" = starttls-ecdsa ] && goal=1.5
  awk -v m="$mode" -v r="${med[rb-$mode]}" -v a="${med[pa-$mode]}" -v e="${med[pe-$mode]}" -v g="$goal" \
    'BEGIN { printf "Relaybox/Postfix, %s: %.2f× accept rate (%.2f× Postfix end to end)", m, r / a, r / e
             if (g != "") printf " (goal ≥ %s×: %s)", g, (r / a >= g ? "met" : "not met"); printf "\n" }'
done
