#!/usr/bin/env bash
# Benchmark of lesson 09 (09-reliable-udp): goodput (file bytes delivered
# per second, in Mbit/s) of rudp_send with -w 1 (stop-and-wait) and with the
# default window (64), and of TCP (socat) for the same file on the same
# path, at 0, 1, 5 and 20% loss.
#
# Paths:
#   loopback  rudp_send straight to rudp_recv, no loss (the 100 Mbit/s target)
#   relay     through build/fixtures/udp_relay -e up:drop:P (rudp only: the
#             relay carries UDP, so TCP cannot cross it)
#   netns     two network namespaces joined by a veth pair, the kernel
#             dropping P% of what the sender's side sends (nftables numgen,
#             as in lesson 05); rudp and TCP alike. Needs root and iproute2
#             and nftables; skipped otherwise.
# Each figure is the median of BENCH_ROUNDS runs. Targets, one PASS/FAIL
# line each: loopback, default window, at least 100 Mbit/s; relay at 5%
# loss, the default window at least 10 times stop-and-wait.
#
# Writes $BENCH_OUT/rudp.tsv (medians) and rudp-runs.tsv (every run), and
# rudp.svg when gnuplot is installed.
#
# Run by `make bench LESSON=09`; by hand: bash tests/bench/09-reliable-udp.sh
# Environment: SOCKSTEP_ROOT, SOCKSTEP_BUILD (default build), BENCH_OUT
# (default $SOCKSTEP_BUILD/bench), BENCH_MIB (file size for the window and
# TCP, default 16), BENCH_SAW_MIB (for -w 1, which is slow under loss,
# default 1), BENCH_ROUNDS (default 3), BENCH_LOSSES (default "0 1 5 20"),
# LESSONS=1 to measure your programs in build/lessons. Takes a few minutes.
set -euo pipefail

: "${SOCKSTEP_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SOCKSTEP_BUILD:=$SOCKSTEP_ROOT/build}"
: "${BENCH_OUT:=$SOCKSTEP_BUILD/bench}"
: "${BENCH_MIB:=16}"
: "${BENCH_SAW_MIB:=1}"
: "${BENCH_ROUNDS:=3}"
: "${BENCH_LOSSES:=0 1 5 20}"

which=solutions
[[ ${LESSONS:-} == 1 ]] && which=lessons
bin="$SOCKSTEP_BUILD/$which/09-reliable-udp"
relay="$SOCKSTEP_BUILD/fixtures/udp_relay"
for p in "$bin/rudp_send" "$bin/rudp_recv" "$relay"; do
    if [[ ! -x $p ]]; then
        echo "  ${p#"$SOCKSTEP_ROOT"/} is not built: run make" >&2
        exit 1
    fi
done

mkdir -p "$BENCH_OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-bench09.XXXXXX")
pids=()
namespaces=()
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    local pid ns
    for pid in "${pids[@]}"; do
        kill -s TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for ns in "${namespaces[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -s KILL "$pid" 2>/dev/null || true
        done
        ip netns delete "$ns" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

head -c $((BENCH_MIB * 1048576)) /dev/urandom >"$work/big"
head -c $((BENCH_SAW_MIB * 1048576)) /dev/urandom >"$work/small"

# start_listener VAR CMD...: starts CMD, waits for its `listening on` line;
# sets VAR to the port and LISTENER_PID.
start_listener() {
    local var=$1 out="$work/$1.out" line i
    shift
    rm -f "$out" # else the line of the previous run could be read
    "$@" >"$out" 2>/dev/null &
    LISTENER_PID=$!
    pids+=("$LISTENER_PID")
    for ((i = 0; i < 100; i++)); do
        line=$(grep -m1 '^listening on ' "$out" 2>/dev/null) || true
        [[ -z $line ]] || break
        sleep 0.05
    done
    [[ -n $line ]] || return 1
    printf -v "$var" '%s' "${line##*:}"
}

# goodput FILE SECONDS_NS: Mbit/s of FILE's size over the time.
goodput() {
    awk -v bytes="$(stat -c %s "$1")" -v ns="$2" 'BEGIN { printf "%.1f", bytes * 8 / (ns / 1e9) / 1e6 }'
}

# stop_started: stops what the last run started (a receiver that got no
# first datagram would wait for ever).
stop_started() {
    local pid
    for pid in "${pids[@]}"; do
        kill -s TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}

