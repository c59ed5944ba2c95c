#!/usr/bin/env bash
# Benchmark of lesson 08 (08-http-server): http_serve beside nginx, and
# beside a thread-per-connection server under slowloris.
#
# 1. Throughput: wrk (ab as a fallback) against http_serve and nginx (one
#    worker process, master off, sendfile on and sendfile off), serving the
#    same 1 KiB and 1 MiB files, at 1, 10 and 100 connections, BENCH_SECONDS
#    each, BENCH_ROUNDS rounds with the three sides in a different order
#    each round. The table shows the median requests/s and http_serve's
#    ratio to each nginx.
# 2. Slowloris: 500 connections sending one byte a second (build/fixtures/
#    slow_clients) against http_serve and against build/bench/http_threads
#    (a thread per connection, at most 256 threads, lesson 03's model); one
#    well-behaved client (wrk -c 1) meanwhile: requests answered per second.
# 3. The targets, one PASS/FAIL line each: at 100 connections http_serve
#    makes at least 0.7x the requests/s of the faster nginx on the 1 KiB
#    file, and 0.5x on the 1 MiB file; under slowloris it answers the
#    well-behaved client and the thread-per-connection server does not.
#
# Writes $BENCH_OUT/08-http-server.tsv (medians), 08-http-server-runs.tsv
# (every run), 08-http-server.txt (the table) and, with gnuplot,
# 08-http-server.svg. Loopback only; everything started is stopped on exit.
#
# Run by `make bench LESSON=08`; by hand: bash tests/bench/08-http-server.sh
# Environment: SOCKSTEP_ROOT, SOCKSTEP_BUILD, BENCH_OUT, BENCH_SECONDS
# (default 5), BENCH_ROUNDS (default 3), BENCH_CONNS (default "1 10 100"),
# LESSONS=1 to measure build/lessons instead of the references. Takes about
# BENCH_SECONDS x BENCH_ROUNDS x 18 + 2 x (BENCH_SECONDS + 3) seconds.
set -euo pipefail

: "${SOCKSTEP_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SOCKSTEP_BUILD:=$SOCKSTEP_ROOT/build}"
: "${BENCH_OUT:=$SOCKSTEP_BUILD/bench}"
: "${BENCH_SECONDS:=5}"
: "${BENCH_ROUNDS:=3}"
: "${BENCH_CONNS:=1 10 100}"
read -r -a conns_levels <<<"$BENCH_CONNS"

which=solutions
[[ ${LESSONS:-} == 1 ]] && which=lessons
serve="$SOCKSTEP_BUILD/$which/08-http-server/http_serve"
threads="$SOCKSTEP_BUILD/bench/http_threads"
slow="$SOCKSTEP_BUILD/fixtures/slow_clients"
for program in "$serve" "$threads" "$slow"; do
    if [[ ! -x $program ]]; then
        echo "  ${program#"$SOCKSTEP_ROOT"/} is not built: run make" >&2
        exit 1
    fi
done
tool=""
if command -v wrk >/dev/null; then
    tool=wrk
elif command -v ab >/dev/null; then
    tool=ab
else
    echo "  skipped: neither wrk nor ab is installed (Debian: wrk, apache2-utils)"
    exit 0
fi
have_nginx=1
command -v nginx >/dev/null || have_nginx=0

mkdir -p "$BENCH_OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-bench08.XXXXXX")
pids=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -s TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ulimit -n 4096 2>/dev/null || true

mkdir -p "$work/www" "$work/tmp"
head -c 1024 /dev/urandom >"$work/www/1k.bin"
head -c 1048576 /dev/urandom >"$work/www/1m.bin"

