# shellcheck shell=bash
# The variables these helpers set (SERVER_PORT, BG_PID, EXIT_STATUS, ...) are
# read by the test files.
# shellcheck disable=SC2034
# Helpers shared by every lesson's tests: `load 'lib/common'` at the top of a
# bats file. They find the program under test, start servers in the background
# on ephemeral ports, always stop them (also when a test fails), and explain
# failures: what was sent, what was expected, what came back, the likely cause.
#
# Environment (set by `make check`; defaults suit running bats by hand):
#   SOCKSTEP_PROGRAMS  folder of the programs under test
#                      (default build/lessons/<this lesson>)
#   SOCKSTEP_FIXTURES  folder of the C peers the tests use (build/fixtures)
#   SOCKSTEP_ROOT      the repository

bats_require_minimum_version 1.5.0

: "${SOCKSTEP_ROOT:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
: "${SOCKSTEP_LESSON:=$(basename "$BATS_TEST_FILENAME" .bats)}"
: "${SOCKSTEP_PROGRAMS:=$SOCKSTEP_ROOT/build/lessons/$SOCKSTEP_LESSON}"
: "${SOCKSTEP_FIXTURES:=$SOCKSTEP_ROOT/build/fixtures}"
export SOCKSTEP_ROOT SOCKSTEP_LESSON SOCKSTEP_PROGRAMS SOCKSTEP_FIXTURES

# How long a server may take to print its `listening on` line.
: "${SOCKSTEP_START_SECONDS:=5}"

load_bats_library() {
    local dir
    local IFS=:
    for dir in ${SOCKSTEP_BATS_LIBS:-} ${BATS_LIB_PATH:-} /usr/lib/bats /usr/local/lib/bats \
        "$SOCKSTEP_ROOT/.deps/node_modules" /opt/homebrew/lib; do
        if [[ -f $dir/$1/load.bash ]]; then
            load "$dir/$1/load.bash"
            return 0
        fi
    done
    echo "cannot find $1: run the tests with 'make check', which installs it" >&2
    return 1
}

# load_assertions: bats-support and bats-assert (assert_output, assert_line,
# ...), for the tool tests in tests/harness/ that use them. The lesson tests
# do not: loading the two libraries costs each test about 35 ms of processor
# time, a minute over a whole `make test`.
load_assertions() {
    load_bats_library bats-support && load_bats_library bats-assert
}

