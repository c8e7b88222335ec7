#!/usr/bin/env bash
# Start-to-ready of the container image (docs/performance.md), ROUNDS times (default 10):
#   first start  docker run on a new volume (Demo certificate: an RSA 2048 key, the admin password hash)
#   restart      docker rm, then docker run on the same volume (the committed configuration)
# each measured from "docker run" to the SMTP banner on 127.0.0.1 (polled every 5 ms from the host) and
# to the first "relaybox health" that exits 0 (docker exec, polled back to back). Prints the median
# with min–max of each, in milliseconds, and the image's size.
#
# Usage: lab/measure-start.sh [ROUNDS]    (DOCKER, LAB_IMAGE, MEASURE_PORT: the first of four ports)
set -euo pipefail
rounds=${1:-10}
DOCKER=${DOCKER:-docker}
image=${LAB_IMAGE:-relaybox:latest}
port=${MEASURE_PORT:-32525}
name=rb-measure-$$

now() { date +%s%N; }
ms() { echo $((($2 - $1) / 1000000)); }
stats() { sort -n | awk '{a[NR]=$1} END {printf "%s ms (%s–%s)\n", a[int((NR+1)/2)], a[1], a[NR]}'; }
banner() { # returns once 127.0.0.1:$port answers with 220
  for _ in $(seq 4000); do
    if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
      local line=""; read -r -t 2 line <&3 || true; exec 3<&- 3>&-
      [[ $line == 220* ]] && return 0
    fi
    sleep 0.005
  done
  echo "measure: no SMTP banner on 127.0.0.1:$port" >&2; return 1
}
healthy() { for _ in $(seq 400); do "$DOCKER" exec "$name" relaybox health >/dev/null 2>&1 && return 0; done; return 1; }
run() {
  "$DOCKER" run -d --name "$name" --network host -v "$1:/data" -e RELAYBOX_LISTEN=127.0.0.1 \
    -e RELAYBOX_SMTP_PORT="$port" -e RELAYBOX_SUBMISSION_PORT=$((port + 1)) -e RELAYBOX_HTTPS_PORT=$((port + 2)) \
    -e RELAYBOX_SSH_PORT=$((port + 3)) -e RELAYBOX_ADMIN_PASSWORD=measure-Only-1 "$image" >/dev/null
}
cleanup() { "$DOCKER" rm -f "$name" >/dev/null 2>&1 || true; "$DOCKER" volume rm "$name-vol" >/dev/null 2>&1 || true; }
trap cleanup EXIT

: >"/tmp/$name.first-banner"; : >"/tmp/$name.first-health"; : >"/tmp/$name.re-banner"; : >"/tmp/$name.re-health"
for _ in $(seq "$rounds"); do
  cleanup
  t0=$(now); run "$name-vol"; banner; t1=$(now); healthy; t2=$(now)
  ms "$t0" "$t1" >>"/tmp/$name.first-banner"; ms "$t0" "$t2" >>"/tmp/$name.first-health"
  "$DOCKER" stop "$name" >/dev/null; "$DOCKER" rm "$name" >/dev/null
  t0=$(now); run "$name-vol"; banner; t1=$(now); healthy; t2=$(now)
  ms "$t0" "$t1" >>"/tmp/$name.re-banner"; ms "$t0" "$t2" >>"/tmp/$name.re-health"
done
echo "image $image: $("$DOCKER" image inspect --format '{{.Size}}' "$image") bytes"
echo "first start, docker run → SMTP banner:      $(stats <"/tmp/$name.first-banner")"
echo "first start, docker run → health exits 0:   $(stats <"/tmp/$name.first-health")"
echo "restart (rm + run), → SMTP banner:          $(stats <"/tmp/$name.re-banner")"
echo "restart (rm + run), → health exits 0:       $(stats <"/tmp/$name.re-health")"
rm -f /tmp/"$name".*
