#!/usr/bin/env bash
# Benchmark of lesson 01 (01-http-get): http_get against curl, downloading
# one 256 MiB file from nginx on 127.0.0.1 to a file (-o), in alternating
# rounds. Prints the median wall time and peak memory of each, and whether
# http_get met its targets: no slower than curl (within 5 % for noise), and
# less memory. Needs nginx and curl (skipped without them).
#
# Run by `make bench LESSON=01`; by hand: bash tests/bench/01-http-get.sh
# Environment: SOCKSTEP_ROOT, SOCKSTEP_BUILD (default build), BENCH_OUT
# (where the results table is written), BENCH_ROUNDS (default 5),
# BENCH_MIB (file size, default 256), SOLUTIONS/LESSONS as for make check
# (default: the reference in build/solutions; LESSONS=1: your program).
set -euo pipefail

: "${SOCKSTEP_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SOCKSTEP_BUILD:=$SOCKSTEP_ROOT/build}"
: "${BENCH_OUT:=$SOCKSTEP_BUILD/bench}"
: "${BENCH_ROUNDS:=5}"
: "${BENCH_MIB:=256}"

which=solutions
[[ ${LESSONS:-} == 1 ]] && which=lessons
http_get="$SOCKSTEP_BUILD/$which/01-http-get/http_get"
measure="$SOCKSTEP_BUILD/bench/measure"
fixture="$SOCKSTEP_BUILD/fixtures/http_fixture"
# shellcheck source=tests/lib/nginx.bash
source "$SOCKSTEP_ROOT/tests/lib/nginx.bash"

for tool in nginx curl; do
    if ! command -v "$tool" >/dev/null; then
        echo "  skipped: $tool is not installed (the benchmark compares http_get with curl, served by nginx)"
        exit 0
    fi
done
for built in "$http_get" "$measure" "$fixture"; do
    if [[ ! -x $built ]]; then
        echo "  ${built#"$SOCKSTEP_ROOT"/} is not built: run make" >&2
        exit 1
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-bench01.XXXXXX")
nginx_pid=""
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    if [[ -n $nginx_pid ]]; then
        kill -s TERM "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port: a port the kernel just gave a listener that has closed since.
free_port() {
    local out="$work/port.out" pid port=""
    "$fixture" -p 0 -g 1 >"$out" 2>/dev/null &
    pid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/^listening on .*://p' "$out")
        [[ -z $port ]] || break
        sleep 0.05
    done
    kill -s TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    printf '%s\n' "$port"
}

start_nginx() {
    local port
    mkdir -p "$work/www" "$work/tmp"
    for _ in 1 2 3; do
        port=$(free_port)
        nginx_conf "$work" "$port" "$work/www" '    sendfile on;' >"$work/nginx.conf"
        nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log" </dev/null \
            >/dev/null 2>&1 &
        nginx_pid=$!
        for _ in $(seq 100); do
            if (exec 5<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
                URL="http://127.0.0.1:$port/big.bin"
                return 0
            fi
            kill -0 "$nginx_pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -s TERM "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
        nginx_pid=""
    done
    echo "  nginx did not start: $(tail -n 3 "$work/error.log" 2>/dev/null)" >&2
    return 1
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "  creating a ${BENCH_MIB} MiB file of random bytes..."
mkdir -p "$work/www"
head -c "$((BENCH_MIB * 1024 * 1024))" /dev/urandom >"$work/www/big.bin"
start_nginx
echo "  nginx on ${URL%/big.bin}; $BENCH_ROUNDS rounds, http_get and curl alternating, each saving with -o"

: >"$work/http_get.times"
: >"$work/curl.times"
for round in $(seq "$BENCH_ROUNDS"); do
    for who in http_get curl; do
        rm -f "$work/out.bin"
        if [[ $who == http_get ]]; then
            "$measure" -o "$work/report" "$http_get" -o "$work/out.bin" "$URL"
        else
            "$measure" -o "$work/report" curl -sS -o "$work/out.bin" "$URL"
        fi
        read -r seconds rss status <"$work/report"
        if [[ $status != 0 ]] || ! cmp -s "$work/www/big.bin" "$work/out.bin"; then
            echo "  round $round: $who failed (exit status $status, or the file differs)" >&2
            exit 1
        fi
        printf '%s %s\n' "$seconds" "$rss" >>"$work/$who.times"
        printf '  round %d: %-8s %6.3f s %7d KiB\n' "$round" "$who" "$seconds" "$rss"
    done
done

get_time=$(cut -d' ' -f1 "$work/http_get.times" | median)
get_rss=$(cut -d' ' -f2 "$work/http_get.times" | median)
curl_time=$(cut -d' ' -f1 "$work/curl.times" | median)
curl_rss=$(cut -d' ' -f2 "$work/curl.times" | median)

mkdir -p "$BENCH_OUT"
table="$BENCH_OUT/01-http-get.txt"
{
    printf '%-10s %14s %16s\n' program "median time" "peak memory"
    printf '%-10s %12.3f s %12d KiB\n' http_get "$get_time" "$get_rss"
    printf '%-10s %12.3f s %12d KiB\n' curl "$curl_time" "$curl_rss"
} | tee "$table" | sed 's/^/  /'

missed=0
if awk -v a="$get_time" -v b="$curl_time" 'BEGIN { exit !(a <= b * 1.05) }'; then
    echo "  target met:    http_get is no slower than curl (${get_time} s vs ${curl_time} s)"
else
    echo "  target missed: http_get is slower than curl (${get_time} s vs ${curl_time} s)"
    missed=1
fi
if ((get_rss < curl_rss)); then
    echo "  target met:    http_get uses less memory than curl (${get_rss} KiB vs ${curl_rss} KiB)"
else
    echo "  target missed: http_get uses more memory than curl (${get_rss} KiB vs ${curl_rss} KiB)"
    missed=1
fi
echo "  (table in ${table#"$SOCKSTEP_ROOT"/})"
exit "$missed"
