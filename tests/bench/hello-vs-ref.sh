#!/usr/bin/env bash
# A hello server of lessons 03 or 04 side by side with build/bench/hello_ref_threads
# (tests/bench/hello_ref_threads.c: a careful thread per connection, with
# TCP_NODELAY, one write for the replies of one read, 128 KiB stacks).
# Run by tests/bench/03-threaded-server.sh and 04-forking-server.sh:
#
#   hello-vs-ref.sh LESSON PROGRAM RPS_TARGET CPU_TARGET NEW_CPU_TARGET
#
# e.g. hello-vs-ref.sh 03-threaded-server hello_threads 0.95 1.10 1.50
# (a target "-": that figure is shown, not checked).
#
# The loads, each BENCH_SECONDS long, BENCH_ROUNDS rounds. Both servers run
# at once, idle but for the load of the moment, which goes to one and then at
# once to the other, in the other order each time (so that neither always
# runs first on a machine whose load changes); each pair of runs gives a
# ratio, and the medians of the figures and of the ratios are shown:
#   1, 10, 100 connections   build/bench/hello_load: one line in flight per
#                            connection, the next sent when its reply is in;
#   pipelined                10 connections sending 8 lines at a time
#                            (hello_load -l 8): where Nagle's algorithm and
#                            one write per reply show;
#   new connections          build/fixtures/hello_swarm -n 100 -r 50: 5,000
#                            connections, each welcomed, one line, exit:
#                            where a thread's stack or a fork costs.
# For each: replies (or connections) per second, and the CPU time the server
# used per reply, its threads and its children included (utime + stime +
# cutime + cstime from /proc/PID/stat, once every child and thread of the
# run has ended). The targets are checked on the median ratios:
#   at 100 connections, PROGRAM answers at least RPS_TARGET x the replies per
#   second of hello_ref_threads, with CPU per reply at most CPU_TARGET x its;
#   new connections, CPU per connection at most NEW_CPU_TARGET x its (8 MiB
#   thread stacks cost about 2 x: glibc keeps too few of them for reuse);
#   pipelined, at least 0.10 x: a server held back by Nagle's algorithm
#   answers about 0.005 x (the second reply of each read waits 40 ms for a
#   delayed ACK); one write per reply instead of one per read, with
#   TCP_NODELAY, answers 0.3 to 0.5 x at 3 to 4 x the CPU per reply.
#
# The machine may be shared: wall-clock figures are noisy, which is why the
# servers alternate and the ratios matter more than the figures. CPU per
# reply depends less on the machine's load than replies per second do.
#
# Writes $BENCH_OUT/PROGRAM-vs-ref.tsv (medians: of each server's figures,
# and of the ratios, as server PROGRAM/hello_ref_threads) and
# PROGRAM-vs-ref-runs.tsv (every run). Loopback only; every server started
# here is stopped on exit.
# Environment: SOCKSTEP_ROOT, SOCKSTEP_BUILD (default build), BENCH_OUT
# (default $SOCKSTEP_BUILD/bench), BENCH_SECONDS (default 3), BENCH_ROUNDS
# (default 5), LESSONS=1 to measure your program in build/lessons instead of
# the reference. Takes about three minutes.
set -euo pipefail

