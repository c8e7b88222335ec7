# shellcheck shell=bash
# Shared helpers of the benchmark scripts (scripts/bench-*.sh): free ports, timing, statistics,
# a Relaybox daemon on a fresh data directory, the load clients and a throwaway Postfix
# (testing-tools.md: own config, queue and data directories, chroot off, log under /var/log).
#
# Source it from a script next to it:   source "$(dirname "$0")/lib/bench.sh"
# Sourcing only defines functions (no variables, traps or commands); safe under set -euo pipefail.
# The functions share the caller's globals named in their comments (lower case: work, root,
# rbpid, sinkpid, pfdir, pflogs, …; upper case: BIN, SESSIONS, SIZE, FROM, TO, HELO).

# --- basics ---------------------------------------------------------------------------------

# freeport: prints a TCP port on 127.0.0.1 that was free a moment ago.
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# now: prints the wall clock in nanoseconds.
now() { date +%s%N; }

# die MESSAGE…: prints "$bench_name: MESSAGE" to stderr and exits 1 (running the EXIT trap).
# Reads bench_name (set by bench_init).
die() { echo "${bench_name:-bench}: $*" >&2; exit 1; }

# wait_port PORT: returns once something accepts connections on 127.0.0.1:PORT (polls up to 10 s,
# then dies).
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; die "nothing listens on 127.0.0.1:$1"; }

# rate COUNT NANOSECONDS: prints COUNT per second with one decimal.
rate() { awk -v n="$1" -v ns="$2" 'BEGIN { printf "%.1f\n", n / (ns / 1e9) }'; }

# stats: reads one number a line on stdin; prints "MEDIAN MIN MAX" (the median of an even count is
# the lower middle value).
stats() { sort -n | awk '{a[NR]=$1} END {printf "%s %s %s\n", a[int((NR+1)/2)], a[1], a[NR]}'; }

# --- the run's temp directory and its cleanup -----------------------------------------------

# bench_init NAME: sets bench_name=NAME (prefix of die's messages, part of Postfix's log file
# name), root (the repository: the parent of the script's directory), work (a fresh temp
# directory, mode 0755: the postfix user must reach data_directory below it) and the bookkeeping
# that bench_cleanup reads: rbpid="", sinkpid="", pfdir="", pflogs=(). Installs no trap: the
# caller does (trap bench_cleanup EXIT).
bench_init() {
  bench_name=$1
  root=$(cd "$(dirname "$0")/.." && pwd)
  work=$(mktemp -d); chmod 755 "$work"
  rbpid=""; sinkpid=""; pfdir=""; pflogs=()
}

# bench_cleanup: the EXIT trap. Stops whatever still runs (Relaybox rbpid, the Postfix in pfdir,
# the sink sinkpid) and removes work and the Postfix log files in pflogs. Never fails.
bench_cleanup() {
  set +e
  [ -n "$rbpid" ] && { kill "$rbpid"; wait "$rbpid"; } 2>/dev/null
  [ -n "$pfdir" ] && postfix_stop
  [ -n "$sinkpid" ] && { kill "$sinkpid"; wait "$sinkpid"; } 2>/dev/null
  rm -rf "$work" "${pflogs[@]}"
  return 0
}

# --- load ------------------------------------------------------------------------------------

# build_smtpload: builds cmd/smtpload of the repository root into $work/smtpload.
build_smtpload() { (cd "$root" && go build -o "$work/smtpload" ./cmd/smtpload); }

# send_load MODE PORT COUNT: sends COUNT messages to 127.0.0.1:PORT, SESSIONS in parallel, SIZE
# bytes each, one message per connection, envelope FROM → TO, EHLO HELO. MODE plain: smtp-source;
# any other MODE: $work/smtpload -starttls (see build_smtpload). Every message must be accepted,
# otherwise it dies. Writes $work/load.err (and $work/load.out for smtpload); prints nothing of
# its own.
send_load() {
  if [ "$1" = plain ]; then
    smtp-source -s "$SESSIONS" -l "$SIZE" -m "$3" -f "$FROM" -t "$TO" -M "$HELO" "127.0.0.1:$2" 2>"$work/load.err" ||
      die "smtp-source failed: $(head -5 "$work/load.err")"
    [ -s "$work/load.err" ] && die "smtp-source reported errors: $(head -5 "$work/load.err")"
  else
    "$work/smtpload" -addr "127.0.0.1:$2" -sessions "$SESSIONS" -messages "$3" -size "$SIZE" -starttls \
      -from "$FROM" -to "$TO" -helo "$HELO" >"$work/load.out" 2>"$work/load.err" ||
      die "smtpload failed: $(cat "$work/load.out") $(head -5 "$work/load.err")"
  fi
  return 0
}

