#!/usr/bin/env bash
# End-to-end delivery rate (accept + relay), Relaybox against a throwaway Postfix in the same run
# (testing-tools.md). Each target accepts mail for example.test on loopback and relays it to a sink;
# the figure is N / (time from the start of the load until the sink has received the N-th message),
# i.e. load time plus queue drain. Load shape: 20 parallel sessions, 4 KiB messages, one message
# per connection, a 1,000-message warm-up (delivered before the clock starts) on every instance.
#
#   plain     smtp-source into the target; the target relays in clear to `smtp-sink -c`.
#   starttls  cmd/smtpload -starttls into the target (full handshake per message, X25519/P-256
#             only); the target relays with opportunistic STARTTLS to a small Go STARTTLS sink that
#             this script writes and builds in its temp dir (standard library only, never in the
#             repo; X25519/P-256 only, like an OpenSSL 3.0 peer). Both sides are TLS.
#
# Relaybox: smtproutes example.test -> the sink, IncomingMail limits 10485760 100 1000 100 (the load
# comes from one address: the default of 10 connections per address would refuse half the sessions),
# deliveryconfig concurrency=100, destconfig default conns=100 (tls=preferred for starttls),
# inbound and outbound TLS 1.2-1.3. Postfix 3.7: in_flow_delay = 0, relayhost = the sink, otherwise
# Debian defaults (default_destination_concurrency_limit 20, SMTP connection cache on demand,
# smtp_tls_security_level = may for starttls; no TLS connection reuse unless PF_TLS_REUSE=yes, which
# adds tlsproxy and smtp_tls_connection_reuse = yes). Relaybox reuses outbound connections (TLS
# ones too) by default: up to 50 messages each, 2 s idle. Every round runs on fresh
# instances (daemon, data/queue directory and sink); rounds alternate Relaybox and Postfix.
# Deliveries are counted at the sink (the stopwatch) and checked against the targets' own logs
# (Relaybox `Message done`, Postfix `status=sent`); nothing may be deferred.
#
# Usage: scripts/bench-e2e.sh BIN [MESSAGES] [ROUNDS]   (defaults 10000 and 3; MODES="plain starttls"
# to choose, PF_TLS_REUSE=yes for Postfix's TLS connection reuse, PF_ECDSA=yes to give Postfix an ECDSA
# certificate beside its RSA one, the like-for-like comparison with Relaybox's Demo twin; plain mode also
# measures the ceiling: smtp-source straight into smtp-sink, no MTA between; loopback only; needs go, postfix (smtp-source, smtp-sink), openssl and python3)
set -euo pipefail
source "$(dirname "$0")/lib/bench.sh"
[ $# -ge 1 ] || { echo "usage: $0 BIN [MESSAGES] [ROUNDS]" >&2; exit 2; }
BIN=$(readlink -f "$1"); N=${2:-10000}; ROUNDS=${3:-3}; MODES=${MODES:-plain starttls}; PF_TLS_REUSE=${PF_TLS_REUSE:-no}
PF_ECDSA=${PF_ECDSA:-no} # yes: Postfix also gets an ECDSA P-256 certificate (smtpd_tls_eccert_file), like Relaybox's Demo twin
WARM=1000; SESSIONS=20; SIZE=4096; FROM=load@loadgen.test; TO=sink@example.test; HELO=loadgen.test
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-900} # seconds allowed for a queue to drain after the load
(( ROUNDS >= 3 )) || { echo "ROUNDS must be at least 3" >&2; exit 2; }
bench_init bench-e2e # sets root, work, rbpid, sinkpid, pfdir, pflogs
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

build_smtpload

# The STARTTLS sink: accepts everything, discards it, prints "mesg=N\r" after each message (the
# format of `smtp-sink -c`, so one counter reader serves both sinks).
mkdir "$work/tlssink"
cat >"$work/tlssink/go.mod" <<'EOF'
module tlssink

go 1.22
EOF
cat >"$work/tlssink/main.go" <<'EOF'
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"sync"
)

var (
	mu    sync.Mutex
	count int
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	certFile := flag.String("cert", "", "certificate (PEM)")
	keyFile := flag.String("key", "", "key (PEM)")
	flag.Parse()
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		log.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c, cfg)
	}
}

