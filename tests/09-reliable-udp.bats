#!/usr/bin/env bats
# Lesson 09 (09-reliable-udp): rudp_send and rudp_recv, reliable delivery of
# one file over UDP.
#
# Steps (lessons/09-reliable-udp/README.md):
#   1 checksum and codec       the packet format on the wire, CRC-32 checked
#   2 stop-and-wait            -w 1 delivers any size, usage, stop signals
#   3 sequence numbers         duplicates written once, cumulative acks
#   4 sliding window           -w packets in flight, out-of-order kept,
#                              every impairment, 1 MiB and 20 MiB
#   5 retransmission timer     RTO from the RTT (-v log), back-off, -t
#   6 ending                   both sides agree, the receiver lingers
#   7 atomic output            FILE only when complete, never half-written
#
# Each program is also graded on its own against a hand-written peer that
# speaks the packet format (build/fixtures/rudp_peer). The impairments come
# from the lab's relay (build/fixtures/udp_relay -e DIR:KIND:PERCENT), driven
# by a seed: its log (shown on failure) says what it did to each datagram.

# $stderr is set by bats' `run --separate-stderr`.
# shellcheck disable=SC2154
load 'lib/common'
load 'lib/netns'

teardown() {
    cleanup_background
    netns_cleanup
}

setup() {
    OUT="$BATS_TEST_TMPDIR/received"
    SRC="$BATS_TEST_TMPDIR/sent"
}

# --------------------------------------------------------------- helpers

# random_file SIZE PATH: SIZE random bytes (20 MiB ones are made once).
random_file() {
    local cached="$BATS_FILE_TMPDIR/random.$1"
    [[ -f $cached ]] || head -c "$1" /dev/urandom >"$cached"
    cp "$cached" "$2"
}

# start_receiver [ARGS...]: rudp_recv -p 0 -o $OUT; sets RECV_PID,
# RECV_PORT, RECV_ERR.
start_receiver() {
    start_server "$(program rudp_recv)" -p 0 -o "$OUT" "$@" || return 1
    RECV_PID=$SERVER_PID
    RECV_PORT=$SERVER_PORT
    RECV_ERR=$SERVER_ERR
}

# start_receiver_in_namespace: start_receiver, in the server's namespace.
start_receiver_in_namespace() {
    start_server ip netns exec "$NETNS_SERVER" "$(program rudp_recv)" -b "$NETNS_SERVER_ADDR" \
        -p 0 -o "$OUT" || return 1
    RECV_PID=$SERVER_PID
    RECV_PORT=$SERVER_PORT
    RECV_ERR=$SERVER_ERR
}

# send_file_from_namespace: send_file, from the client's namespace.
send_file_from_namespace() {
    local sender start
    sender=$(program rudp_send) || return 1
    start=$(now_ms)
    run --separate-stderr timeout 60 ip netns exec "$NETNS_CLIENT" "$sender" \
        "$NETNS_SERVER_ADDR" "$RECV_PORT" "$SRC"
    ELAPSED_MS=$(($(now_ms) - start))
}

# start_relay OPTIONS...: the relay in front of the receiver; sets
# RELAY_PORT and RELAY_ERR (its log: one line per datagram).
start_relay() {
    start_server "$(fixture udp_relay)" "$@" 127.0.0.1 "$RECV_PORT" || return 1
    RELAY_PORT=$SERVER_PORT
    RELAY_ERR=$SERVER_ERR
}

# start_silent_peer: a receiver that prints what it gets and never answers;
# sets PEER_PORT and PEER_OUT.
start_silent_peer() {
    start_server "$(fixture rudp_peer)" -l -p 0 || return 1
    PEER_PORT=$SERVER_PORT
    PEER_OUT=$SERVER_OUT
}

# send_file PORT [ARGS...]: rudp_send ARGS 127.0.0.1 PORT $SRC (60 s at
# most); sets status, output, stderr and ELAPSED_MS.
send_file() {
    local sender port=$1 start
    shift
    sender=$(program rudp_send) || return 1
    start=$(now_ms)
    run --separate-stderr timeout 60 "$sender" "$@" 127.0.0.1 "$port" "$SRC"
    ELAPSED_MS=$(($(now_ms) - start))
}

# peer PACKET...: hand-made packets to the receiver; the replies, one line
# each, in $output.
peer() {
    run --separate-stderr timeout 20 "$(fixture rudp_peer)" -t 300 127.0.0.1 "$RECV_PORT" "$@"
}