# --- Relaybox ----------------------------------------------------------------------------------

# relaybox_start: starts "$BIN serve" on a fresh data directory below work, accepting mail for
# example.test on a free SMTP port (its other listeners on free ports, no resolver), output in
# $work/rb.log; returns once its control socket exists (or after 10 s: the caller's next cli call
# or wait_port then fails). Sets rbdir (the data directory), rbport (SMTP) and rbpid. The caller
# configures it with "$BIN cli --data $rbdir".
relaybox_start() {
  rbdir=$(mktemp -d "$work/rb.XXXX"); rbport=$(freeport)
  RELAYBOX_ADMIN_PASSWORD=bench RELAYBOX_RESOLVER=127.0.0.1:1 "$BIN" serve --data "$rbdir" --domains example.test --smtp-port "$rbport" \
    --submission-port "$(freeport)" --https-port "$(freeport)" --ssh-port "$(freeport)" >"$work/rb.log" 2>&1 & rbpid=$!
  for _ in $(seq 200); do [ -S "$rbdir/relaybox.sock" ] && break; sleep 0.05; done
}

# relaybox_stop: stops the daemon rbpid (it must exit cleanly, otherwise it dies), then sets
# rbpid="" and removes rbdir.
relaybox_stop() {
  kill "$rbpid"; wait "$rbpid" || die "relaybox exited with an error: $(tail -5 "$work/rb.log")"
  rbpid=""; rm -rf "$rbdir"
}

# --- sink ----------------------------------------------------------------------------------------

# sink_stop: stops the sink sinkpid (if it still runs) and sets sinkpid="".
sink_stop() { kill "$sinkpid" 2>/dev/null || true; wait "$sinkpid" 2>/dev/null || true; sinkpid=""; }

# --- a throwaway Postfix -------------------------------------------------------------------------

# postfix_master_cf DIR PORT: writes DIR/master.cf: the system's (or the packaged default), the
# public `smtp inet` service commented out, chroot off for every service, and one smtpd on
# 127.0.0.1:PORT. DIR must exist.
postfix_master_cf() {
  cp /etc/postfix/master.cf "$1/master.cf" 2>/dev/null || cp /usr/share/postfix/master.cf.dist "$1/master.cf"
  sed -i -E 's/^(smtp +inet .*)$/#\1/' "$1/master.cf"
  sed -i -E 's/^([a-z]+ +(unix|fifo|pass) +[-n] +[-n] +)[-yn]/\1n/' "$1/master.cf" # chroot off
  echo "127.0.0.1:$2 inet n - n - - smtpd" >>"$1/master.cf"
}

# postfix_prepare ID RELAYPORT: configures (does not start) a Postfix that accepts mail from
# loopback on a free port and relays everything to [127.0.0.1]:RELAYPORT, in_flow_delay = 0,
# otherwise Debian defaults. Sets pfdir ($work/pf-ID: master.cf, main.cf), pfq ($work/pfq-ID: the
# queue), pfport and pflog (/var/log/relaybox-$bench_name-$$-ID.log: Postfix accepts a maillog_file
# only under /var/log), appends pflog to pflogs (removed by bench_cleanup); data_directory is
# $work/pfd-ID, owned by postfix. The caller may append to $pfdir/main.cf (TLS settings), then
# calls postfix_launch.
postfix_prepare() {
  pfdir=$work/pf-$1; pfq=$work/pfq-$1; pfport=$(freeport)
  pflog=/var/log/relaybox-$bench_name-$$-$1.log; pflogs+=("$pflog")
  mkdir -p "$pfdir" "$pfq" "$work/pfd-$1"; chown postfix "$work/pfd-$1"
  postfix_master_cf "$pfdir" "$pfport"
  cat >"$pfdir/main.cf" <<CF
compatibility_level = 3.6
myhostname = bench.localdomain
queue_directory = $pfq
data_directory = $work/pfd-$1
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$2
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
in_flow_delay = 0
maillog_file = $pflog
CF
}

# postfix_launch: starts the Postfix configured in pfdir and returns once it listens on pfport
# (dies otherwise).
postfix_launch() {
  postfix -c "$pfdir" start >/dev/null 2>&1 || die "postfix did not start (its fatal errors go to syslog)"
  wait_port "$pfport"
}

# postfix_stop: stops the Postfix in pfdir, waits until it is gone and for postlogd's last lines
# to reach pflog, then sets pfdir="". Leaves the queue, pflog and any sink alone.
postfix_stop() {
  postfix -c "$pfdir" stop >/dev/null 2>&1 || true
  for _ in $(seq 100); do postfix -c "$pfdir" status >/dev/null 2>&1 || break; sleep 0.05; done
  sleep 0.2; pfdir="" # postlogd writes its last lines after master has gone
}
