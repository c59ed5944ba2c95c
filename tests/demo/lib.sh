# shellcheck shell=bash
# Helpers for the demo scripts tests/demo/NN-name.sh, which `make demo` runs
# in order. A demo narrates one lesson in a few plain lines: what runs, on
# which address and port, what came back. Everything it starts is stopped
# when it ends, also on Ctrl-C.
#
# Environment (set by tests/lib/demo.sh; defaults suit running one by hand):
#   DEMO_PROGRAMS_ROOT  build/solutions, or build/lessons with LESSONS=1
#   DEMO_FIXTURES       build/fixtures

: "${SOCKSTEP_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${DEMO_PROGRAMS_ROOT:=$SOCKSTEP_ROOT/build/solutions}"
: "${DEMO_FIXTURES:=$SOCKSTEP_ROOT/build/fixtures}"
DEMO_LESSON=$(basename "$0" .sh)
DEMO_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-demo.XXXXXX")
DEMO_PIDS=()

demo_cleanup() {
    local pid
    for pid in "${DEMO_PIDS[@]}"; do
        kill -s TERM "$pid" 2>/dev/null || true
    done
    for pid in "${DEMO_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
        kill -s KILL -- "-$pid" 2>/dev/null || true
    done
    DEMO_PIDS=()
    rm -rf "$DEMO_TMP"
}
trap demo_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# short path for narration
demo_path() {
    printf '%s\n' "${1#"$SOCKSTEP_ROOT"/}"
}

# demo_program NAME: the program of this lesson (or of any lesson) to run.
demo_program() {
    local path
    for path in "$DEMO_PROGRAMS_ROOT/$DEMO_LESSON/$1" "$DEMO_PROGRAMS_ROOT"/*/"$1"; do
        if [[ -x $path ]]; then
            printf '%s\n' "$path"
            return 0
        fi
    done
    echo "demo: $1 is not built in $(demo_path "$DEMO_PROGRAMS_ROOT") (run make)" >&2
    return 1
}

demo_fixture() {
    if [[ ! -x $DEMO_FIXTURES/$1 ]]; then
        echo "demo: test peer $1 is not built (run make)" >&2
        return 1
    fi
    printf '%s\n' "$DEMO_FIXTURES/$1"
}

say() {
    printf '  %s\n' "$*"
}

# show_cmd CMD...: prints the command as a student would type it, runs it.
show_cmd() {
    local shown=() word
    for word in "$@"; do
        shown+=("$(demo_path "$word")")
    done
    printf '  $ %s\n' "${shown[*]}"
    "$@" 2>&1 | sed 's/^/    /'
    return "${PIPESTATUS[0]}"
}

# demo_start_server VAR CMD...: starts a server in the background, waits up
# to 5 s for its `listening on` line; sets ${VAR}_PID, ${VAR}_PORT and
# ${VAR}_LOG (its stderr).
demo_start_server() {
    local var=$1 out err line pid deadline
    shift
    out="$DEMO_TMP/$var.out"
    err="$DEMO_TMP/$var.err"
    if command -v setsid >/dev/null; then
        setsid "$@" </dev/null >"$out" 2>"$err" &
    else
        "$@" </dev/null >"$out" 2>"$err" &
    fi
    pid=$!
    DEMO_PIDS+=("$pid")
    deadline=$((SECONDS + 5))
    until line=$(grep -m1 '^listening on ' "$out" 2>/dev/null); do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
            echo "demo: $(demo_path "$1") did not start:" >&2
            sed 's/^/    /' "$err" >&2
            return 1
        fi
        sleep 0.05
    done
    printf -v "${var}_PID" '%s' "$pid"
    printf -v "${var}_PORT" '%s' "${line##*:}"
    printf -v "${var}_LOG" '%s' "$err"
}

# demo_stop_server PID: SIGTERM, and wait for it to end.
demo_stop_server() {
    kill -s TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# show_input BYTES CMD...: shows `printf 'BYTES' | CMD` and runs it.
show_input() {
    local bytes=$1 shown=() word
    shift
    for word in "$@"; do
        shown+=("$(demo_path "$word")")
    done
    printf "  \$ printf '%s' | %s\n" "$bytes" "${shown[*]}"
    # shellcheck disable=SC2059 # the bytes are a printf format on purpose
    printf "$bytes" | "$@" 2>&1 | sed 's/^/    /'
}

# tutorial_exchange PORT: the original tutorial's exchange (Michael, Tracy,
# Sarah) with a hello server on 127.0.0.1:PORT, through the lesson 02 client
# when it is built, else through the test peer tcp_peer.
tutorial_exchange() {
    local client peer
    if client=$(demo_program hello_client 2>/dev/null); then
        say "The tutorial's exchange, with the client of lesson 02:"
        show_cmd "$client" 127.0.0.1 "$1" Michael Tracy Sarah
    else
        peer=$(demo_fixture tcp_peer) || return 1
        say "The tutorial's exchange (the lesson 02 client is not built: tcp_peer talks instead):"
        show_input 'Michael\nTracy\nSarah\nexit\n' "$peer" -k 127.0.0.1 "$1"
    fi
}

# start_silent_client PORT MS: a client (tcp_peer) that connects to
# 127.0.0.1:PORT and says nothing for MS milliseconds; returns once it got
# the welcome (2 s at most). Sets SILENT_PID; stop_silent_client ends it.
start_silent_client() {
    local peer _
    peer=$(demo_fixture tcp_peer) || return 1
    "$peer" -k -t "$2" 127.0.0.1 "$1" </dev/null >"$DEMO_TMP/silent.out" 2>&1 &
    SILENT_PID=$!
    DEMO_PIDS+=("$SILENT_PID")
    for _ in $(seq 40); do
        grep -q 'Welcome!' "$DEMO_TMP/silent.out" && break
        sleep 0.05
    done
}

stop_silent_client() {
    kill "$SILENT_PID" 2>/dev/null || true
    wait "$SILENT_PID" 2>/dev/null || true
}

# thread_count PID: how many threads the process runs.
thread_count() {
    find "/proc/$1/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}