# ---- starting the sides -------------------------------------------------------

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_listening PORT PID: true once PORT accepts connections.
wait_listening() {
    for _ in $(seq 100); do
        if (exec 5<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# start_program VAR CMD...: a server that prints `listening on ADDR:PORT`.
start_program() {
    local var=$1 out="$work/$1.out" port=""
    shift
    "$@" >"$out" 2>/dev/null </dev/null &
    pids+=("$!")
    printf -v "${var}_PID" '%s' "$!"
    for _ in $(seq 100); do
        port=$(sed -n 's/^listening on .*://p' "$out")
        [[ -z $port ]] || break
        sleep 0.05
    done
    [[ -n $port ]] || { echo "  $1 did not start" >&2; return 1; }
    printf -v "${var}_PORT" '%s' "$port"
}

# start_nginx VAR on|off: nginx, one worker process, sendfile on or off.
start_nginx() {
    local var=$1 sendfile=$2 port user="" dir="$work/nginx-$2"
    mkdir -p "$dir"
    [[ $(id -u) != 0 ]] || user="user root;"
    port=$(free_port)
    cat >"$dir/nginx.conf" <<EOF
$user
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 4096;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 2048; }
http {
    access_log off;
    sendfile $sendfile;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60;
    default_type application/octet-stream;
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fastcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $work/www;
    }
}
EOF
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" </dev/null >/dev/null 2>&1 &
    pids+=("$!")
    printf -v "${var}_PID" '%s' "$!"
    printf -v "${var}_PORT" '%s' "$port"
    wait_listening "$port" "$!" || { echo "  nginx did not start: $(tail -n 2 "$dir/error.log")" >&2; return 1; }
}

# ---- measuring ----------------------------------------------------------------

