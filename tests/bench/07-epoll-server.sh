#!/usr/bin/env bash
# Benchmark of lesson 07 (07-epoll-server): the four hello servers of the lab
# side by side on this machine.
#
#   hello_threads (03, a thread per client)   hello_fork (04, a process per client)
#   hello_poll    (06, one thread, poll)      hello_epoll (07, one thread, epoll)
#
# 1. Request/reply load from build/bench/hello_load at 1, 10, 100 and 1,000
#    connections, BENCH_SECONDS each, BENCH_ROUNDS rounds with the servers in
#    a different order each round; the table shows the medians (replies per
#    second and 99th-percentile latency).
#    Then 10 busy connections beside 10,000 idle ones, for hello_poll and
#    hello_epoll: what an idle client costs each loop.
# 2. Holding many clients at once: hello_epoll and hello_poll 10,000,
#    hello_threads and hello_fork 1,000, every one welcomed and answered,
#    with the server's peak memory (VmHWM from /proc).
# 3. The targets, one PASS/FAIL line each: hello_epoll holds 10,000 in less
#    than 32 MiB; at 100 connections hello_poll and hello_epoll answer at
#    least as many replies per second as hello_threads; hello_threads holds
#    1,000.
#
# Writes $BENCH_OUT/servers.tsv (medians), servers-runs.tsv (every run),
# servers-idle.tsv (busy among idle: every run) and,
# when gnuplot is installed, servers.svg. A server whose program is not built
# is skipped. Loopback only; every server started here is stopped on exit.
#
# Run by `make bench LESSON=07`; by hand: bash tests/bench/07-epoll-server.sh
# Environment: SOCKSTEP_ROOT, SOCKSTEP_BUILD (default build), BENCH_OUT
# (default $SOCKSTEP_BUILD/bench), BENCH_SECONDS (default 3), BENCH_ROUNDS
# (default 3), LESSONS=1 to measure your programs in build/lessons instead
# of the references. Takes about three minutes.
set -euo pipefail

: "${SOCKSTEP_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SOCKSTEP_BUILD:=$SOCKSTEP_ROOT/build}"
: "${BENCH_OUT:=$SOCKSTEP_BUILD/bench}"
: "${BENCH_SECONDS:=3}"
: "${BENCH_ROUNDS:=3}"

which=solutions
[[ ${LESSONS:-} == 1 ]] && which=lessons
load="$SOCKSTEP_BUILD/bench/hello_load"
conns_levels=(1 10 100 1000)
declare -A lesson_of=(
    [hello_threads]=03-threaded-server [hello_fork]=04-forking-server
    [hello_poll]=06-poll-server [hello_epoll]=07-epoll-server
)
declare -A hold_of=([hello_threads]=1000 [hello_fork]=1000 [hello_poll]=10000 [hello_epoll]=10000)
EPOLL_MEMORY_TARGET_KIB=32768

if [[ ! -x $load ]]; then
    echo "  ${load#"$SOCKSTEP_ROOT"/} is not built: run make" >&2
    exit 1
fi
servers=()
for name in hello_threads hello_fork hello_poll hello_epoll; do
    if [[ -x $SOCKSTEP_BUILD/$which/${lesson_of[$name]}/$name ]]; then
        servers+=("$name")
    else
        echo "  skipped: $name (build/$which/${lesson_of[$name]}/$name is not built)"
    fi
