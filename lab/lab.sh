#!/usr/bin/env bash
# The Relaybox lab (docs/lab.md): the box, in its container, between two Postfix peers on this host.
#
#   swaks ──▶ Postfix "sender" 127.0.0.2:25 ──TLS──▶ box OutgoingMail 127.0.0.1:2587
#                                                        │ smtproutes receiver.lab.test → 127.0.0.3:25
#                                                        │ destconfig receiver.lab.test: TLS Required
#                                                        ▼
#                                 Postfix "receiver" 127.0.0.3:25 (smtpd_tls_security_level = encrypt)
#                                 delivers to a Maildir under $LAB_DIR/receiver/mail/inbox/
#
# Usage: lab/lab.sh up | send [SUBJECT] | tls | receiver-tls on|off | status | down
#
# Needs root (two Postfix instances of their own, as scripts/lib/bench.sh runs one), Debian's postfix,
# swaks, openssl, a Docker daemon ($DOCKER_HOST or the default) and the image (make image). The box runs
# with --network host on the host's loopback only. Settings (environment):
#   LAB_DIR (/tmp/relaybox-lab)   LAB_NAME (relaybox-lab: container, volume, log files)
#   LAB_IMAGE (relaybox:latest)   DOCKER (docker)
#   LAB_BOX_SMTP_PORT (2525) LAB_BOX_SUBMISSION_PORT (2587) LAB_BOX_HTTPS_PORT (8443) LAB_BOX_SSH_PORT (2222)
#   LAB_SENDER_PORT (25 on 127.0.0.2)  LAB_RECEIVER_PORT (25 on 127.0.0.3)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
LAB_DIR=${LAB_DIR:-/tmp/relaybox-lab}
LAB_NAME=${LAB_NAME:-relaybox-lab}
LAB_IMAGE=${LAB_IMAGE:-relaybox:latest}
DOCKER=${DOCKER:-docker}
BOX_SMTP=${LAB_BOX_SMTP_PORT:-2525}
BOX_SUBMISSION=${LAB_BOX_SUBMISSION_PORT:-2587}
BOX_HTTPS=${LAB_BOX_HTTPS_PORT:-8443}
BOX_SSH=${LAB_BOX_SSH_PORT:-2222}
SENDER=127.0.0.2
SENDER_PORT=${LAB_SENDER_PORT:-25}
RECEIVER=127.0.0.3
RECEIVER_PORT=${LAB_RECEIVER_PORT:-25}

die() { echo "lab: $*" >&2; exit 1; }
log_of() { echo "/var/log/$LAB_NAME-$1.log"; } # Postfix writes a maillog_file only under /var/log

# wait_port ADDR PORT: returns once something accepts connections there (up to 10 s).
wait_port() {
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0; sleep 0.05; done
  die "nothing listens on $1:$2"
}

# box_cli: runs the script on stdin in the box's shell (docker exec -i … relaybox cli); its exit status.
box_cli() { "$DOCKER" exec -i "$LAB_NAME" relaybox cli; }

# postfix_instance NAME ADDR PORT: writes $LAB_DIR/NAME/{master.cf,main.cf} for a Postfix whose smtpd
# listens on ADDR:PORT only, with its own queue and data directories, chroot off (as bench.sh does).
# The caller appends its role's settings to main.cf.
postfix_instance() {
  local d=$LAB_DIR/$1
  mkdir -p "$d/queue" "$d/data"
  chown postfix "$d/data"
  cp /etc/postfix/master.cf "$d/master.cf" 2>/dev/null || cp /usr/share/postfix/master.cf.dist "$d/master.cf"
  sed -i -E 's/^(smtp +inet .*)$/#\1/' "$d/master.cf"
  sed -i -E 's/^([a-z]+ +(unix|fifo|pass) +[-n] +[-n] +)[-yn]/\1n/' "$d/master.cf" # chroot off
  echo "$2:$3 inet n - n - - smtpd" >>"$d/master.cf"
  cat >"$d/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
maillog_file = $(log_of "$1")
CF
}

up() {
  [ "$(id -u)" = 0 ] || die "run it as root: it starts two Postfix instances of its own"
  command -v postfix >/dev/null || die "postfix is not installed: apt-get install postfix (No configuration)"
  command -v swaks >/dev/null || die "swaks is not installed: apt-get install swaks libnet-ssleay-perl libio-socket-ssl-perl"
  "$DOCKER" image inspect "$LAB_IMAGE" >/dev/null 2>&1 || die "no image $LAB_IMAGE: build it with make image"
  [ -e "$LAB_DIR" ] && die "$LAB_DIR exists: lab/lab.sh down first"
  mkdir -p "$LAB_DIR"; chmod 755 "$LAB_DIR" # the postfix user reaches its directories below it

  # The receiver: accepts mail for receiver.lab.test only over TLS (a policy the box must meet) and
  # delivers it to one Maildir.
  postfix_instance receiver "$RECEIVER" "$RECEIVER_PORT"
  local r=$LAB_DIR/receiver
  mkdir -p "$r/tls" "$r/mail"; chown postfix:postfix "$r/mail"
  openssl req -x509 -newkey rsa:2048 -sha256 -days 30 -nodes -subj /CN=receiver.lab.test \
    -keyout "$r/tls/key.pem" -out "$r/tls/cert.pem" 2>/dev/null
  cat >>"$r/main.cf" <<CF
myhostname = receiver.lab.test
mynetworks = $RECEIVER/32
virtual_mailbox_domains = receiver.lab.test
virtual_mailbox_base = $r/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)
virtual_minimum_uid = $(id -u postfix)
smtpd_tls_security_level = encrypt
smtpd_tls_cert_file = $r/tls/cert.pem
smtpd_tls_key_file = $r/tls/key.pem
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
CF

  # The sender: relays everything through the box's OutgoingMail (which relays for 127.0.0.0/8),
  # from 127.0.0.2, over TLS.
  postfix_instance sender "$SENDER" "$SENDER_PORT"
  cat >>"$LAB_DIR/sender/main.cf" <<CF