# peer_in_background PACKET...: the same, while the test goes on; sets
# PEER_PID and PEER_OUT (the replies).
peer_in_background() {
    start_background "$(fixture rudp_peer)" -t 300 127.0.0.1 "$RECV_PORT" "$@"
    PEER_PID=$BG_PID
    PEER_OUT=$BG_OUT
}

# wait_for_replies N: until the background peer printed N replies (5 s).
wait_for_replies() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    wait_until 5 bash -c '(($(wc -l <"$1") >= $2))' _ "$PEER_OUT" "$1" || true
}

relay_log_tail() {
    if [[ -n ${RELAY_ERR:-} && -f $RELAY_ERR ]]; then
        echo "relay's last decisions: $(tail -n 5 "$RELAY_ERR" | paste -sd ';' -)"
    fi
}

# expect_delivered WHAT CAUSE: the sender ended 0, the receiver ends 0
# within 8 s (it may linger 5 s), and FILE is $SRC byte for byte.
expect_delivered() {
    local what=$1 cause=$2 sent_sum got_sum
    if ((status != 0)); then
        report_mismatch "$what" "rudp_send exits 0" \
            "exit $status after ${ELAPSED_MS} ms, stderr: $(tail -n 3 <<<"$stderr" | paste -sd ';' -); $(relay_log_tail)" \
            "$cause"
        return 1
    fi
    if ! wait_exit "$RECV_PID" 8; then
        report_mismatch "$what" "rudp_recv exits 0 within 8 s of the end (it lingers 5 s at most)" \
            "still running; stderr: $(tail -n 3 "$RECV_ERR" | paste -sd ';' -)" \
            "the receiver must leave once the sender said it is done, or after lingering 5 s: see step 6"
        return 1
    fi
    if ((EXIT_STATUS != 0)); then
        report_mismatch "$what" "rudp_recv exits 0" \
            "exit $EXIT_STATUS, stderr: $(tail -n 3 "$RECV_ERR" | paste -sd ';' -)" "$cause"
        return 1
    fi
    if [[ ! -f $OUT ]]; then
        report_mismatch "$what" "FILE written" "no FILE" "$cause"
        return 1
    fi
    sent_sum=$(sha256sum <"$SRC" | cut -d' ' -f1)
    got_sum=$(sha256sum <"$OUT" | cut -d' ' -f1)
    if [[ $sent_sum != "$got_sum" ]]; then
        expect_file_equal "$what (sha256 $sent_sum)" "$SRC" "$OUT" \
            "$cause ($(relay_log_tail))"
        return 1
    fi
}