func serve(c net.Conn, cfg *tls.Config) {
	defer func() { c.Close() }()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	reply := func(s string) bool {
		w.WriteString(s + "\r\n")
		if r.Buffered() > 0 { // pipelined commands waiting: answer them together
			return true
		}
		return w.Flush() == nil
	}
	reply("220 sink.test ESMTP")
	secure := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch verb {
		case "EHLO":
			tlsExt := "250-STARTTLS\r\n"
			if secure {
				tlsExt = ""
			}
			if !reply("250-sink.test\r\n250-PIPELINING\r\n" + tlsExt + "250 8BITMIME") {
				return
			}
		case "STARTTLS":
			if secure || !reply("220 2.0.0 go ahead") {
				return
			}
			tc := tls.Server(c, cfg)
			if tc.Handshake() != nil {
				return
			}
			c, secure = tc, true
			r, w = bufio.NewReader(c), bufio.NewWriter(c)
		case "DATA":
			if !reply("354 go ahead") {
				return
			}
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
			}
			mu.Lock()
			count++
			fmt.Fprintf(os.Stdout, "mesg=%d\r", count)
			mu.Unlock()
			if !reply("250 2.0.0 queued") {
				return
			}
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default: // HELO, MAIL, RCPT, RSET, NOOP
			if !reply("250 2.0.0 ok") {
				return
			}
		}
	}
}
EOF
(cd "$work/tlssink" && go build -o "$work/tlssink.bin" .)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench.localdomain \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.localdomain \
  -keyout "$work/eckey.pem" -out "$work/eccert.pem" 2>/dev/null

# sink_start MODE: a fresh sink for one round; sets sinkport, sinkpid.
sink_start() {
  sinkport=$(freeport); : >"$work/sink.out"
  if [ "$1" = plain ]; then
    smtp-sink -c -u postfix "127.0.0.1:$sinkport" 1024 >"$work/sink.out" 2>"$work/sink.err" & sinkpid=$!
  else
    "$work/tlssink.bin" -addr "127.0.0.1:$sinkport" -cert "$work/cert.pem" -key "$work/key.pem" \
      >"$work/sink.out" 2>"$work/sink.err" & sinkpid=$!
  fi
  wait_port "$sinkport"
}
# sink_count: messages the sink has received so far.
sink_count() { tail -c 64 "$work/sink.out" | tr '\r' '\n' | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2 | grep . || echo 0; }
# wait_sink COUNT: poll until the sink has COUNT messages (dies on a timeout or overshoot).
wait_sink() {
  local n deadline=$(( $(date +%s) + DRAIN_TIMEOUT ))
  while :; do
    n=$(sink_count)
    (( n == $1 )) && return 0
    (( n > $1 )) && die "the sink received $n messages, want $1 (duplicates?)"
    (( $(date +%s) < deadline )) || die "the sink received $n of $1 messages in ${DRAIN_TIMEOUT}s"
    sleep 0.05
  done
}

# timed MODE PORT: warm-up until delivered, then the timed run; sets e2e and acc (msgs/s).
timed() {
  local t0 t1 t2
  send_load "$1" "$2" "$WARM"; wait_sink "$WARM"
  t0=$(now); send_load "$1" "$2" "$N"; t1=$(now); wait_sink $((WARM + N)); t2=$(now)
  e2e=$(rate "$N" $((t2 - t0))); acc=$(rate "$N" $((t1 - t0)))
}

rbq() { printf 'workqueue status\n' | "$BIN" cli --data "$1" | sed -n 's/^Messages in work queue: *\([0-9]*\).*/\1/p'; }