done
if ((${#servers[@]} == 0)); then
    echo "  no server to measure"
    exit 1
fi

# 10,000 connections need 10,000 descriptors in the load generator and in
# the server: raise the soft limit as far as the hard one allows.
hard=$(ulimit -Hn)
if [[ $hard == unlimited ]] || ((hard > 65536)); then
    hard=65536
fi
ulimit -Sn "$hard"

mkdir -p "$BENCH_OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-bench07.XXXXXX")
server_pid=""
server_name=""
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server NAME: starts it on an ephemeral port in a session of its own
# (so that hello_fork's children are stopped with it); sets server_pid and
# server_port.
start_server() {
    local out="$work/$1.out" line=""
    : >"$out"
    setsid "$SOCKSTEP_BUILD/$which/${lesson_of[$1]}/$1" -p 0 </dev/null >"$out" 2>/dev/null &
    server_pid=$!
    server_name=$1
    for _ in $(seq 100); do
        line=$(grep -m1 '^listening on ' "$out" || true)
        [[ -z $line ]] || break
        sleep 0.05
    done
    if [[ -z $line ]]; then
        echo "  $1 did not start" >&2
        return 1
    fi
    server_port=${line##*:}
}

# stop_server: SIGTERM, then SIGKILL if the server has not ended within 3 s
# (the contract says 1 s: a server that misses it is named in the output).
stop_server() {
    if [[ -n $server_pid ]]; then
        kill -s TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 60); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.05
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            echo "  warning: $server_name did not end within 3 s of SIGTERM: killed"
            kill -s KILL "$server_pid" 2>/dev/null || true
        fi
        wait "$server_pid" 2>/dev/null || true
        kill -s KILL -- "-$server_pid" 2>/dev/null || true
        server_pid=""
    fi
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
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

fmt_us() { # fmt_us MICROSECONDS: "850 us" or "3.5 ms"
    awk -v us="$1" 'BEGIN { if (us >= 1000) printf "%.1f ms", us / 1000; else printf "%d us", us }'
}

peak_kib() {
    awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
mem=$(awk '$1 == "MemTotal:" { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo unknown)
echo "  machine: $(nproc) cores ($cpu), $mem, Linux $(uname -r)"
echo "  load: hello_load on the same machine (one thread, epoll): it competes with the"
echo "  server for the cores, as every client of a loopback benchmark does."
echo "  ${BENCH_ROUNDS} rounds x ${#servers[@]} servers x ${#conns_levels[@]} connection counts x ${BENCH_SECONDS} s"
echo

# ---- 1. request/reply load ----------------------------------------------

runs="$BENCH_OUT/servers-runs.tsv"
printf 'round\tserver\tconns\trps\tp50_us\tp99_us\terrors\n' >"$runs"
load_errors=0
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
    # Each round starts with another server, so that none always runs first
    # (or last) on a machine that warms up or gets busy.
    order=()
    for ((i = 0; i < ${#servers[@]}; i++)); do
        order+=("${servers[(i + round - 1) % ${#servers[@]}]}")
    done
    for name in "${order[@]}"; do
        start_server "$name"
        for conns in "${conns_levels[@]}"; do
            result=$("$load" -c "$conns" -d "$BENCH_SECONDS" -t 30 127.0.0.1 "$server_port" 2>"$work/load.err") ||
                true
            errors=$(field "$result" errors)
            [[ -n $result ]] || errors=1
            if [[ $errors != 0 ]]; then
                load_errors=$((load_errors + 1))
                echo "  round $round, $name, $conns connections: $(head -n 1 "$work/load.err")"
            fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$conns" \
                "$(field "$result" rps)" "$(field "$result" p50_us)" "$(field "$result" p99_us)" \
                "$errors" >>"$runs"
        done
        stop_server
        printf '  round %d/%d: %s done\n' "$round" "$BENCH_ROUNDS" "$name"
    done
done
echo

medians="$BENCH_OUT/servers.tsv"
printf 'server\tconns\trps\tp50_us\tp99_us\n' >"$medians"
declare -A rps_of p99_of
for name in "${servers[@]}"; do
    for conns in "${conns_levels[@]}"; do
        mapfile -t rps < <(awk -F'\t' -v s="$name" -v c="$conns" '$2 == s && $3 == c { print $4 }' "$runs")
        mapfile -t p50 < <(awk -F'\t' -v s="$name" -v c="$conns" '$2 == s && $3 == c { print $5 }' "$runs")
        mapfile -t p99 < <(awk -F'\t' -v s="$name" -v c="$conns" '$2 == s && $3 == c { print $6 }' "$runs")
        rps_of[$name/$conns]=$(median "${rps[@]}")
        p99_of[$name/$conns]=$(median "${p99[@]}")
        printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$conns" "${rps_of[$name/$conns]}" \
            "$(median "${p50[@]}")" "${p99_of[$name/$conns]}" >>"$medians"
    done
done

echo "  replies per second (median of $BENCH_ROUNDS runs of ${BENCH_SECONDS} s), and the 99th-percentile latency"
printf '  %-14s' "connections"
for conns in "${conns_levels[@]}"; do
    printf '%22s' "$conns"
done
echo
for name in "${servers[@]}"; do
    printf '  %-14s' "$name"
    for conns in "${conns_levels[@]}"; do
        printf '%22s' "$(printf '%s/s, %s' "${rps_of[$name/$conns]}" "$(fmt_us "${p99_of[$name/$conns]}")")"
    done
    echo
done
echo

# ---- 1b. a few busy clients among many idle ones ------------------------------

idle=10000
busy=10
idle_runs="$BENCH_OUT/servers-idle.tsv"
printf 'round\tserver\tbusy\tidle\trps\tp50_us\tp99_us\terrors\n' >"$idle_runs"
idle_servers=()
for name in hello_poll hello_epoll; do
    [[ -z ${rps_of[$name/1]+x} ]] || idle_servers+=("$name")
done
declare -A idle_rps_of idle_p99_of
if ((${#idle_servers[@]} > 0)) && [[ $hard != unlimited ]] && ((hard < idle + busy + 64)); then
    echo "  busy among idle: skipped, $idle connections need an open-file limit above $((idle + busy + 64)) (hard limit: $hard)"
    idle_servers=()
fi
for ((round = 1; round <= BENCH_ROUNDS && ${#idle_servers[@]} > 0; round++)); do
    order=()
    for ((i = 0; i < ${#idle_servers[@]}; i++)); do
        order+=("${idle_servers[(i + round - 1) % ${#idle_servers[@]}]}")
    done
    for name in "${order[@]}"; do
        start_server "$name"
        : >"$work/idle.out"
        "$load" -H -c "$idle" -s $((BENCH_SECONDS + 20)) -t 30 127.0.0.1 "$server_port" \
            >"$work/idle.out" 2>"$work/idle.err" &
        holder=$!
        for _ in $(seq 600); do
            grep -q '^held=' "$work/idle.out" || ! kill -0 "$holder" 2>/dev/null || { sleep 0.05; continue; }
            break
        done
        result=""
        if grep -q "^held=$idle answered=$idle errors=0" "$work/idle.out"; then
            result=$("$load" -c "$busy" -d "$BENCH_SECONDS" -t 30 127.0.0.1 "$server_port" 2>"$work/load.err") ||
                true
        else
            echo "  round $round, $name: the $idle idle clients were not all served: $(cat "$work/idle.out" "$work/idle.err" | head -n 2)"
        fi
        kill "$holder" 2>/dev/null || true
        wait "$holder" 2>/dev/null || true
        stop_server
        errors=$(field "$result" errors)
        [[ -n $result ]] || errors=1
        ((errors == 0)) || load_errors=$((load_errors + 1))
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$busy" "$idle" \
            "$(field "$result" rps)" "$(field "$result" p50_us)" "$(field "$result" p99_us)" \
            "$errors" >>"$idle_runs"
    done
    printf '  busy among idle, round %d/%d done\n' "$round" "$BENCH_ROUNDS"
done
if ((${#idle_servers[@]} > 0)); then
    echo
    echo "  $busy busy connections beside $(printf "%'d" "$idle") idle ones (median of $BENCH_ROUNDS runs of ${BENCH_SECONDS} s)"
    for name in "${idle_servers[@]}"; do
        mapfile -t rps < <(awk -F'\t' -v s="$name" '$2 == s { print $5 }' "$idle_runs")
        mapfile -t p99 < <(awk -F'\t' -v s="$name" '$2 == s { print $7 }' "$idle_runs")
        idle_rps_of[$name]=$(median "${rps[@]}")
        idle_p99_of[$name]=$(median "${p99[@]}")
        printf '  %-14s %8s/s, p99 %-9s (without the idle ones: %s/s, p99 %s)\n' "$name" \
            "${idle_rps_of[$name]}" "$(fmt_us "${idle_p99_of[$name]}")" "${rps_of[$name/10]}" \
            "$(fmt_us "${p99_of[$name/10]}")"
    done
fi
echo

# ---- 2. holding many clients ----------------------------------------------

declare -A held_ok peak_of
echo "  holding clients at once (hello_load -H: every one welcomed, then one line answered on each)"
for name in "${servers[@]}"; do
    n=${hold_of[$name]}
    if [[ $hard != unlimited ]] && ((hard < n + 64)); then
        echo "  $name: skipped, $n connections need an open-file limit above $((n + 64)) (hard limit: $hard)"
        continue
    fi
    start_server "$name"
    result=$("$load" -H -c "$n" -t 60 127.0.0.1 "$server_port" 2>"$work/hold.err") || true
    peak_of[$name]=$(peak_kib "$server_pid")
    stop_server
    if [[ $result == *"held=$n answered=$n errors=0"* ]]; then
        held_ok[$name]=1
    else
        held_ok[$name]=0
        result="$result $(head -n 1 "$work/hold.err")"
    fi
    note=""
    [[ $name != hello_fork ]] || note=" (the parent only: each client has a process of its own)"
    printf '  %-14s %s, peak memory %s KiB%s\n' "$name" "$result" "${peak_of[$name]}" "$note"
done
echo

# ---- 3. the targets --------------------------------------------------------

failed=0
check() { # check PASS|FAIL TEXT
    echo "  $1  $2"
    [[ $1 == PASS ]] || failed=1
}
verdict() { # verdict CONDITION...: PASS if the command succeeds
    if "$@"; then echo PASS; else echo FAIL; fi
}

if [[ -n ${held_ok[hello_epoll]+x} ]]; then
    check "$(verdict test "${held_ok[hello_epoll]}" = 1 -a "${peak_of[hello_epoll]}" -lt "$EPOLL_MEMORY_TARGET_KIB")" \
        "hello_epoll holds 10,000 connections, every one answered, peak ${peak_of[hello_epoll]} KiB (target < $EPOLL_MEMORY_TARGET_KIB KiB)"
else
    check FAIL "hello_epoll holds 10,000 connections: not measured"
fi
for name in hello_poll hello_epoll; do
    if [[ -n ${rps_of[$name/100]+x} && -n ${rps_of[hello_threads/100]+x} ]]; then
        check "$(verdict test "${rps_of[$name/100]}" -ge "${rps_of[hello_threads/100]}")" \
            "at 100 connections $name answers ${rps_of[$name/100]}/s, hello_threads ${rps_of[hello_threads/100]}/s (target: at least as many)"
    else
        check FAIL "at 100 connections $name >= hello_threads: not measured"
    fi
done
if [[ -n ${held_ok[hello_threads]+x} ]]; then
    check "$(verdict test "${held_ok[hello_threads]}" = 1)" \
        "hello_threads holds 1,000 connections, every one answered"
else
    check FAIL "hello_threads holds 1,000 connections: not measured"
fi
if ((load_errors > 0)); then
    check FAIL "$load_errors load runs had errors (see above)"
fi
echo

# ---- the plot --------------------------------------------------------------

if command -v gnuplot >/dev/null; then
    plot="$BENCH_OUT/servers.svg"
    data="$work/plot.dat"
    : >"$data"
    for name in "${servers[@]}"; do
        {
            echo "# $name"
            awk -F'\t' -v s="$name" '$1 == s { print $2, $3, $5 / 1000 }' "$medians"
            printf '\n\n'
        } >>"$data"
    done
    {
        echo "set terminal svg size 960,420 dynamic noenhanced font 'sans,12' background rgb 'white'"
        echo "set output '$plot'"
        echo "set multiplot layout 1,2 title 'hello servers on $(nproc) cores, Linux $(uname -r) (medians of $BENCH_ROUNDS runs of ${BENCH_SECONDS} s)'"
        echo "set logscale x; set xtics (1, 10, 100, 1000); set xlabel 'connections'; set grid"
        echo "set key top left"
        echo "set ylabel 'replies per second'; set yrange [0:*]"
        printf "plot "
        i=0
        for name in "${servers[@]}"; do
            ((i == 0)) || printf ", "
            printf "'%s' index %d using 1:2 with linespoints lw 2 title '%s'" "$data" "$i" "$name"
            i=$((i + 1))
        done
        echo
        echo "set logscale y; set ylabel '99th-percentile latency (ms)'; set yrange [*:*]"
        printf "plot "
        i=0
        for name in "${servers[@]}"; do
            ((i == 0)) || printf ", "
            printf "'%s' index %d using 1:3 with linespoints lw 2 title '%s'" "$data" "$i" "$name"
            i=$((i + 1))
        done
        echo
        echo "unset multiplot"
    } >"$work/plot.gp"
    if gnuplot "$work/plot.gp" 2>"$work/gnuplot.err"; then
        echo "  plot: ${plot#"$SOCKSTEP_ROOT"/}"
    else
        echo "  plot: gnuplot failed: $(head -n 1 "$work/gnuplot.err")"
    fi
else
    echo "  plot: skipped (gnuplot is not installed)"
fi
echo "  table: ${medians#"$SOCKSTEP_ROOT"/} (every run: ${runs#"$SOCKSTEP_ROOT"/})"
exit "$failed"