# transfer SIZE SENDER_OPTIONS -- RELAY_OPTIONS: SIZE random bytes to a new
# receiver, through a relay with RELAY_OPTIONS (none: no relay).
transfer() {
    local size=$1 send_opts=() port
    shift
    while (($# > 0)) && [[ $1 != -- ]]; do
        send_opts+=("$1")
        shift
    done
    [[ ${1:-} != -- ]] || shift
    random_file "$size" "$SRC"
    start_receiver || return 1
    port=$RECV_PORT
    if (($# > 0)); then
        start_relay "$@" || return 1
        port=$RELAY_PORT
    fi
    send_file "$port" "${send_opts[@]}"
}

# impaired KIND PERCENT SIZE: SIZE bytes through KIND at PERCENT, both ways.
impaired() {
    transfer "$3" -- -S "$RANDOM" -e "both:$1:$2"
    expect_delivered "$3 random bytes, the relay: $1 $2% of the datagrams both ways" \
        "${4:-see step 4: every packet kept until acknowledged, every ack taken for what it says}"
}

# no_temporary_files: nothing but FILE (if any) in FILE's folder.
expect_no_temporary_file() {
    local left
    left=$(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'received?*' | head -n 3)
    if [[ -n $left ]]; then
        report_mismatch "$1" "no temporary file left beside FILE" "$(basename -a "$left")" \
            "on a failure the temporary file must be removed: see step 7"
    fi
}

# retransmission_rtos LOG: the rto of every -v retransmission line of LOG
# (rudp_send's stderr), one a line.
retransmission_rtos() {
    sed -n 's/^rudp_send: retransmit .*rto \([0-9][0-9]*\) ms$/\1/p' <<<"$1"
}

# ------------------------------------------------------------------ step 1

@test "step 1: rudp_recv -p 0 prints 'listening on 127.0.0.1:PORT'" {
    start_receiver
    expect_equal "rudp_recv -p 0 -o FILE" 127.0.0.1 "$SERVER_HOST"
}

@test "step 1: a good DATA packet 0 is answered 'ACK seq=0 ack=1' (big-endian, CRC-32)" {
    start_receiver
    peer data:0:hello
    expect_equal "DATA seq=0 'hello' (checksum right)" "ACK seq=0 ack=1 len=0" "${lines[0]:-}" \
        "the receiver answers each packet with an ACK naming it (seq) and the next packet it expects (ack), every field big-endian, CRC-32 over header and payload: see step 1"
}

@test "step 1: a packet whose checksum fails gets no answer and is not taken" {
    start_receiver
    peer bad-data:0:hello data:0:world
    expect_equal "DATA seq=0 'hello' with a wrong checksum" "no reply" "${lines[0]:-}" \
        "a datagram whose checksum fails must be dropped unanswered: see step 1"
    expect_equal "then DATA seq=0 'world', checksum right" "ACK seq=0 ack=1 len=0" "${lines[1]:-}" \
        "the damaged packet must change nothing: see step 1"
}

# bats test_tags=heavy
@test "step 1: rudp_send's first packet: DATA seq=0, 1200 bytes of the file, CRC-32" {
    printf 'abcdefgh%.0s' $(seq 1 200) >"$SRC"
    start_silent_peer
    send_file "$PEER_PORT" -t 1
    local first
    first=$(grep -m1 ': DATA\|: bad\|: malformed\|: FIN\|: ACK' "$PEER_OUT" | sed 's/^[0-9]* ms: //')
    expect_equal "a 1600-byte file 'abcdefgh...' to a receiver that never answers" \
        "DATA seq=0 ack=0 len=1200 first=6162636465666768" "$first" \
        "header: type 1, 0, length (2 bytes), seq (4), ack (4), CRC-32 (4), all big-endian, then at most 1200 payload bytes: see step 1"
}

# bats test_tags=heavy
@test "step 1: a stray sender is ignored: its packets get no answer" {
    start_receiver
    peer_in_background data:0:first wait:2000 data:1:second fin:2 ack:3:3
    wait_for_replies 1
    run --separate-stderr timeout 5 "$(fixture rudp_peer)" -t 300 127.0.0.1 "$RECV_PORT" data:1:stray
    expect_equal "DATA seq=1 from another port, after the transfer began" "no reply" "${lines[0]:-}" \
        "the source of the first good datagram is the sender; drop datagrams from anyone else: see step 1"
    wait_exit "$PEER_PID" 10 || true
    expect_equal "the sender's own DATA 1 'second' and FIN 2: the FIN's ack" \
        "ACK seq=2 ack=3 len=0" "$(sed -n 3p "$PEER_OUT")" "see step 1"
    wait_exit "$RECV_PID" 8 || true
    expect_equal "DATA 0 'first', a stray DATA 1 'stray', DATA 1 'second', FIN 2" \
        firstsecond "$(cat "$OUT" 2>/dev/null)" "see step 1"
}

# ------------------------------------------------------------------ step 2

@test "step 2: bad command lines exit 2 with one line showing the usage" {
    local sender receiver args
    sender=$(program rudp_send)
    receiver=$(program rudp_recv)
    printf x >"$SRC"
    for args in "$sender" "$sender 127.0.0.1" "$sender -w 0 127.0.0.1 9 $SRC" \
        "$sender -w x 127.0.0.1 9 $SRC" "$sender -t 0 127.0.0.1 9 $SRC" \
        "$sender -t -1 127.0.0.1 9 $SRC" "$sender -q 127.0.0.1 9 $SRC" \
        "$sender 127.0.0.1 99999 $SRC" "$sender 127.0.0.1 9 $SRC extra" \
        "$receiver" "$receiver -p 0" "$receiver -p x -o $OUT" "$receiver -t 0 -o $OUT" \
        "$receiver -q -o $OUT" "$receiver -o $OUT extra"; do
        # shellcheck disable=SC2086 # the words are the arguments
        run --separate-stderr timeout 5 $args
        if ((status != 2)) || [[ ${#stderr_lines[@]} != 1 || $stderr != *usage* ]]; then
            report_mismatch "${args//$SOCKSTEP_PROGRAMS\//}" "exit 2, one stderr line with 'usage'" \
                "exit $status, stderr '$stderr'" \
                "check the arguments before anything else: -w from 1, -t a positive number, HOST PORT FILE, -o FILE: see step 2"
            return 1
        fi
    done
}

# bats test_tags=heavy
@test "step 2: -w 1 (stop-and-wait) delivers 0, 1, 1199, 1200 and 1201 bytes exactly" {
    local size
    for size in 0 1 1199 1200 1201; do
        rm -f "$OUT"
        transfer "$size" -w 1
        expect_delivered "$size bytes with -w 1, no impairment" \
            "one packet at a time: send, wait for its ack, next; the FIN after the last: see step 2"
        cleanup_background
    done
}

# bats test_tags=heavy
@test "step 2: -w 1 through a relay dropping 20% of the data delivers 50 KB" {
    transfer 50000 -w 1 -- -S 3 -e up:drop:20
    expect_delivered "50000 bytes with -w 1, the relay drops 20% of the data packets" \
        "a packet whose ack does not come in time is sent again: see step 2"
}

@test "step 2: SIGTERM ends rudp_send within 1 s: exit 1, 'interrupted'" {
    printf x >"$SRC"
    start_silent_peer
    start_background "$(program rudp_send)" -t 30 127.0.0.1 "$PEER_PORT" "$SRC"
    sleep 0.3
    stop_process "$BG_PID" TERM || true
    expect_equal "SIGTERM to a rudp_send waiting for an ack" 1 "${EXIT_STATUS:-still running}" \
        "every wait must end on a stop request: poll with a bounded timeout, check the flag: see step 2"
    run grep -c 'rudp_send: interrupted' "$BG_ERR"
    expect_equal "SIGTERM to a rudp_send" 1 "$output" "print 'rudp_send: interrupted': see step 2"
}

@test "step 2: SIGINT before a transfer ends rudp_recv with 0; SIGTERM during one with 1" {
    start_receiver
    stop_process "$RECV_PID" INT || true
    expect_equal "SIGINT to an idle rudp_recv" 0 "${EXIT_STATUS:-still running}" \
        "before a transfer began, a stop is a normal end (exit 0): see step 2"
    start_receiver
    peer data:0:abc
    stop_process "$RECV_PID" TERM || true
    expect_equal "SIGTERM to rudp_recv during a transfer" 1 "${EXIT_STATUS:-still running}" \
        "a stop during a transfer is a failure (exit 1): see step 2"
}

# ------------------------------------------------------------------ step 3

@test "step 3: a duplicate DATA packet is acknowledged again and written once" {
    start_receiver
    peer data:0:abc data:0:abc data:1:def fin:2 ack:3:3
    expect_equal "DATA 0 'abc' twice, DATA 1 'def', FIN 2: the acks" \
        "ACK seq=0 ack=1 len=0;ACK seq=0 ack=1 len=0;ACK seq=1 ack=2 len=0;ACK seq=2 ack=3 len=0" \
        "$(printf '%s\n' "${lines[@]:0:4}" | paste -sd ';' -)" \
        "answer a duplicate too (its ack may have been lost), but keep its bytes once: see step 3"
    wait_exit "$RECV_PID" 8 || true
    expect_equal "DATA 0 'abc' twice, DATA 1 'def', FIN 2" abcdef "$(cat "$OUT" 2>/dev/null)" \
        "a packet already written must not be written again: see step 3"
}

@test "step 3: acks are cumulative: after a gap the ack stays at the gap" {
    start_receiver
    peer data:0:abc data:2:ghi data:3:jkl
    expect_equal "DATA 0, DATA 2, DATA 3 (1 missing): the acks" \
        "ACK seq=0 ack=1 len=0;ACK seq=2 ack=1 len=0;ACK seq=3 ack=1 len=0" \
        "$(printf '%s\n' "${lines[@]:0:3}" | paste -sd ';' -)" \
        "ack is the next packet expected in order (everything before it arrived), not the packet just received: see step 3"
}

@test "step 3: duplicate acks are no news: a lost packet is still sent again" {
    random_file 12000 "$SRC"
    start_server "$(fixture rudp_peer)" -l -a -k 2 -x 1 -p 0
    local sender what="10 packets to a receiver that sends every ack twice and loses DATA 1 once"
    sender=$(program rudp_send)
    run --separate-stderr timeout 10 "$sender" -t 5 127.0.0.1 "$SERVER_PORT" "$SRC"
    local copies
    copies=$(grep -c ': DATA seq=1 ' "$SERVER_OUT") || true
    if ((status != 0 || copies < 2)); then
        report_mismatch "$what" "DATA 1 sent again, rudp_send exits 0" \
            "DATA 1 sent $copies time(s), exit $status, stderr: $(tail -n 2 <<<"$stderr" | paste -sd ';' -)" \
            "only an ack beyond the window's base is news; a duplicate of the last one moves nothing: see step 3"
    fi
}

# Where acks are lost too (drop or corrupt, both ways), the last ack can be
# lost: such a transfer ends well only once both sides agree on the end, so
# these tests belong to step 6, though they test steps 3 and 4 as much.
@test "step 6: -w 1 through a relay dropping 20% both ways: lost acks make copies, written once" {
    transfer 50000 -w 1 -- -S 3 -e both:drop:20
    expect_delivered "50000 bytes with -w 1, the relay drops 20% both ways" \
        "a lost ack makes the sender send the packet again: the receiver must know it by its number and write it once (step 3), and the end must be agreed (step 6)"
}

@test "step 3: duplicates (25% both ways) change nothing: 1 MiB arrives intact" {
    impaired dup 25 1048576 \
        "a duplicate packet is written once; a duplicate ack is not news: see step 3"
}

# ------------------------------------------------------------------ step 4

@test "step 4: -w 4 puts exactly 4 packets in flight before the first timeout" {
    random_file 20000 "$SRC"
    start_silent_peer
    send_file "$PEER_PORT" -w 4 -t 0.6
    local seqs
    seqs=$(grep -o 'DATA seq=[0-9]*' "$PEER_OUT" | sort -u | paste -sd ' ' -)
    expect_equal "a 17-packet file with -w 4 to a receiver that never answers (-t 0.6)" \
        "DATA seq=0 DATA seq=1 DATA seq=2 DATA seq=3" "$seqs" \
        "at most WINDOW packets unacknowledged: send while next - base < window: see step 4"
}

@test "step 4: out-of-order packets are kept: DATA 1, DATA 0, FIN 2 gives 'ab'" {
    start_receiver
    peer data:1:b data:0:a fin:2 ack:3:3
    expect_equal "DATA 1 'b', DATA 0 'a', FIN 2: the acks" \
        "ACK seq=1 ack=0 len=0;ACK seq=0 ack=2 len=0;ACK seq=2 ack=3 len=0" \
        "$(printf '%s\n' "${lines[@]:0:3}" | paste -sd ';' -)" \
        "keep a packet that came early, and write it once the gap before it is filled: see step 4"
    wait_exit "$RECV_PID" 8 || true
    expect_equal "DATA 1 'b', DATA 0 'a', FIN 2" ab "$(cat "$OUT" 2>/dev/null)" "see step 4"
}

# (Drop and corrupt both ways: step 6, see above.)
@test "step 6: drop 5% both ways: 1 MiB arrives intact" {
    impaired drop 5 1048576 \
        "every packet kept until acknowledged, every ack taken for what it says (step 4); the end agreed though acks are lost (step 6)"
}

@test "step 6: drop 20% both ways: 1 MiB arrives intact" {
    impaired drop 20 1048576 \
        "every packet kept until acknowledged, every ack taken for what it says (step 4); the end agreed though acks are lost (step 6)"
}

@test "step 4: reorder 5% both ways: 1 MiB arrives intact" {
    impaired reorder 5 1048576
}

@test "step 4: reorder 20% both ways: 1 MiB arrives intact" {
    impaired reorder 20 1048576
}

@test "step 4: duplicate 5% both ways: 1 MiB arrives intact" {
    impaired dup 5 1048576
}

@test "step 6: corrupt 15% both ways: 1 MiB arrives intact (bad checksums dropped)" {
    impaired corrupt 15 1048576 \
        "a packet whose checksum fails must be dropped, by both programs (steps 1 and 4), and the end agreed though acks are lost (step 6)"
}


@test "step 6: everything at 5% both ways (drop, dup, reorder, corrupt): 20 MiB intact" {
    transfer 20971520 -- -S 11 -e both:drop:5 -e both:dup:5 -e both:reorder:5 -e both:corrupt:5
    expect_delivered "20 MiB, the relay drops, duplicates, reorders and corrupts 5% each way" \
        "every packet kept until acknowledged, the window slides on cumulative acks (step 4); the end agreed though acks are lost (step 6)"
}

@test "step 6: everything at 20% both ways: 1 MiB intact" {
    transfer 1048576 -- -S 5 -e both:drop:20 -e both:dup:20 -e both:reorder:20 -e both:corrupt:20
    expect_delivered "1 MiB, the relay drops, duplicates, reorders and corrupts 20% each way" \
        "see step 4"
}

# bats test_tags=heavy
@test "step 4: 20 MiB straight (no relay) arrive intact" {
    transfer 20971520
    expect_delivered "20 MiB, no impairment" "see step 4"
}

@test "step 4: namespaces, the kernel drops 10% of the data: 1 MiB intact" {
    netns_setup
    netns_make_lossy 10
    random_file 1048576 "$SRC"
    start_receiver_in_namespace
    send_file_from_namespace
    expect_delivered "1 MiB over a veth link that drops 10% ($NETNS_LOSS_METHOD)" \
        "real loss behaves like the relay's: see step 4"
}

# ------------------------------------------------------------------ step 5

# lowest_rto WHAT LOG: the lowest rto of the -v retransmission lines of LOG;
# fails when there are none.
lowest_rto() {
    LOWEST_RTO=$(retransmission_rtos "$2" | sort -n | head -n 1)
    RTOS=$(retransmission_rtos "$2" | sort -n | uniq -c | awk '{ printf "%s%s ms (x%s)", sep, $2, $1; sep = ", " }')
    if [[ -z $LOWEST_RTO ]]; then
        report_mismatch "$1" "'rudp_send: retransmit seq N (WHY), rto MS ms' lines on stderr" \
            "$(tail -n 3 <<<"$2" | paste -sd ';' -)" \
            "with -v, log every retransmission with the timeout in force: see step 5"
    fi
}

@test "step 5: the timeout follows the round trip: near 20 ms on loopback, near 50 with 50 ms delay" {
    local what="300000 bytes with -v, 10% of the data dropped"
    transfer 300000 -v -- -S 2 -e up:drop:10
    expect_delivered "$what" "see step 5"
    lowest_rto "$what" "$stderr"
    ((LOWEST_RTO < 50)) || report_mismatch "$what, no delay" "a lowest rto under 50 ms" \
        "rto values: $RTOS" \
        "the timeout follows the measured round trip (SRTT + 4 RTTVAR, at least 20 ms), not a constant: see step 5"
    cleanup_background
    rm -f "$OUT"
    what="300000 bytes with -v, acks 50 ms late, 10% of the data dropped"
    transfer 300000 -v -- -S 2 -L 50 -e up:drop:10
    expect_delivered "$what" "see step 5"
    lowest_rto "$what" "$stderr"
    ((LOWEST_RTO >= 50 && LOWEST_RTO <= 600)) || report_mismatch "$what" \
        "a lowest rto from 50 to 600 ms" "rto values: $RTOS" \
        "the timeout follows the measured round trip (SRTT + 4 RTTVAR), not a constant: see step 5"
}

@test "step 5: an outage after a good start: the timeout doubles, few retransmissions" {
    random_file 20971520 "$SRC"
    start_receiver
    start_background "$(program rudp_send)" -v -w 1 -t 2 127.0.0.1 "$RECV_PORT" "$SRC"
    local sender=$BG_PID sender_err=$BG_ERR what
    what="20 MiB with -v -w 1 -t 2; the receiver killed after 0.3 s"
    sleep 0.3
    signal_process "$RECV_PID" KILL || true
    wait_exit "$sender" 8 || true
    local log stuck count first last
    log=$(cat "$sender_err")
    lowest_rto "$what" "$log"
    # The packet in flight when the receiver died: its retransmissions.
    stuck=$(grep '^rudp_send: retransmit seq ' <<<"$log" | tail -n 1 | cut -d' ' -f4)
    log=$(grep "^rudp_send: retransmit seq $stuck " <<<"$log")
    count=$(retransmission_rtos "$log" | wc -l)
    first=$(retransmission_rtos "$log" | head -n 1)
    last=$(retransmission_rtos "$log" | tail -n 1)
    if ((count > 12 || last < 4 * first)); then
        report_mismatch "$what" "at most 12 retransmissions of the last packet, each timeout twice the one before" \
            "$count retransmissions of packet $stuck, rto from $first to $last ms" \
            "after each timeout the timeout doubles (exponential back-off): see step 5"
    fi
}

@test "step 5: a receiver that vanishes: exit 1 within -t with 'no reply from HOST:PORT'" {
    random_file 20971520 "$SRC"
    start_receiver
    start_relay -S 1 -e up:drop:10
    start_background "$(program rudp_send)" -t 2 127.0.0.1 "$RELAY_PORT" "$SRC"
    local sender=$BG_PID sender_err=$BG_ERR start
    sleep 0.2
    signal_process "$RECV_PID" KILL || true
    start=$(now_ms)
    if ! wait_exit "$sender" 8; then
        report_mismatch "20 MiB, the receiver killed after 0.2 s, rudp_send -t 2" \
            "exit 1 within about 2 s" "still running after 8 s" \
            "no ack for -t seconds ends the transfer: see step 5"
        return 1
    fi
    local took=$(($(now_ms) - start)) said
    said=$(tail -n 1 "$sender_err")
    expect_equal "20 MiB, the receiver killed, rudp_send -t 2: status" 1 "$EXIT_STATUS" "see step 5"
    expect_equal "20 MiB, the receiver killed, rudp_send -t 2: last line" \
        "rudp_send: no reply from 127.0.0.1:$RELAY_PORT" "$said" "see step 5"
    ((took <= 4500)) || report_mismatch "rudp_send -t 2" "exit within 4.5 s" "$took ms" \
        "count -t from the last ack: see step 5"
}

@test "step 5: nobody at all: exit 1 after -t 1 with 'no reply from HOST:PORT'" {
    printf x >"$SRC"
    start_silent_peer
    send_file "$PEER_PORT" -t 1
    expect_equal "1 byte to a receiver that never answers, -t 1: status" 1 "$status" "see step 5"
    expect_equal "1 byte, -t 1: stderr" "rudp_send: no reply from 127.0.0.1:$PEER_PORT" "$stderr" \
        "see step 5"
    ((ELAPSED_MS >= 900 && ELAPSED_MS <= 4000)) ||
        report_mismatch "-t 1" "exit after 1 s" "$ELAPSED_MS ms" "see step 5"
}

# ------------------------------------------------------------------ step 6

@test "step 6: the final ack is lost (relay drops it): both sides still end with 0" {
    transfer 1 -t 3 -- -d 2
    expect_delivered "1 byte; the relay drops the receiver's 2nd datagram (the FIN's ack)" \
        "the receiver must linger and answer the FIN again: see step 6"
}

@test "step 6: the receiver leaves at once (within 3 s) when the sender says it is done" {
    transfer 5000
    if ((status != 0)); then
        expect_delivered "5000 bytes, no impairment" "see step 6"
        return 1
    fi
    if ! wait_exit "$RECV_PID" 3; then
        report_mismatch "5000 bytes, no impairment; rudp_send exited 0" \
            "rudp_recv exits within 3 s" "still running after 3 s" \
            "once the FIN is acknowledged the sender says so (an ACK of the ACK), and the receiver stops lingering: see step 6"
        return 1
    fi
    expect_delivered "5000 bytes, no impairment" "see step 6"
}

@test "step 6: a goodbye interrupted by a signal (EINTR) is sent again: the receiver leaves within 3 s" {
    # unlucky.so makes every other send() fail with EINTR, sending nothing,
    # and the relay drops the sender's 3rd datagram (after DATA and FIN):
    # the first copy of the goodbye that gets out. A sender that drops a
    # copy on EINTR instead of sending it again then gets none through.
    local sender start
    unlucky_prefix UNLUCKY_EINTR=1
    sender=$(program rudp_send)
    random_file 1 "$SRC"
    start_receiver
    start_relay -D 3
    start=$(now_ms)
    run --separate-stderr timeout 60 "${UNLUCKY_PREFIX[@]}" "$sender" 127.0.0.1 "$RELAY_PORT" "$SRC"
    ELAPSED_MS=$(($(now_ms) - start))
    if ((status != 0)); then
        expect_delivered "1 byte, every other send() interrupted (EINTR)" \
            "a send interrupted by a signal is sent again: see steps 2 and 6"
        return 1
    fi
    if ! wait_exit "$RECV_PID" 3; then
        report_mismatch "1 byte, every other send() of rudp_send interrupted (EINTR), its 3rd datagram dropped; rudp_send exited 0" \
            "rudp_recv exits within 3 s (a later copy of the goodbye arrives)" "still running after 3 s" \
            "say_done() must send a copy again when send() fails with EINTR (unless a stop was requested), not skip it: see step 6"
        return 1
    fi
    expect_delivered "1 byte, every other send() interrupted (EINTR)" "see step 6"
}

@test "step 6: the sender's goodbye lost: the receiver lingers, then exits 0 within 7 s" {
    transfer 1 -- -D 3,4,5,6,7,8
    expect_delivered "1 byte; the relay drops every datagram of the sender after DATA and FIN" \
        "linger at most 5 s after the end, answering a repeated FIN: see step 6"
}

@test "step 6: a sender that goes silent: 'rudp_recv: the sender went silent', exit 1" {
    start_receiver -t 1
    peer data:0:abc
    if ! wait_exit "$RECV_PID" 5; then
        report_mismatch "DATA 0, then nothing; rudp_recv -t 1" "exit 1 after 1 s" "still running" \
            "once a transfer began, -t seconds without a datagram end it: see step 6"
        return 1
    fi
    expect_equal "DATA 0, then nothing; rudp_recv -t 1: status" 1 "$EXIT_STATUS" "see step 6"
    expect_equal "DATA 0, then nothing; rudp_recv -t 1: stderr" \
        "rudp_recv: the sender went silent" "$(tail -n 1 "$RECV_ERR")" "see step 6"
}

# ------------------------------------------------------------------ step 7

@test "step 7: FILE is absent until the transfer is complete" {
    start_receiver
    peer_in_background data:0:abc data:1:def wait:2000 fin:2 ack:3:3
    wait_for_replies 2
    [[ ! -e $OUT ]] || report_mismatch "DATA 0, DATA 1, no FIN yet" "no FILE yet" \
        "FILE exists: '$(head -c 80 "$OUT")'" \
        "write to a temporary file beside FILE, rename it only at the end: see step 7"
    wait_exit "$PEER_PID" 10 || true
    wait_exit "$RECV_PID" 8 || true
    expect_equal "DATA 0, DATA 1, FIN 2" abcdef "$(cat "$OUT" 2>/dev/null)" "see step 7"
}

@test "step 7: a failed transfer leaves an existing FILE untouched, no temporary file" {
    printf 'precious\n' >"$OUT"
    start_receiver -t 1
    peer data:0:abc
    wait_exit "$RECV_PID" 5 || true
    expect_equal "FILE held 'precious'; DATA 0, then silence" "precious" "$(cat "$OUT")" \
        "never write into FILE itself: see step 7"
    expect_no_temporary_file "a transfer that failed"
}

@test "step 7: SIGTERM during a transfer: no FILE, no temporary file" {
    start_receiver
    peer data:0:abc
    stop_process "$RECV_PID" TERM || true
    [[ ! -e $OUT ]] || report_mismatch "DATA 0, then SIGTERM to rudp_recv" "no FILE" \
        "FILE exists: '$(head -c 80 "$OUT")'" "FILE only appears once complete: see step 7"
    expect_no_temporary_file "DATA 0, then SIGTERM to rudp_recv"
}

@test "step 7: an existing 0600 FILE keeps its mode; a folder that is not there: exit 1" {
    printf 'old\n' >"$OUT"
    chmod 600 "$OUT"
    start_receiver
    peer data:0:new fin:1 ack:2:2
    wait_exit "$RECV_PID" 8 || true
    expect_equal "FILE was 0600; DATA 0 'new', FIN 1: content" new "$(cat "$OUT")" "see step 7"
    expect_equal "FILE was 0600: mode after" 600 "$(stat -c %a "$OUT")" \
        "give the temporary file the existing FILE's mode before the rename: see step 7"
    run --separate-stderr timeout 5 "$(program rudp_recv)" -p 0 -o "$BATS_TEST_TMPDIR/none/file"
    expect_equal "rudp_recv -o DIR/file, DIR missing: status" 1 "$status" \
        "make the temporary file before the transfer, so a bad folder is an error at once: see step 7"
}
