#!/usr/bin/env bash
# Demo of lesson 09 (09-reliable-udp): a 10 MiB file sent with rudp_send
# through the lab's relay, which drops 10% of the datagrams both ways and
# also reorders and corrupts some; the SHA-256 of both sides, and how many
# packets had to be sent again.
set -euo pipefail
# shellcheck source=tests/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sender=$(demo_program rudp_send)
receiver=$(demo_program rudp_recv)
relay=$(demo_fixture udp_relay)
file="$DEMO_TMP/file"
copy="$DEMO_TMP/copy"

say "Lesson 09: reliable delivery over UDP, built by hand."
head -c 10485760 /dev/urandom >"$file"
demo_start_server RECV "$receiver" -p 0 -o "$copy"
say "rudp_recv listens on 127.0.0.1:$RECV_PORT and will write $(demo_path "$copy")."
demo_start_server RELAY "$relay" -S 9 -e both:drop:10 -e both:reorder:5 -e both:corrupt:5 \
    127.0.0.1 "$RECV_PORT"
say "udp_relay on 127.0.0.1:$RELAY_PORT drops 10% of the datagrams both ways,"
say "holds back 5% (reordering) and flips bits in 5% (corruption)."
say "rudp_send sends 10 MiB of random bytes through it (-v: a line per retransmission):"
printf '  $ %s -v 127.0.0.1 %s %s\n' "$(demo_path "$sender")" "$RELAY_PORT" "$(demo_path "$file")"
start=$(date +%s%N)
"$sender" -v 127.0.0.1 "$RELAY_PORT" "$file" 2>"$DEMO_TMP/send.err"
took_ms=$((($(date +%s%N) - start) / 1000000))
say "It ended with status 0 after $took_ms ms. Its first retransmissions and its summary:"
grep -m 3 'retransmit' "$DEMO_TMP/send.err" | sed 's/^/    /'
tail -n 1 "$DEMO_TMP/send.err" | sed 's/^/    /'
wait "$RECV_PID" 2>/dev/null || true
say "What the relay did to the datagrams:"
for what in dropped 'held back' corrupted 'forwarded$'; do
    printf '    %-10s %s\n' "${what%\$}" "$(grep -c "$what" "$RELAY_LOG" || true)"
done
say "The SHA-256 of the file sent and of the file received:"
(cd "$DEMO_TMP" && sha256sum file copy) | sed 's/^/    /'
demo_stop_server "$RELAY_PID"