# relaybox_round MODE: fresh sink, daemon and data directory; sets e2e, acc.
relaybox_round() {
  local d p1 n tls=none
  sink_start "$1"
  relaybox_start; d=$rbdir; p1=$rbport
  [ "$1" = starttls ] && tls=preferred
  printf '%s\n' "smtproutes new example.test 127.0.0.1:$sinkport" \
    'listenerconfig edit IncomingMail limits 10485760 100 1000 100' 'sslconfig inbound methods 1-2' \
    'sslconfig outbound methods 1-2' 'deliveryconfig setup concurrency=100' \
    "destconfig default tls=$tls conns=100" 'commit bench' |
    "$BIN" cli --data "$d" >"$work/cli.log" 2>&1 || die "relaybox cli failed: $(cat "$work/cli.log" "$work/rb.log")"
  grep -q 'Changes committed' "$work/cli.log" || die "relaybox commit failed: $(cat "$work/cli.log")"
  wait_port "$p1"
  timed "$1" "$p1"
  for _ in $(seq 200); do n=$(rbq "$d"); [ "$n" = 0 ] && break; sleep 0.05; done
  [ "$n" = 0 ] || die "relaybox queue holds $n messages after the sink got them all"
  n=$(grep -c 'Message done' "$d/logs/mail_logs" || true)
  (( n == WARM + N )) || die "relaybox logged $n deliveries, want $((WARM + N))"
  # A re-attempt of a message that was just delivered and removed logs a spurious "Delayed: … no
  # such message in the spool" (a scheduling race in Relaybox, no second delivery): counted apart.
  spurious=$(grep -c 'Delayed: .*no such message in the spool' "$d/logs/mail_logs" || true)
  (( spurious > 0 )) && echo "  relaybox: $spurious spurious 'Delayed … no such message in the spool' lines (re-attempt of a delivered message)" >&2
  grep -v 'no such message in the spool' "$d/logs/mail_logs" | grep -q 'Delayed:\|Bounced:' &&
    die "relaybox deferred or bounced mail: $(grep -v 'no such message in the spool' "$d/logs/mail_logs" | grep -m3 'Delayed:\|Bounced:')"
  if [ "$1" = starttls ]; then
    rbin=$(grep -m1 -o 'ICID [0-9]* TLS success.*' "$d/logs/mail_logs" | sed 's/^ICID [0-9]* //')
    rbout=$(grep -m1 -o 'DCID [0-9]* TLS success.*' "$d/logs/mail_logs" | sed 's/^DCID [0-9]* //')
    rboutconns=$(grep -c 'DCID [0-9]* TLS success' "$d/logs/mail_logs" || true)
    [ -n "$rbin" ] || die "relaybox logged no inbound TLS"
    (( rboutconns > 0 )) || die "relaybox did not deliver over TLS"
  fi
  relaybox_stop; sink_stop
}

# postfix_start MODE: a fresh throwaway Postfix relaying to the sink; sets pfdir, pfport, pfq, pflog.
# starttls: TLS in (this script's certificate) and opportunistic TLS out, both logged.
postfix_start() {
  postfix_prepare "$1-$RANDOM" "$sinkport"
  if [ "$1" = starttls ]; then
    printf 'smtpd_tls_security_level = may\nsmtpd_tls_loglevel = 1\nsmtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n' \
      "$work/cert.pem" "$work/key.pem" >>"$pfdir/main.cf"
    printf 'smtp_tls_security_level = may\nsmtp_tls_loglevel = 1\n' >>"$pfdir/main.cf"
    if [ "$PF_ECDSA" = yes ]; then
      printf 'smtpd_tls_eccert_file = %s\nsmtpd_tls_eckey_file = %s\n' "$work/eccert.pem" "$work/eckey.pem" >>"$pfdir/main.cf"
    fi
    if [ "$PF_TLS_REUSE" = yes ]; then # Postfix ≥ 3.4: outbound TLS sessions kept through tlsproxy(8)
      echo 'tlsproxy unix - - n - 0 tlsproxy' >>"$pfdir/master.cf"
      echo 'smtp_tls_connection_reuse = yes' >>"$pfdir/main.cf"
    fi
  fi
  postfix_launch
}

# postfix_round MODE: fresh sink and Postfix; sets e2e, acc.
postfix_round() {
  local n
  sink_start "$1"; postfix_start "$1"
  timed "$1" "$pfport"
  for _ in $(seq 200); do
    n=$(find "$pfq/maildrop" "$pfq/incoming" "$pfq/active" "$pfq/deferred" "$pfq/hold" -type f 2>/dev/null | wc -l)
    (( n == 0 )) && break; sleep 0.05
  done
  (( n == 0 )) || die "postfix queue holds $n messages after the sink got them all"
  postfix_stop
  n=$(grep -c 'status=sent' "$pflog" || true)
  (( n == WARM + N )) || die "postfix logged $n deliveries, want $((WARM + N))"
  grep -q 'status=deferred\|status=bounced' "$pflog" && die "postfix deferred or bounced mail: $(grep -m3 'status=deferred\|status=bounced' "$pflog")"
  if [ "$1" = starttls ]; then
    pfin=$(grep -m1 -o 'TLS connection established from.*' "$pflog") || die "postfix logged no inbound TLS"
    pfout=$(grep -m1 -o 'TLS connection established to.*' "$pflog") || die "postfix logged no outbound TLS"
    pfoutconns=$(grep -c 'TLS connection established to' "$pflog" || true)
  fi
  sink_stop
}

# ceiling_round: the load straight into a fresh smtp-sink (the protocol alone, no queue); sets e2e.
ceiling_round() {
  sink_start plain
  timed plain "$sinkport"
  sink_stop
}