# run_rudp PATH LOSS WINDOW: one transfer; sets RESULT to Mbit/s or "fail".
run_rudp() {
    local path=$1 loss=$2 window=$3 file="$work/big" port start end recv_pid
    [[ $window == 1 ]] && file="$work/small"
    RESULT=fail
    rm -f "$work/copy"
    if [[ $path == netns ]]; then
        netns_loss "$loss"
        start_listener recv_port ip netns exec "$ns_b" "$bin/rudp_recv" -b 198.18.9.2 -p 0 \
            -o "$work/copy" || return 0
        recv_pid=$LISTENER_PID
        start=$(date +%s%N)
        timeout 300 ip netns exec "$ns_a" "$bin/rudp_send" -w "$window" 198.18.9.2 \
            "$recv_port" "$file" 2>/dev/null || { stop_started; return 0; }
    else
        start_listener recv_port "$bin/rudp_recv" -p 0 -o "$work/copy" || return 0
        recv_pid=$LISTENER_PID
        port=$recv_port
        if [[ $path == relay ]]; then
            start_listener relay_port "$relay" -S "$RANDOM" -e "up:drop:$loss" 127.0.0.1 \
                "$recv_port" || { stop_started; return 0; }
            port=$relay_port
        fi
        start=$(date +%s%N)
        timeout 300 "$bin/rudp_send" -w "$window" 127.0.0.1 "$port" "$file" 2>"$work/send.err" ||
            { echo "  $path $loss% -w $window: $(tail -n 1 "$work/send.err")" >&2; stop_started; return 0; }
    fi
    end=$(date +%s%N)
    wait "$recv_pid" 2>/dev/null || true
    stop_started
    if cmp -s "$file" "$work/copy"; then
        RESULT=$(goodput "$file" $((end - start)))
    else
        echo "  $path $loss% -w $window: the copy differs from the file sent" >&2
    fi
}

# run_tcp LOSS: socat over the namespace link; sets RESULT.
run_tcp() {
    local start end recv_pid port=40900
    RESULT=fail
    netns_loss "$1"
    rm -f "$work/copy"
    ip netns exec "$ns_b" socat -u "TCP-LISTEN:$port,bind=198.18.9.2,reuseaddr" \
        "OPEN:$work/copy,creat,trunc" 2>/dev/null &
    recv_pid=$!
    pids+=("$recv_pid")
    sleep 0.3
    start=$(date +%s%N)
    timeout 300 ip netns exec "$ns_a" socat -u "OPEN:$work/big" "TCP:198.18.9.2:$port" \
        2>/dev/null || { stop_started; return 0; }
    wait "$recv_pid" 2>/dev/null || true
    end=$(date +%s%N)
    stop_started
    if cmp -s "$work/big" "$work/copy"; then
        RESULT=$(goodput "$work/big" $((end - start)))
    else
        echo "  TCP $1%: the copy differs from the file sent" >&2
    fi
}

# ---- the namespace link ------------------------------------------------------

ns_a=""
recv_port=""
relay_port=""
ns_b=""
netns_setup() {
    [[ $(id -u) == 0 ]] && command -v ip >/dev/null && command -v nft >/dev/null || return 1
    ns_a="sockstep-b09-$$-a"
    ns_b="sockstep-b09-$$-b"
    ip netns add "$ns_a" 2>/dev/null || return 1
    namespaces+=("$ns_a")
    ip netns add "$ns_b" || return 1
    namespaces+=("$ns_b")
    ip link add "sb9a$$" netns "$ns_a" type veth peer name "sb9b$$" netns "$ns_b" || return 1
    ip -n "$ns_a" addr add 198.18.9.1/24 dev "sb9a$$" && ip -n "$ns_a" link set "sb9a$$" up &&
        ip -n "$ns_a" link set lo up || return 1
    ip -n "$ns_b" addr add 198.18.9.2/24 dev "sb9b$$" && ip -n "$ns_b" link set "sb9b$$" up &&
        ip -n "$ns_b" link set lo up || return 1
    # The same nftables table as lesson 05: drop a random share of what
    # arrives from the sender's side (UDP data, TCP segments).
    ip netns exec "$ns_b" nft add table inet lossy &&
        ip netns exec "$ns_b" nft add chain inet lossy input \
            '{ type filter hook input priority 0; policy accept; }' || return 1
}