# fail [MESSAGE...]: ends a test with MESSAGE, or with stdin when there is
# none, on stderr (bats-support's fail, which load_assertions brings, does the
# same).
fail() {
    if (($# > 0)); then
        printf '%s\n' "$*"
    else
        cat
    fi >&2
    return 1
}

# ---------------------------------------------------------------- programs

# program NAME: the path of the program under test.
program() {
    local path="$SOCKSTEP_PROGRAMS/$1"
    if [[ ! -x $path ]]; then
        fail "program $1 is not built (looked for ${path#"$SOCKSTEP_ROOT"/}): run make"
        return 1
    fi
    printf '%s\n' "$path"
}

# fixture NAME: the path of one of the lab's C test peers.
fixture() {
    local path="$SOCKSTEP_FIXTURES/$1"
    if [[ ! -x $path ]]; then
        fail "test peer $1 is not built (looked for ${path#"$SOCKSTEP_ROOT"/}): run make"
        return 1
    fi
    printf '%s\n' "$path"
}

# ------------------------------------------------------ background processes

_SOCKSTEP_PIDS=()

_tmpdir() {
    printf '%s\n' "${BATS_TEST_TMPDIR:-$BATS_FILE_TMPDIR}"
}

# is_running PID: true while PID exists and is not a zombie.
is_running() {
    local state
    if [[ -r /proc/$1/stat ]]; then
        { read -r _ _ state _ <"/proc/$1/stat"; } 2>/dev/null || return 1
        [[ $state != Z ]]
    elif [[ -d /proc/self ]]; then
        return 1
    else
        state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
        [[ -n $state && $state != Z* ]]
    fi
}

# _launch OUT ERR CMD...: starts CMD in the background in a session of its
# own (so that cleanup can also stop the children a forking server made),
# with fd 3 closed so that bats does not wait for it.
_launch() {
    local out=$1 err=$2
    shift 2
    # Emptied here, not only by the child's redirections: a file of the same
    # name from an earlier start in this test (cleanup_background starts
    # the count again) would otherwise be read before the child empties it,
    # and its old `listening on` line taken for the new server's.
    : >"$out"
    : >"$err"
    local runner=()
    ! command -v setsid >/dev/null || runner=(setsid)
    # Neither bats' fd 3 nor nap's pipe goes to the program under test.
    if [[ ${_NAP_FD:-} =~ ^[0-9]+$ ]]; then
        "${runner[@]}" "$@" </dev/null >"$out" 2>"$err" 3>&- {_NAP_FD}>&- &
    else
        "${runner[@]}" "$@" </dev/null >"$out" 2>"$err" 3>&- &
    fi
    _LAUNCHED_PID=$!
    _SOCKSTEP_PIDS+=("$_LAUNCHED_PID")
}

# start_background CMD...: any background process; sets BG_PID, BG_OUT, BG_ERR.
start_background() {
    local n=${#_SOCKSTEP_PIDS[@]} dir
    dir=$(_tmpdir)
    BG_OUT="$dir/background$n.out"
    BG_ERR="$dir/background$n.err"
    _launch "$BG_OUT" "$BG_ERR" "$@"
    BG_PID=$_LAUNCHED_PID
}

# start_server CMD...: starts a server and waits for its `listening on` line;
# sets SERVER_PID, SERVER_PORT, SERVER_HOST, SERVER_OUT and SERVER_ERR.
start_server() {
    local n=${#_SOCKSTEP_PIDS[@]} dir line address deadline
    dir=$(_tmpdir)
    SERVER_OUT="$dir/server$n.out"
    SERVER_ERR="$dir/server$n.err"
    _launch "$SERVER_OUT" "$SERVER_ERR" "$@"
    SERVER_PID=$_LAUNCHED_PID
    # A program under test, or one of the lab's peers (a client lesson's
    # fake server): only the first one's end is news in a failure.
    SERVER_UNDER_TEST=0
    local word
    for word in "$@"; do
        [[ $word != "$SOCKSTEP_PROGRAMS"/* ]] || SERVER_UNDER_TEST=1
    done
    deadline=$((SECONDS + SOCKSTEP_START_SECONDS))
    while :; do
        _listening_line "$SERVER_OUT"
        if [[ -n $line ]]; then
            break
        fi
        if ! is_running "$SERVER_PID"; then
            # It may have printed its line just before it ended.
            line=$(grep -m1 '^listening on ' "$SERVER_OUT" 2>/dev/null) || true
            [[ -z $line ]] || break
            _reap "$SERVER_PID"
            EXIT_STATUS=${REAPED_STATUS:-1}
            _server_start_failed "$*" "exited with status $EXIT_STATUS before printing 'listening on ADDR:PORT'"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            _server_start_failed "$*" "did not print 'listening on ADDR:PORT' within ${SOCKSTEP_START_SECONDS} s"
            return 1
        fi
        nap 0.05
    done
    address=${line#listening on }
    SERVER_PORT=${address##*:}
    SERVER_HOST=${address%:*}
    SERVER_HOST=${SERVER_HOST#[}
    SERVER_HOST=${SERVER_HOST%]}
    if [[ ! $SERVER_PORT =~ ^[0-9]+$ ]]; then
        _server_start_failed "$*" "printed '$line', which is not 'listening on ADDR:PORT'"
        return 1
    fi
}

# _listening_line FILE: sets line to FILE's first 'listening on' line (none
# yet: empty). Its first whole line, read without starting a process, is
# the one in the contract; grep looks further only when something came
# before it.
_listening_line() {
    line=""
    [[ -s $1 ]] || return 0
    if ! IFS= read -r line <"$1"; then
        line="" # not a whole line yet
    elif [[ $line != 'listening on '* ]]; then
        line=$(grep -m1 '^listening on ' "$1" 2>/dev/null) || true
    fi
}

_server_start_failed() {
    local step
    step=$(sed -n 's/.*not implemented yet (\(.*\))$/\1/p' "$SERVER_ERR" 2>/dev/null | tail -n 1)
    {
        echo "sent:     nothing yet: started ${1#"$SOCKSTEP_ROOT"/}"
        echo "expected: one line 'listening on ADDR:PORT' on stdout, flushed"
        echo "got:      the server $2"
        echo "stdout:   '$(head -c 300 "$SERVER_OUT" 2>/dev/null | escape_bytes)'"
        echo "stderr:   '$(tail -c 300 "$SERVER_ERR" 2>/dev/null | escape_bytes)'"
        if [[ -n $step ]]; then
            echo "likely cause: the starter stops at a part still to write ($step): write that step first"
        elif [[ $2 == exited* ]]; then
            echo "likely cause: the server stopped before it listened: its stderr above says why"
        else
            echo "likely cause: the server does not listen yet, or prints its line without flushing stdout"
        fi
    } | fail
}

# wait_exit PID SECONDS: waits for a background process to end; sets
# EXIT_STATUS. Returns 1 if it is still running at the deadline. (Bash's
# notice of a job killed by a signal, "Killed ...", would come out in the
# middle of a failure message: it goes nowhere.)
wait_exit() {
    _wait_exit "$@" 2>/dev/null
}

_wait_exit() {
    local pid=$1 deadline now
    clock_ms now
    deadline=$((now + $2 * 1000))
    while is_running "$pid"; do
        clock_ms now
        if ((now >= deadline)); then
            return 1
        fi
        nap 0.05
    done
    _reap "$pid"
    EXIT_STATUS=$REAPED_STATUS
}

# _reap PID: sets REAPED_STATUS to the exit status of PID, which has ended
# (empty if it is not known: not a child of this shell). The status is kept
# in a file, since `wait` can tell it only once, and only to this shell.
_reap() {
    local file
    file="$(_tmpdir)/exit-status.$1"
    REAPED_STATUS=""
    if [[ -s $file ]]; then
        REAPED_STATUS=$(<"$file")
        return 0
    fi
    local status=0
    wait "$1" 2>/dev/null || status=$?
    # 127: not a child of this shell (or reaped elsewhere): unknown.
    ((status == 127)) || REAPED_STATUS=$status
    [[ -z $REAPED_STATUS ]] || printf '%s\n' "$REAPED_STATUS" >"$file"
}

# signal_process PID SIGNAL: sends SIGNAL to PID if it is still running, and
# remembers that the test stopped it (its end is then no failure of its
# own). Returns 1 if PID had already ended.
signal_process() {
    is_running "$1" || return 1
    : >"$(_tmpdir)/signalled.$1"
    if [[ $2 == KILL || $2 == 9 ]]; then
        # Reaped at once, so that bash's "Killed" notice goes nowhere.
        { kill -s KILL "$1" && wait_exit "$1" 3; } 2>/dev/null || true
    else
        kill -s "$2" "$1" 2>/dev/null || true
    fi
}

# stop_process PID [SIGNAL]: sends SIGNAL (default TERM) and waits up to 3 s;
# sets EXIT_STATUS. Returns 1, after SIGKILL, if the process did not end.
stop_process() {
    local pid=$1 signal=${2:-TERM}
    signal_process "$pid" "$signal" || true
    if ! wait_exit "$pid" 3; then
        { kill -s KILL "$pid" && wait_exit "$pid" 3; } 2>/dev/null || true
        return 1
    fi
}

# signal_server SIGNAL SENT: sends SIGNAL to the server under test. If the
# server has already ended, the test fails and says so (SENT: what the test
# was about to do).
signal_server() {
    signal_process "$SERVER_PID" "$1" && return 0
    report_mismatch "$2" "the server still running, to receive SIG$1" "it had already ended" \
        "the server must keep running until it is stopped"
}

# server_exit_note: when the server under test (SERVER_PID, a program of
# SOCKSTEP_PROGRAMS) has ended and the test did not stop it (or the
# starter's "not implemented yet" did), prints "the server exited with
# status S: stderr '...'" (the last 300 bytes of its stderr) and returns 0;
# returns 1 and prints nothing while it runs, or when the test stopped it.
server_exit_note() {
    [[ -n ${SERVER_PID:-} && ${SERVER_UNDER_TEST:-0} == 1 ]] || return 1
    ! is_running "$SERVER_PID" || return 1
    # Stopped by the test: its end is no news, unless the starter ended it.
    if [[ -e "$(_tmpdir)/signalled.$SERVER_PID" ]]; then
        grep -q 'not implemented yet' "${SERVER_ERR:-/dev/null}" 2>/dev/null || return 1
    fi
    _reap "$SERVER_PID"
    local how stderr
    stderr=$(tail -c 300 "${SERVER_ERR:-/dev/null}" 2>/dev/null | escape_bytes)
    if [[ -z $REAPED_STATUS ]]; then
        how="the server exited"
    elif ((REAPED_STATUS > 128)) && kill -l "$((REAPED_STATUS - 128))" >/dev/null 2>&1; then
        how="the server was killed by SIG$(kill -l "$((REAPED_STATUS - 128))") (status $REAPED_STATUS)"
    else
        how="the server exited with status $REAPED_STATUS"
    fi
    printf "%s: stderr '%s'\n" "$how" "$stderr"
}

# What the starters print at a step still to write: "not implemented yet (STEP)".
_NOT_IMPLEMENTED='not implemented yet \(([^)]*)\)'

# _likely_cause CAUSE [GOT]: the "likely cause" line (and, when the server
# under test ended on its own, a "server:" line before it, which says how).
# When the server, or the program whose output GOT is, stopped at the
# starter's "not implemented yet (STEP)", that step is the cause.
_likely_cause() {
    local note step
    if note=$(server_exit_note); then
        echo "server:   $note"
        step=$(sed -n 's/.*not implemented yet (\(.*\))$/\1/p' "$SERVER_ERR" 2>/dev/null | tail -n 1)
        if [[ -n $step ]]; then
            echo "likely cause: the starter stops at a part still to write ($step): write that step first"
        elif [[ -n $1 ]]; then
            echo "likely cause: the server ended during the test (its stderr above says why); what the test checks: $1"
        else
            echo "likely cause: the server ended during the test: its stderr above says why"
        fi
    elif [[ ${2:-} =~ $_NOT_IMPLEMENTED ]]; then
        echo "likely cause: the starter stops at a part still to write (${BASH_REMATCH[1]}): write that step first"
    elif [[ -n $1 ]]; then
        echo "likely cause: $1"
    fi
}

# now_ms: a clock in milliseconds, the one the tests measure time with (and
# wait with: a wait of N seconds lasts N seconds, not N - 1 to N).
now_ms() {
    local now
    clock_ms now
    echo "$now"
}

# nap SECONDS: sleep(1) without starting it: a read that times out, on a
# pipe nobody writes to (opened once per test). The wait loops nap twenty
# times a second; a sleep process each time cost more processor time than
# many a test.
nap() {
    if [[ -z ${_NAP_FD:-} ]]; then
        local fifo
        fifo="$(_tmpdir)/nap.$BASHPID"
        if mkfifo "$fifo" 2>/dev/null && exec {_NAP_FD}<>"$fifo"; then
            rm -f "$fifo"
        else
            _NAP_FD=none
        fi
    fi
    if [[ $_NAP_FD == none ]]; then
        sleep "$1"
    else
        read -r -t "$1" -u "$_NAP_FD" _ || true
    fi
}

# clock_ms VAR: now_ms into VAR, without the subshell of $(now_ms): the
# wait loops below look at the clock twenty times a second.
clock_ms() {
    local t=${EPOCHREALTIME:-}
    t=${t/,/.}
    if [[ -n $t ]]; then
        local s=${t%.*} f=${t#*.}000
        printf -v "$1" '%d' "$((s * 1000 + 10#${f:0:3}))"
    else
        printf -v "$1" '%d' "$(($(date +%s) * 1000))"
    fi
}

# wait_until SECONDS CMD...: polls CMD every 50 ms until it succeeds.
wait_until() {
    local deadline now
    clock_ms now
    deadline=$((now + $1 * 1000))
    shift
    until "$@"; do
        clock_ms now
        if ((now >= deadline)); then
            return 1
        fi
        nap 0.05
    done
}

# cleanup_background: stops everything start_server and start_background
# started, and whatever those processes left in their sessions.
cleanup_background() {
    _cleanup_background 2>/dev/null
}

_cleanup_background() {
    local pid
    for pid in "${_SOCKSTEP_PIDS[@]}"; do
        if is_running "$pid"; then
            # The contract's second to end after SIGTERM, then no more: a
            # starter that does not stop yet costs each test one second.
            kill -s TERM "$pid" 2>/dev/null || true
            wait_exit "$pid" "${HELLO_SLOW:-1}" || kill -s KILL "$pid" 2>/dev/null || true
        fi
        # Children a server left behind share its session and group id.
        kill -s KILL -- "-$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    _SOCKSTEP_PIDS=()
}

teardown() {
    cleanup_background
}

teardown_file() {
    cleanup_background
}

# ------------------------------------------------------- failure messages

# escape_bytes: stdin to one line with \n, \r, \t, \0, \\ and \xNN escapes,
# cut after 300 characters, so that failures never print raw network bytes.
escape_bytes() {
    LC_ALL=C od -An -v -tu1 | LC_ALL=C awk '
        function add(s) { out = out s; if (length(out) > 300) { print substr(out, 1, 300) "..."; done = 1; exit } }
        { for (i = 1; i <= NF; i++) {
            b = $i + 0
            if (b == 92) add("\\\\"); else if (b == 10) add("\\n"); else if (b == 13) add("\\r")
            else if (b == 9) add("\\t"); else if (b == 0) add("\\0")
            else if (b < 32 || b > 126) add(sprintf("\\x%02x", b))
            else add(sprintf("%c", b))
        } }
        END { if (!done) print out }'
}

_quoted() {
    printf "'%s'" "$(printf '%s' "$1" | escape_bytes)"
}

# _reap_server: reaps the server under test if it has ended, here, where
# `wait` can tell its status (the messages are written in a pipeline's
# subshell, which cannot).
_reap_server() {
    if [[ -n ${SERVER_PID:-} ]] && ! is_running "$SERVER_PID"; then
        _reap "$SERVER_PID"
    fi
    return 0
}

# report_mismatch SENT EXPECTED GOT [CAUSE]: explains a failure; returns 1.
report_mismatch() {
    _reap_server
    {
        echo "sent:     $(_quoted "$1")"
        echo "expected: $(_quoted "$2")"
        echo "got:      $(_quoted "$3")"
        _likely_cause "${4:-}" "$3"
    } | fail
}

# expect_equal SENT EXPECTED ACTUAL [CAUSE]
expect_equal() {
    [[ $2 == "$3" ]] || report_mismatch "$@"
}

# expect_file_equal SENT EXPECTED_FILE ACTUAL_FILE [CAUSE]: byte for byte.
expect_file_equal() {
    local difference
    if cmp -s "$2" "$3"; then
        return 0
    fi
    difference=$(cmp "$2" "$3" 2>&1 | sed "s|$(_tmpdir)/||g") || true
    _reap_server
    {
        echo "sent:     $1"
        echo "expected: $(wc -c <"$2" | tr -d ' ') bytes starting '$(head -c 80 "$2" | escape_bytes)'"
        echo "got:      $(wc -c <"$3" | tr -d ' ') bytes starting '$(head -c 80 "$3" | escape_bytes)'"
        echo "first difference: ${difference:-none}"
        _likely_cause "${4:-}"
    } | fail
}

# --------------------------------------------------------- machine checks

require_command() {
    command -v "$1" >/dev/null || skip "$1 is not installed"
}

# require_netns: network namespaces need root and iproute2, and a machine
# that lets `ip netns exec` enter one (it remounts /sys, which a chroot or a
# container may refuse): the whole path is probed, and the test skipped with
# the reason when any part fails.
require_netns() {
    local probe="sockstep-probe-$$-${BATS_TEST_NUMBER:-0}" why
    [[ ${SOCKSTEP_NO_NETNS:-} != 1 ]] || skip "network namespace tests turned off (SOCKSTEP_NO_NETNS=1)"
    command -v ip >/dev/null || skip "network namespaces need iproute2 (ip)"
    [[ $(id -u) == 0 ]] || skip "network namespaces need root"
    if ! why=$(ip netns add "$probe" 2>&1); then
        skip "this machine does not allow network namespaces (ip netns add: $(_first_line "$why"))"
    fi
    local entered=0
    why=$(ip netns exec "$probe" true 2>&1) || entered=$?
    ip netns delete "$probe" 2>/dev/null || true
    ((entered == 0)) || skip "cannot enter a network namespace here (ip netns exec: $(_first_line "${why:-exit status $entered}"))"
}

_first_line() {
    printf '%s' "${1%%$'\n'*}" | escape_bytes
}

_require_proc() {
    [[ -d /proc/self/fd ]] || skip "needs /proc (Linux)"
}

# file_size_at_least FILE BYTES: FILE exists and holds BYTES bytes or more.
file_size_at_least() {
    [[ -f $1 && $(wc -c <"$1") -ge $2 ]]
}

# fd_count PID: open file descriptors of PID.
fd_count() {
    _require_proc
    find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l | tr -d ' '
}

# thread_count PID: threads of PID.
thread_count() {
    _require_proc
    find "/proc/$1/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l | tr -d ' '
}

# proc_stats: the stat lines of every process (Linux /proc), the one place
# that reads them. Through cat: some awks (mawk) give up at the first file
# that vanished between the glob and the read. The name field "(...)" may
# hold spaces: it is squeezed to one word, so that the fields after it keep
# their place ($1 pid, $3 state, $4 parent).
proc_stats() {
    _require_proc
    cat /proc/[0-9]*/stat 2>/dev/null | sed 's/ (.*) / (name) /' || true
}

# child_pids PID: the process ids of PID's children, one a line.
child_pids() {
    proc_stats | awk -v parent="$1" '$4 == parent { print $1 }'
}

# zombie_count PID: children of PID that ended and were not reaped.
zombie_count() {
    proc_stats | awk -v parent="$1" '$4 == parent && $3 == "Z" { n++ } END { print n + 0 }'
}

# rss_kib PID: resident memory of PID in KiB (peak with `rss_kib PID peak`).
rss_kib() {
    _require_proc
    local field=VmRSS
    [[ ${2:-} != peak ]] || field=VmHWM
    awk -v f="$field:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ------------------------------------------------------ unlucky system calls

# unlucky_prefix VAR=VALUE...: sets UNLUCKY_PREFIX, the words to put before
# a command so that it runs with the LD_PRELOAD library
# build/fixtures/unlucky.so (tests/fixtures/preload/unlucky.c says what each
# UNLUCKY_... variable does): `start_server "${UNLUCKY_PREFIX[@]}" PROG ...`.
unlucky_prefix() {
    local path="$SOCKSTEP_FIXTURES/unlucky.so"
    if [[ ! -f $path ]]; then
        fail "test library unlucky.so is not built (looked for ${path#"$SOCKSTEP_ROOT"/}): run make"
        return 1
    fi
    # A sanitizer build wants its runtime first; this library has none.
    UNLUCKY_PREFIX=(env "LD_PRELOAD=$path"
        "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@")
}