declare -A med lo hi
for mode in $MODES; do
  rb=(); pf=(); rba=(); pfa=(); ce=()
  for i in $(seq "$ROUNDS"); do
    relaybox_round "$mode"; rb+=("$e2e"); rba+=("$acc")
    postfix_round "$mode"; pf+=("$e2e"); pfa+=("$acc")
    echo "  $mode round $i/$ROUNDS: end to end relaybox ${rb[-1]}, postfix ${pf[-1]} msgs/s (load phase alone: relaybox ${rba[-1]}, postfix ${pfa[-1]})" >&2
    if [ "$mode" = plain ]; then
      ceiling_round; ce+=("$e2e"); echo "  plain round $i/$ROUNDS: ceiling (smtp-source → smtp-sink) $e2e msgs/s" >&2
    fi
  done
  [ "$mode" = plain ] && read -r med[ce] lo[ce] hi[ce] < <(printf '%s\n' "${ce[@]}" | stats)
  read -r med[rb-$mode] lo[rb-$mode] hi[rb-$mode] < <(printf '%s\n' "${rb[@]}" | stats)
  read -r med[pf-$mode] lo[pf-$mode] hi[pf-$mode] < <(printf '%s\n' "${pf[@]}" | stats)
  read -r med[rba-$mode] lo[rba-$mode] hi[rba-$mode] < <(printf '%s\n' "${rba[@]}" | stats)
  read -r med[pfa-$mode] lo[pfa-$mode] hi[pfa-$mode] < <(printf '%s\n' "${pfa[@]}" | stats)
done

pfv=$(postconf -d -h mail_version)
echo
echo "End-to-end delivery rate (accept + relay to a sink): $N messages of $SIZE bytes, $SESSIONS sessions, one"
echo "message per inbound connection, $WARM warm-up messages delivered first, median of $ROUNDS rounds on fresh"
echo "instances; Relaybox $("$BIN" version | sed 's/^Relaybox //') (100 outbound connections), Postfix $pfv (in_flow_delay = 0,"
echo "default concurrency 20 per destination). Time = start of the load until the sink has the last message."
echo
echo "| target | mode | median msgs/s end to end | min–max | (load phase alone, median) |"
echo "|---|---|---:|---|---:|"
for mode in $MODES; do
  m=$mode; [ "$mode" = plain ] && m="plain (smtp-source → smtp-sink)"
  [ "$mode" = starttls ] && m="STARTTLS in and out (smtpload → Go TLS sink)"
  echo "| Relaybox | $m | ${med[rb-$mode]} | ${lo[rb-$mode]}–${hi[rb-$mode]} | ${med[rba-$mode]} |"
  pfname="Postfix $pfv"; [ "$PF_TLS_REUSE" = yes ] && [ "$mode" = starttls ] && pfname="Postfix $pfv, smtp_tls_connection_reuse = yes"
  echo "| $pfname | $m | ${med[pf-$mode]} | ${lo[pf-$mode]}–${hi[pf-$mode]} | ${med[pfa-$mode]} |"
  [ "$mode" = plain ] && echo "| ceiling: no MTA | smtp-source → smtp-sink | ${med[ce]} | ${lo[ce]}–${hi[ce]} | — |"
done
echo
if [[ " $MODES " == *" starttls "* ]]; then
  echo "STARTTLS as negotiated: Relaybox in \"$rbin\", out \"$rbout\" ($rboutconns outbound TLS connections in its last round); Postfix in \"$pfin\", out \"$pfout\" ($pfoutconns outbound TLS connections in its last round)"
fi
# The goals of issue 15: plain ≥ 4× Postfix and ≥ 40% of the ceiling; STARTTLS in and out ≥ 2.5× Postfix's
# defaults, ≥ 1.5× Postfix with TLS connection reuse.
for mode in $MODES; do
  goal=4; [ "$mode" = starttls ] && goal=2.5; [ "$mode" = starttls ] && [ "$PF_TLS_REUSE" = yes ] && goal=1.5
  awk -v m="$mode" -v r="${med[rb-$mode]}" -v p="${med[pf-$mode]}" -v g="$goal" \
    'BEGIN { printf "Relaybox/Postfix end to end, %s: %.2f× (goal ≥ %s×: %s)\n", m, r / p, g, (r / p >= g ? "met" : "not met") }'
  if [ "$mode" = plain ]; then
    awk -v r="${med[rb-plain]}" -v c="${med[ce]}" \
      'BEGIN { printf "Relaybox/ceiling, plain: %.0f%% (goal ≥ 40%%: %s)\n", 100 * r / c, (r / c >= 0.4 ? "met" : "not met") }'
  fi
done