myhostname = sender.lab.test
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$BOX_SUBMISSION
smtp_bind_address = $SENDER
smtp_tls_security_level = encrypt
smtp_tls_loglevel = 1
CF

  # The box: first start on the host's loopback, its queue and configuration on volume $LAB_NAME.
  "$DOCKER" run -d --name "$LAB_NAME" --network host -v "$LAB_NAME:/data" \
    -e RELAYBOX_LISTEN=127.0.0.1 -e RELAYBOX_HOSTNAME=box.lab.test -e RELAYBOX_DOMAINS=box.lab.test \
    -e RELAYBOX_SMTP_PORT="$BOX_SMTP" -e RELAYBOX_SUBMISSION_PORT="$BOX_SUBMISSION" \
    -e RELAYBOX_HTTPS_PORT="$BOX_HTTPS" -e RELAYBOX_SSH_PORT="$BOX_SSH" \
    "$LAB_IMAGE" >/dev/null
  for _ in $(seq 200); do "$DOCKER" exec "$LAB_NAME" relaybox health >/dev/null 2>&1 && break; sleep 0.1; done
  "$DOCKER" exec "$LAB_NAME" relaybox health || die "the box is not healthy: $("$DOCKER" logs "$LAB_NAME" 2>&1 | tail -5)"
  sed "s/127\.0\.0\.3:25\$/127.0.0.3:$RECEIVER_PORT/" "$here/box-setup.txt" | box_cli >/dev/null ||
    die "lab/box-setup.txt was not applied"

  for p in receiver sender; do
    postfix -c "$LAB_DIR/$p" start >/dev/null 2>&1 || die "Postfix $p did not start: see $(log_of $p) and syslog"
  done
  wait_port "$RECEIVER" "$RECEIVER_PORT"
  wait_port "$SENDER" "$SENDER_PORT"
  echo "lab up: sender $SENDER:$SENDER_PORT → box 127.0.0.1:$BOX_SUBMISSION → receiver $RECEIVER:$RECEIVER_PORT"
  echo "  lab/lab.sh send; lab/lab.sh tls; mail arrives in $r/mail/inbox/new/"
}

send() {
  swaks --server "$SENDER:$SENDER_PORT" --from alice@sender.lab.test --to bob@receiver.lab.test \
    --helo client.lab.test --header "Subject: ${1:-lab message $(date -u +%FT%TZ)}" --timeout 20
}

# tls: the TLS lines of all three, in the commands docs/lab.md shows.
tls() {
  echo "== box (mail_logs): inbound ICID and outbound DCID TLS"
  echo 'grep -e "TLS|Message done" mail_logs' | box_cli
  echo "== receiver ($(log_of receiver))"
  grep -E "TLS connection established|status=sent" "$(log_of receiver)" || true
  echo "== sender ($(log_of sender))"
  grep -E "TLS connection established|status=" "$(log_of sender)" || true
}

# receiver_tls on|off: the receiver offers STARTTLS and requires it (on) or offers none (off: the box
# must then keep the mail queued, deferring with "TLS was required but remote host did not initiate it").
receiver_tls() {
  case ${1:-} in
  on) postconf -c "$LAB_DIR/receiver" -e smtpd_tls_security_level=encrypt ;;
  off) postconf -c "$LAB_DIR/receiver" -e smtpd_tls_security_level=none ;;
  *) die "usage: lab/lab.sh receiver-tls on|off" ;;
  esac
  postfix -c "$LAB_DIR/receiver" reload >/dev/null 2>&1
}

status() {
  "$DOCKER" exec "$LAB_NAME" relaybox health
  printf 'workqueue status\n' | box_cli
  for p in receiver sender; do postfix -c "$LAB_DIR/$p" status 2>&1 || true; done
}

down() {
  set +e
  for p in sender receiver; do
    [ -f "$LAB_DIR/$p/main.cf" ] && postfix -c "$LAB_DIR/$p" stop >/dev/null 2>&1
  done
  for p in sender receiver; do
    for _ in $(seq 100); do postfix -c "$LAB_DIR/$p" status >/dev/null 2>&1 || break; sleep 0.05; done
  done
  "$DOCKER" rm -f "$LAB_NAME" >/dev/null 2>&1
  "$DOCKER" volume rm "$LAB_NAME" >/dev/null 2>&1
  rm -rf "$LAB_DIR" "$(log_of sender)" "$(log_of receiver)"
  echo "lab down"
}

case ${1:-} in
up) up ;;
send) send "${2:-}" ;;
tls) tls ;;
receiver-tls) receiver_tls "${2:-}" ;;
status) status ;;
down) down ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
