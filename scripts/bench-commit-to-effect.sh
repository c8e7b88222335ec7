#!/usr/bin/env bash
# Config change to effect, measured from outside with real clients, for Relaybox and for a
# throwaway Postfix in the same run: flip the inbound TLS protocols between "TLS 1.2 only" and
# "TLS 1.3 only", then time until a new `openssl s_client -starttls smtp -tls1_3` handshake
# gives the new answer. Relaybox: `relaybox cli` + commit. Postfix: `postconf -e` + `postfix reload`.
# Usage: scripts/bench-commit-to-effect.sh BIN [ROUNDS]   (loopback only; needs openssl and postfix)
set -euo pipefail
source "$(dirname "$0")/lib/bench.sh" # freeport, now, postfix_master_cf
BIN=$(readlink -f "$1"); ROUNDS=${2:-20}
work=$(mktemp -d); chmod 755 "$work"; trap 'postfix -c "$work/pf" stop >/dev/null 2>&1 || true; kill $rbpid 2>/dev/null || true; rm -rf "$work"' EXIT
tls13() { timeout 5 openssl s_client -brief -connect "127.0.0.1:$1" -starttls smtp -name probe.test -tls1_3 </dev/null 2>&1 | grep -q 'Protocol version: TLSv1.3'; }
# wait_for PORT WANT(yes|no): poll until a TLS 1.3 handshake succeeds (yes) or fails (no).
wait_for() { for _ in $(seq 1 2000); do if tls13 "$1"; then [ "$2" = yes ] && return 0; else [ "$2" = no ] && return 0; fi; done; echo "timed out" >&2; exit 1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Relaybox
rb=$work/rb; p1=$(freeport); p2=$(freeport); p3=$(freeport)
RELAYBOX_ADMIN_PASSWORD=bench RELAYBOX_RESOLVER=127.0.0.1:1 "$BIN" serve --data "$rb" --smtp-port "$p1" --submission-port "$p2" --https-port "$p3" --ssh-port "$(freeport)" >"$work/rb.log" 2>&1 & rbpid=$!
for _ in $(seq 100); do [ -S "$rb/relaybox.sock" ] && break; sleep 0.05; done
rbt=()
for i in $(seq 1 "$ROUNDS"); do
  if (( i % 2 )); then sel=1; want=yes; else sel=2; want=no; fi
  t0=$(now); printf 'sslconfig inbound methods %s\ncommit bench %s\n' "$sel" "$i" | "$BIN" cli --data "$rb" >/dev/null
  wait_for "$p1" "$want"; t1=$(now); rbt+=($(( (t1-t0)/1000000 )))
done

# Postfix (same shape as testing-tools.md: own config, queue and data directories, chroot off)
pf=$work/pf; pp=$(freeport); mkdir -p "$pf" "$work/pfq" "$work/pfd"; chown postfix "$work/pfd"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=probe.test -keyout "$pf/key.pem" -out "$pf/cert.pem" 2>/dev/null
postfix_master_cf "$pf" "$pp"
cat > "$pf/main.cf" <<CF
compatibility_level = 3.6
myhostname = bench.localdomain
queue_directory = $work/pfq
data_directory = $work/pfd
inet_interfaces = loopback-only
mydestination =
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
maillog_file = /var/log/relaybox-bench-postfix.log
smtpd_tls_security_level = may
smtpd_tls_cert_file = $pf/cert.pem
smtpd_tls_key_file = $pf/key.pem
smtpd_tls_protocols = >=TLSv1.2, <=TLSv1.2
CF
postfix -c "$pf" start >/dev/null 2>&1; wait_for "$pp" no
pft=()
for i in $(seq 1 "$ROUNDS"); do
  if (( i % 2 )); then proto='>=TLSv1.3'; want=yes; else proto='>=TLSv1.2, <=TLSv1.2'; want=no; fi
  t0=$(now); postconf -c "$pf" -e "smtpd_tls_protocols = $proto"; postfix -c "$pf" reload >/dev/null 2>&1
  wait_for "$pp" "$want"; t1=$(now); pft+=($(( (t1-t0)/1000000 )))
done
r=$(printf '%s\n' "${rbt[@]}" | median); p=$(printf '%s\n' "${pft[@]}" | median)
echo "config change to effect, median of $ROUNDS rounds (ms, includes one openssl handshake per poll):"
echo "  relaybox (cli + commit):           $r  (min $(printf '%s\n' "${rbt[@]}" | sort -n | head -1), max $(printf '%s\n' "${rbt[@]}" | sort -n | tail -1))"
echo "  postfix $(postconf -d -h mail_version) (postconf + reload): $p  (min $(printf '%s\n' "${pft[@]}" | sort -n | head -1), max $(printf '%s\n' "${pft[@]}" | sort -n | tail -1))"