netns_loss() {
    ip netns exec "$ns_b" nft flush chain inet lossy input
    if (($1 > 0)); then
        ip netns exec "$ns_b" nft add rule inet lossy input iifname "sb9b$$" \
            meta l4proto '{ udp, tcp }' numgen random mod 100 "<" "$1" drop
    fi
}

# ---- the runs ------------------------------------------------------------------

median() {
    tr ' ' '\n' | awk '$1 != "" && $1 != "fail"' | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "fail"; else print v[int((NR + 1) / 2)] }'
}

paths=(loopback relay)
if netns_setup; then
    paths+=(netns)
else
    echo "  netns: skipped (needs root, iproute2, nftables and network namespaces)"
fi

printf 'path\tloss\tmode\tround\tmbit\n' >"$BENCH_OUT/rudp-runs.tsv"
printf 'path\tloss\tw1\tw64\ttcp\n' >"$BENCH_OUT/rudp.tsv"
declare -A result
for path in "${paths[@]}"; do
    losses=$BENCH_LOSSES
    [[ $path != loopback ]] || losses=0
    for loss in $losses; do
        for mode in w1 w64 tcp; do
            [[ $mode != tcp || $path == netns ]] || { result[$path,$loss,$mode]=-; continue; }
            runs=""
            for ((round = 1; round <= BENCH_ROUNDS; round++)); do
                if [[ $mode == tcp ]]; then
                    run_tcp "$loss"
                else
                    run_rudp "$path" "$loss" "${mode#w}"
                fi
                r=$RESULT
                printf '%s\t%s\t%s\t%s\t%s\n' "$path" "$loss" "$mode" "$round" "$r" >>"$BENCH_OUT/rudp-runs.tsv"
                runs+=" $r"
            done
            result[$path,$loss,$mode]=$(median <<<"$runs")
        done
        printf '%s\t%s\t%s\t%s\t%s\n' "$path" "$loss" "${result[$path,$loss,w1]}" \
            "${result[$path,$loss,w64]}" "${result[$path,$loss,tcp]}" >>"$BENCH_OUT/rudp.tsv"
    done
done

echo "  goodput in Mbit/s (median of $BENCH_ROUNDS; -w 1 on $BENCH_SAW_MIB MiB, the rest on $BENCH_MIB MiB)"
echo
echo "  | path | loss | -w 1 | -w 64 (default) | TCP (socat) |"
echo "  |---|---|---|---|---|"
tail -n +2 "$BENCH_OUT/rudp.tsv" | while IFS=$'\t' read -r path loss w1 w64 tcp; do
    echo "  | $path | $loss% | $w1 | $w64 | $tcp |"
done
echo

if command -v gnuplot >/dev/null; then
    awk -F'\t' 'NR > 1 && $1 != "loopback"' "$BENCH_OUT/rudp.tsv" >"$work/plot.tsv"
    gnuplot <<PLOT 2>/dev/null || true
set terminal svg size 720,420
set output "$BENCH_OUT/rudp.svg"
set title "Goodput under loss (lesson 09)"
set xlabel "loss (%)"
set ylabel "Mbit/s"
set logscale y
set key outside
plot "< grep relay $work/plot.tsv" using 2:3 with linespoints title "relay -w 1", \
     "< grep relay $work/plot.tsv" using 2:4 with linespoints title "relay -w 64", \
     "< grep netns $work/plot.tsv" using 2:4 with linespoints title "netns -w 64", \
     "< grep netns $work/plot.tsv" using 2:5 with linespoints title "netns TCP"
PLOT
fi

status=0
check() {
    if awk -v a="$2" -v b="$3" 'BEGIN { exit !(a != "fail" && b != "fail" && a + 0 >= b + 0) }'; then
        echo "  PASS  $1"
    else
        echo "  FAIL  $1"
        status=1
    fi
}
check "loopback, default window: ${result[loopback,0,w64]} Mbit/s >= 100" "${result[loopback,0,w64]}" 100
if [[ -n ${result[relay,5,w64]:-} ]]; then
    ten_times=$(awk -v a="${result[relay,5,w1]}" 'BEGIN { print (a == "fail") ? "fail" : a * 10 }')
    check "relay at 5% loss: default window ${result[relay,5,w64]} >= 10 x stop-and-wait ${result[relay,5,w1]}" \
        "${result[relay,5,w64]}" "$ten_times"
fi
exit "$status"