# requests_per_second URL CONNECTIONS SECONDS: one load run.
requests_per_second() {
    local url=$1 conns=$2 seconds=$3 threads=2
    ((conns >= 2)) || threads=1
    if [[ $tool == wrk ]]; then
        wrk -t "$threads" -c "$conns" -d "${seconds}s" --timeout 2s "$url" 2>/dev/null |
            awk '/^Requests\/sec:/ { print $2; found = 1 } END { if (!found) print 0 }'
    else
        ab -q -k -c "$conns" -t "$seconds" -n 10000000 "$url" 2>/dev/null |
            awk '/^Requests per second:/ { print $4; found = 1 } END { if (!found) print 0 }'
    fi
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

start_program SERVE "$serve" -p 0 -r "$work/www"
sides=(http_serve)
declare -A port_of=([http_serve]=$SERVE_PORT)
if ((have_nginx)); then
    start_nginx NGX_ON on
    start_nginx NGX_OFF off
    sides+=(nginx_sendfile nginx_nosendfile)
    port_of[nginx_sendfile]=$NGX_ON_PORT
    port_of[nginx_nosendfile]=$NGX_OFF_PORT
else
    echo "  nginx is not installed: http_serve alone (no ratios)"
fi

runs="$BENCH_OUT/08-http-server-runs.tsv"
medians="$BENCH_OUT/08-http-server.tsv"
table="$BENCH_OUT/08-http-server.txt"
printf 'round\tside\tfile\tconnections\trequests_per_s\n' >"$runs"
echo "  $tool, ${BENCH_SECONDS} s per run, $BENCH_ROUNDS rounds, sides alternated: ${sides[*]}"
for ((round = 0; round < BENCH_ROUNDS; round++)); do
    for file in 1k 1m; do
        for conns in "${conns_levels[@]}"; do
            for ((i = 0; i < ${#sides[@]}; i++)); do
                side=${sides[(i + round) % ${#sides[@]}]}
                rps=$(requests_per_second "http://127.0.0.1:${port_of[$side]}/$file.bin" "$conns" "$BENCH_SECONDS")
                printf '%d\t%s\t%s\t%d\t%s\n' "$round" "$side" "$file" "$conns" "$rps" >>"$runs"
            done
        done
    done
    echo "  round $((round + 1)) of $BENCH_ROUNDS done"
done

printf 'side\tfile\tconnections\tmedian_requests_per_s\n' >"$medians"
for side in "${sides[@]}"; do
    for file in 1k 1m; do
        for conns in "${conns_levels[@]}"; do
            m=$(awk -F'\t' -v s="$side" -v f="$file" -v c="$conns" '$2 == s && $3 == f && $4 == c { print $5 }' "$runs" | median)
            printf '%s\t%s\t%s\t%s\n' "$side" "$file" "$conns" "$m" >>"$medians"
        done
    done
done

med() { # med SIDE FILE CONNS
    awk -F'\t' -v s="$1" -v f="$2" -v c="$3" '$1 == s && $2 == f && $3 == c { print $4 }' "$medians"
}
ratio() { # ratio A B: A / B with two decimals, "-" if B is 0 or missing
    awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

{
    echo "http_serve and nginx (one worker), requests/s, median of $BENCH_ROUNDS runs of ${BENCH_SECONDS} s ($tool)"
    printf '%-5s %6s %12s %12s %12s %9s %9s\n' file conns http_serve nginx_sf_on nginx_sf_off "x sf_on" "x sf_off"
    for file in 1k 1m; do
        for conns in "${conns_levels[@]}"; do
            a=$(med http_serve "$file" "$conns")
            b=$(med nginx_sendfile "$file" "$conns")
            c=$(med nginx_nosendfile "$file" "$conns")
            printf '%-5s %6s %12s %12s %12s %9s %9s\n' "$file" "$conns" "$a" "${b:--}" "${c:--}" \
                "$(ratio "$a" "$b")" "$(ratio "$a" "$c")"
        done
    done
} | tee "$table" | sed 's/^/  /'

# ---- slowloris ----------------------------------------------------------------

# slowloris_rps PORT: requests/s for one client while 500 slow ones hang on.
slowloris_rps() {
    local out="$work/slow.$1.out" pid rps
    "$slow" -n 500 -i 1000 -t "$(((BENCH_SECONDS + 4) * 1000))" 127.0.0.1 "$1" >"$out" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        grep -q '^connected' "$out" && break
        sleep 0.05
    done
    sleep 1
    rps=$(requests_per_second "http://127.0.0.1:$1/1k.bin" 1 "$BENCH_SECONDS")
    kill -s TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    printf '%s\n' "$rps"
}

start_program THREADS "$threads" -p 0 -m 256 -t 10
slow_serve=$(slowloris_rps "$SERVE_PORT")
slow_threads=$(slowloris_rps "$THREADS_PORT")
{
    echo "slowloris: 500 connections, one byte a second; one well-behaved client (wrk -c 1)"
    printf '  %-40s %10s requests/s\n' "http_serve (one thread, poll, deadlines)" "$slow_serve"
    printf '  %-40s %10s requests/s\n' "http_threads (a thread each, at most 256)" "$slow_threads"
} | tee -a "$table" | sed 's/^/  /'

# ---- plot ---------------------------------------------------------------------

if command -v gnuplot >/dev/null; then
    data="$work/plot.dat"
    : >"$data"
    for side in "${sides[@]}"; do
        for file in 1k 1m; do
            echo "# $side $file"
            awk -F'\t' -v s="$side" -v f="$file" '$1 == s && $2 == f { print $3, $4 }' "$medians"
            printf '\n\n'
        done >>"$data"
    done
    {
        echo "set terminal svg size 960,420 dynamic noenhanced font 'sans,12' background rgb 'white'"
        echo "set output '$BENCH_OUT/08-http-server.svg'"
        echo "set multiplot layout 1,2"
        echo "set logscale x; set xlabel 'connections'; set ylabel 'requests/s'; set key top left"
        local_index=0
        for file in 1k 1m; do
            echo "set title '$file file'"
            plot="plot"
            sep=""
            idx=0
            for side in "${sides[@]}"; do
                for f in 1k 1m; do
                    if [[ $f == "$file" ]]; then
                        plot+="$sep '$data' index $idx with linespoints title '$side'"
                        sep=","
                    fi
                    idx=$((idx + 1))
                done
            done
            echo "$plot"
            local_index=$((local_index + 1))
        done
        echo "unset multiplot"
    } >"$work/plot.gp"
    gnuplot "$work/plot.gp" 2>/dev/null && echo "  plot: ${BENCH_OUT#"$SOCKSTEP_ROOT"/}/08-http-server.svg"
fi

# ---- targets ------------------------------------------------------------------

status=0
target() { # target NAME OK
    if [[ $2 == 1 ]]; then
        echo "  PASS  $1"
    else
        echo "  FAIL  $1"
        status=1
    fi
}
if ((have_nginx)) && [[ " ${conns_levels[*]} " == *" 100 "* ]]; then
    for spec in "1k 0.7" "1m 0.5"; do
        read -r file want <<<"$spec"
        a=$(med http_serve "$file" 100)
        best=$(printf '%s\n%s\n' "$(med nginx_sendfile "$file" 100)" "$(med nginx_nosendfile "$file" 100)" | sort -g | tail -n 1)
        ok=$(awk -v a="$a" -v b="$best" -v w="$want" 'BEGIN { print (b > 0 && a >= w * b) ? 1 : 0 }')
        target "$file file, 100 connections: http_serve >= ${want}x the faster nginx ($(ratio "$a" "$best")x)" "$ok"
    done
fi
ok=$(awk -v s="$slow_serve" -v t="$slow_threads" 'BEGIN { print (s > 10 && s > 10 * t) ? 1 : 0 }')
target "slowloris: http_serve keeps answering ($slow_serve/s), the thread-per-connection model does not ($slow_threads/s)" "$ok"
exit "$status"