if (($# != 5)); then
    echo "usage: hello-vs-ref.sh LESSON PROGRAM RPS_TARGET CPU_TARGET NEW_CPU_TARGET" >&2
    exit 2
fi
lesson=$1 prog=$2 rps_target=$3 cpu_target=$4 new_cpu_target=$5

: "${SOCKSTEP_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SOCKSTEP_BUILD:=$SOCKSTEP_ROOT/build}"
: "${BENCH_OUT:=$SOCKSTEP_BUILD/bench}"
: "${BENCH_SECONDS:=3}"
: "${BENCH_ROUNDS:=5}"

which=solutions
[[ ${LESSONS:-} == 1 ]] && which=lessons
ref=hello_ref_threads
declare -A path_of=(
    [$prog]="$SOCKSTEP_BUILD/$which/$lesson/$prog"
    [$ref]="$SOCKSTEP_BUILD/bench/$ref"
)
load="$SOCKSTEP_BUILD/bench/hello_load"
swarm="$SOCKSTEP_BUILD/fixtures/hello_swarm"
servers=("$ref" "$prog")
# name, then how: "load CONNS LINES" or "swarm CLIENTS ROUNDS"
loads=(c1 c10 c100 pipelined new)
declare -A how_of=(
    [c1]="load 1 1" [c10]="load 10 1" [c100]="load 100 1"
    [pipelined]="load 10 8" [new]="swarm 100 50"
)
declare -A title_of=(
    [c1]="1 connection" [c10]="10 connections" [c100]="100 connections"
    [pipelined]="pipelined, 10 x 8 lines" [new]="new connections"
)
PIPELINED_TARGET=0.10

for built in "$load" "$swarm" "${path_of[$ref]}" "${path_of[$prog]}"; do
    if [[ ! -x $built ]]; then
        echo "  ${built#"$SOCKSTEP_ROOT"/} is not built: run make" >&2
        exit 1
    fi
done

mkdir -p "$BENCH_OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-bench-$prog.XXXXXX")
declare -A pid_of=() port_of=()
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    stop_servers
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server NAME: starts it on an ephemeral port in a session of its own
# (so that hello_fork's children are stopped with it); sets pid_of[NAME] and
# port_of[NAME].
start_server() {
    local out="$work/$1.out" line=""
    : >"$out"
    setsid "${path_of[$1]}" -p 0 </dev/null >"$out" 2>/dev/null &
    pid_of[$1]=$!
    for _ in $(seq 100); do
        line=$(grep -m1 '^listening on ' "$out" || true)
        [[ -z $line ]] || break
        sleep 0.05
    done
    if [[ -z $line ]]; then
        echo "  $1 did not start" >&2
        return 1
    fi
    port_of[$1]=${line##*:}
}

# stop_servers: SIGTERM, then SIGKILL to a server not ended within 3 s.
stop_servers() {
    local name pid
    for name in "${!pid_of[@]}"; do
        pid=${pid_of[$name]}
        kill -s TERM "$pid" 2>/dev/null || true
        for _ in $(seq 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "  warning: $name did not end within 3 s of SIGTERM: killed"
            kill -s KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        kill -s KILL -- "-$pid" 2>/dev/null || true
        unset "pid_of[$name]"
    done
}

# server_ticks NAME: CPU clock ticks the server used so far, its threads and
# its reaped children included.
server_ticks() {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/${pid_of[$1]}/stat"
}

# wait_until_idle NAME: until the server is down to its main thread and has
# no child left (so that their CPU time is in server_ticks), at most 5 s.
wait_until_idle() {
    local pid=${pid_of[$1]} threads children
    for _ in $(seq 100); do
        threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$pid/status")
        children=$(ps -o pid= --ppid "$pid" | wc -l || true) # ps: 1 if none
        ((threads > 1 || children > 0)) || return 0
        sleep 0.05
    done
    echo "  warning: $1 still had $((threads - 1)) threads and $children children 5 s after a run" >&2
}

# field LINE NAME: the value of NAME=... in hello_load's result line.
field() {
    local word
    for word in $1; do
        if [[ $word == "$2="* ]]; then
            printf '%s\n' "${word#*=}"
            return
        fi
    done
    echo 0
}

median() { # median VALUES...: the middle one (the lower of the two middle ones)
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

ratio() { # ratio A B: A / B with two decimals ("-" when B is 0)
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'
}

# shellcheck disable=SC2317 # called through verdict
at_least() { # at_least A B: A >= B (decimals)
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'
}

# run_one NAME LOAD: runs the load against that server; prints
# "RATE CPU_US_PER_ITEM ERRORS" (items: replies, or connections).
run_one() {
    local kind a b result items seconds errors t0 t1 ticks0 ticks1
    read -r kind a b <<<"${how_of[$2]}"
    ticks0=$(server_ticks "$1")
    if [[ $kind == load ]]; then
        result=$("$load" -c "$a" -l "$b" -d "$BENCH_SECONDS" -t 30 127.0.0.1 "${port_of[$1]}" \
            2>"$work/load.err") || true
        items=$(field "$result" replies)
        seconds=$(field "$result" seconds)
        errors=$(field "$result" errors)
        [[ -n $result ]] || errors=1
    else
        t0=$(date +%s%N)
        errors=0
        "$swarm" -q -n "$a" -r "$b" 127.0.0.1 "${port_of[$1]}" 2>"$work/load.err" || errors=1
        t1=$(date +%s%N)
        items=$((a * b))
        seconds=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f", ns / 1e9 }')
    fi
    wait_until_idle "$1"
    ticks1=$(server_ticks "$1")
    if [[ $errors != 0 ]]; then
        echo "  $1, ${title_of[$2]}: $(head -n 1 "$work/load.err")" >&2
    fi
    awk -v n="$items" -v s="$seconds" -v t=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" \
        -v e="$errors" 'BEGIN {
            printf "%.0f %.2f %s\n", (s > 0 ? n / s : 0), (n > 0 ? t * 1e6 / hz / n : 0), e }'
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
echo "  machine: $(nproc) cores ($cpu), Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  $prog ($which/$lesson) against $ref (tests/bench/$ref.c),"
echo "  $BENCH_ROUNDS rounds, ${BENCH_SECONDS} s per load, each load on one server then at once on the other;"
echo "  the clients run on the same machine. On a shared machine the rates are noisy:"
echo "  read the ratios (CPU per reply varies much less)."
echo

runs="$BENCH_OUT/$prog-vs-ref-runs.tsv"
printf 'round\tserver\tload\trate\tcpu_us\terrors\n' >"$runs"
pairs="$work/pairs.tsv" # load, rate ratio, CPU ratio: one line per pair of runs
: >"$pairs"
declare -A last_rate last_cpu
load_errors=0
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
    start_server "$ref"
    start_server "$prog"
    i=0
    for l in "${loads[@]}"; do
        order=("${servers[@]}")
        (((round + i) % 2 == 1)) || order=("${servers[1]}" "${servers[0]}")
        i=$((i + 1))
        for name in "${order[@]}"; do
            read -r rate cpu_us errors < <(run_one "$name" "$l")
            ((errors == 0)) || load_errors=$((load_errors + 1))
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$l" "$rate" "$cpu_us" "$errors" >>"$runs"
            last_rate[$name]=$rate
            last_cpu[$name]=$cpu_us
        done
        printf '%s\t%s\t%s\n' "$l" "$(ratio "${last_rate[$prog]}" "${last_rate[$ref]}")" \
            "$(ratio "${last_cpu[$prog]}" "${last_cpu[$ref]}")" >>"$pairs"
    done
    stop_servers
    printf '  round %d/%d done\n' "$round" "$BENCH_ROUNDS"
done
echo

medians="$BENCH_OUT/$prog-vs-ref.tsv"
printf 'load\tserver\trate\tcpu_us\n' >"$medians"
declare -A rate_of cpu_of rate_ratio_of cpu_ratio_of
for l in "${loads[@]}"; do
    for name in "${servers[@]}"; do
        mapfile -t rates < <(awk -F'\t' -v s="$name" -v l="$l" '$2 == s && $3 == l { print $4 }' "$runs")
        mapfile -t cpus < <(awk -F'\t' -v s="$name" -v l="$l" '$2 == s && $3 == l { print $5 }' "$runs")
        rate_of[$name/$l]=$(median "${rates[@]}")
        cpu_of[$name/$l]=$(median "${cpus[@]}")
        printf '%s\t%s\t%s\t%s\n' "$l" "$name" "${rate_of[$name/$l]}" "${cpu_of[$name/$l]}" >>"$medians"
    done
    # A pair with a failed run has no ratio ("-"): it counts as 0.
    mapfile -t rates < <(awk -F'\t' -v l="$l" '$1 == l { print $2 == "-" ? 0 : $2 }' "$pairs")
    mapfile -t cpus < <(awk -F'\t' -v l="$l" '$1 == l { print $3 == "-" ? 0 : $3 }' "$pairs")
    rate_ratio_of[$l]=$(median "${rates[@]}")
    cpu_ratio_of[$l]=$(median "${cpus[@]}")
    printf '%s\t%s/%s\t%s\t%s\n' "$l" "$prog" "$ref" "${rate_ratio_of[$l]}" "${cpu_ratio_of[$l]}" >>"$medians"
done

echo "  medians of $BENCH_ROUNDS runs, and of the $BENCH_ROUNDS ratios of runs made one after the other;"
echo "  CPU: the server's, per reply (per connection for new connections)"
printf '  %-26s %12s %12s %6s   %10s %10s %6s\n' "load" "$ref" "$prog" "ratio" "CPU ref" "CPU $prog" "ratio"
for l in "${loads[@]}"; do
    unit=/s
    [[ $l != new ]] || unit=" conn/s"
    printf '  %-26s %12s %12s %6s   %8s us %8s us %6s\n' "${title_of[$l]}" \
        "${rate_of[$ref/$l]}" "${rate_of[$prog/$l]}$unit" "${rate_ratio_of[$l]}x" \
        "${cpu_of[$ref/$l]}" "${cpu_of[$prog/$l]}" "${cpu_ratio_of[$l]}x"
done
echo

failed=0
check() { # check PASS|FAIL TEXT
    echo "  $1  $2"
    [[ $1 == PASS ]] || failed=1
}
verdict() { # verdict COMMAND...: PASS if it succeeds
    if "$@"; then echo PASS; else echo FAIL; fi
}

r=${rate_ratio_of[c100]}
check "$(verdict at_least "$r" "$rps_target")" \
    "at 100 connections $prog answers ${r}x the replies per second of $ref (target: at least ${rps_target}x)"
if [[ $cpu_target != - ]]; then
    r=${cpu_ratio_of[c100]}
    check "$(verdict at_least "$cpu_target" "$r")" \
        "at 100 connections $prog uses ${r}x the CPU per reply of $ref (target: at most ${cpu_target}x)"
fi
if [[ $new_cpu_target != - ]]; then
    r=${cpu_ratio_of[new]}
    check "$(verdict at_least "$new_cpu_target" "$r")" \
        "new connections, $prog uses ${r}x the CPU per connection of $ref (target: at most ${new_cpu_target}x)"
fi
r=${rate_ratio_of[pipelined]}
check "$(verdict at_least "$r" "$PIPELINED_TARGET")" \
    "pipelined, $prog answers ${r}x the replies per second of $ref (target: at least ${PIPELINED_TARGET}x, no 40 ms Nagle stalls)"
if ((load_errors > 0)); then
    check FAIL "$load_errors runs had errors (see above)"
fi
echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  table: ${medians#"$SOCKSTEP_ROOT"/} (every run: ${runs#"$SOCKSTEP_ROOT"/})"
exit "$failed"
