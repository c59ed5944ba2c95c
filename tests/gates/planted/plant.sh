#!/usr/bin/env bash
# plant.sh: shows that the quality gates catch the bugs they are meant to
# catch. Each demonstration copies the repository (without build/ and .git)
# to a temporary folder, plants ONE bug in a reference solution there, and
# runs the real gate commands on the copy. The repository itself is never
# modified.
#
#   bash tests/gates/planted/plant.sh oob-write    an out-of-bounds write
#   bash tests/gates/planted/plant.sh fd-leak      a descriptor leaked per connection
#   bash tests/gates/planted/plant.sh mem-leak     heap memory leaked per name
#   bash tests/gates/planted/plant.sh              all three
#   KEEP=1 bash tests/gates/planted/plant.sh ...   keep the copy to look at it
#
# oob-write: hello_threads (lesson 03) gets a line buffer of LINE_LIMIT
#   bytes instead of LINE_BUF_SIZE (= LINE_LIMIT + 1, room for the '\r'
#   of "\r\n"): a 4097-byte line then writes one byte past the buffer. The
#   ordinary tests cannot see it (the byte lands in the next stack slot and
#   the reply is right); `make check SANITIZE=1` (AddressSanitizer) and the
#   fuzz corpus replay (`tests/gates/fuzz.sh --replay`) report it.
# fd-leak: hello_threads ends each connection with shutdown() instead of
#   close(): every client sees the end of the conversation as before, so
#   the protocol tests pass, but each connection leaks its descriptor until
#   the server runs out. The lesson's leak test ("no descriptor or thread is
#   left after 300 connections", /proc/PID/fd) fails, and valgrind
#   --track-fds=yes lists the sockets still open at exit.
# mem-leak: udp_client forgets free() of the reply it expects for each
#   name. Nothing visible goes wrong; `make valgrind LESSON=05` (memcheck,
#   leaks are errors) reports the bytes "definitely lost" and where they
#   were allocated.
#
# Exit status: 0 when every gate caught its planted bug, 1 otherwise.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
target=solutions/03-threaded-server/hello_threads.c
demos=("$@")
if [ "${#demos[@]}" -eq 0 ]; then
    demos=(oob-write fd-leak mem-leak)
fi

missed=0
work=""
cleanup() {
    if [ -n "$work" ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT

say() { printf '\n>>> %s\n' "$*"; }

# copy_repo: a fresh copy of the working tree in $work.
copy_repo() {
    cleanup
    work=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-planted.XXXXXX") || exit 1
    tar -C "$root" --exclude=./build --exclude=./.git -cf - . | tar -C "$work" -xf -
    [ -n "${KEEP:-}" ] && echo "copy kept in $work"
}

# plant FILE PERL-SUBSTITUTION DESCRIPTION: edit the copy, and make sure the
# edit happened (a solution that changed shape must not pass silently).
plant() {
    local file=$work/$1 expr=$2 what=$3
    cp "$file" "$file.orig"
    perl -0pi -e "$expr" "$file"
    if cmp -s "$file" "$file.orig"; then
        echo "plant.sh: could not plant '$what' in $1: the code it edits changed" >&2
        exit 2
    fi
    echo "planted in $1: $what"
    diff -u --label "$1 (reference)" --label "$1 (planted)" "$file.orig" "$file" | sed -n '3,40p'
    rm -f "$file.orig"
}

# expect_failure DESCRIPTION LOG CMD...: runs CMD in the copy; the
# demonstration succeeds when CMD fails. Prints the end of its output.
expect_failure() {
    local what=$1 log=$2
    shift 2
    echo "\$ $*"
    if (cd "$work" && "$@") >"$log" 2>&1; then
        tail -n 5 "$log"
        echo "NOT CAUGHT: $what passed with the planted bug"
        missed=1
        return 1
    fi
    echo "caught: $what failed, as it must"
    return 0
}

# expect_success DESCRIPTION LOG CMD...: CMD must pass (the bug is invisible to it).
expect_success() {
    local what=$1 log=$2
    shift 2
    echo "\$ $*"
    if (cd "$work" && "$@") >"$log" 2>&1; then
        echo "passes: $what does not see this bug ($(tail -n 1 "$log"))"
    else
        echo "(note: $what already fails on this bug:)"
        grep -E 'FAIL|not ok' "$log" | head -n 5
    fi
}

demo_oob_write() {
    say "oob-write: a one-byte stack buffer overflow in $target"
    copy_repo
    plant "$target" 's/(static void serve_client\(int fd, const char \*peer\)\n\{\n(?:.*\n)*?    char line\[)LINE_BUF_SIZE\]/${1}LINE_LIMIT]/' \
        "the line buffer forgets the byte for the '\\r' of \"\\r\\n\""

    say "the ordinary tests, without sanitizers"
    expect_success "make check SOLUTIONS=1 LESSON=03" "$work/plain.log" \
        make --no-print-directory check SOLUTIONS=1 LESSON=03

    say "the sanitizer gate"
    if expect_failure "make check SANITIZE=1 LESSON=03" "$work/sanitize.log" \
        make --no-print-directory check SANITIZE=1 LESSON=03; then
        grep -E '^ *(FAIL|not ok)|ERROR: AddressSanitizer|WRITE of size|#[0-3] .* in |SUMMARY:' \
            "$work/sanitize.log" | head -n 14
        tail -n 1 "$work/sanitize.log"
    fi

    say "the fuzz corpus replay"
    if expect_failure "tests/gates/fuzz.sh --replay hello_threads" "$work/replay.log" \
        bash tests/gates/fuzz.sh --replay hello_threads; then
        grep -E 'ERROR: AddressSanitizer|WRITE of size|#[0-2] .* in |SUMMARY:|FAIL' \
            "$work/replay.log" | head -n 8
    fi
}

demo_fd_leak() {
    say "fd-leak: one descriptor leaked per connection in $target"
    copy_repo
    plant "$target" 's/\n    if \(close\(conn->fd\) < 0\) \{\n        log_errno\("close connection from %s", conn->peer\);\n    \}\n/\n    shutdown(conn->fd, SHUT_RDWR); \/* ends the connection, but the descriptor stays open *\/\n/' \
        "shutdown() instead of close(): the client sees the end, the descriptor leaks"

    say "the lesson's tests (the leak test reads /proc/PID/fd)"
    if expect_failure "make check SOLUTIONS=1 LESSON=03" "$work/check.log" \
        make --no-print-directory check SOLUTIONS=1 LESSON=03; then
        grep -E '^ *FAIL|descriptor|fd' "$work/check.log" | head -n 8
        tail -n 1 "$work/check.log"
    fi

    say "valgrind --track-fds=yes on the planted server (3 clients, then SIGTERM)"
    demo_valgrind_fds
}

demo_mem_leak() {
    local client=solutions/05-udp/udp_client.c
    say "mem-leak: one heap block leaked per name in $client"
    copy_repo
    plant "$client" 's/\n( *)free\(expected\);\n/\n$1\/* free(expected); forgotten *\/\n/' \
        "the expected reply of each name is never freed"

    say "the ordinary tests, without valgrind"
    expect_success "make check SOLUTIONS=1 LESSON=05" "$work/plain.log" \
        env SOCKSTEP_NO_NETNS=1 make --no-print-directory check SOLUTIONS=1 LESSON=05

    say "the valgrind gate (the network-namespace tests are left out: SOCKSTEP_NO_NETNS=1)"
    if expect_failure "make valgrind LESSON=05" "$work/valgrind.log" \
        env SOCKSTEP_NO_NETNS=1 make --no-print-directory valgrind LESSON=05; then
        grep -E 'FAIL  valgrind report|definitely lost|at 0x.*malloc|by 0x.*udp_client.c' \
            "$work/valgrind.log" | head -n 6
        tail -n 1 "$work/valgrind.log"
    fi
}

# Runs the planted server under valgrind, connects three clients, stops it
# and shows the descriptors valgrind found open at exit.
demo_valgrind_fds() {
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "valgrind is not installed: skipped"
        return 0
    fi
    local bin="$work/build/solutions/03-threaded-server/hello_threads"
    local out="$work/vg.out" log="$work/vg.log" pid port i n
    make -C "$work" --no-print-directory "build/solutions/03-threaded-server/hello_threads" \
        >/dev/null || return 1
    echo "\$ valgrind --track-fds=yes $bin -p 0"
    valgrind --track-fds=yes --log-file="$log" "$bin" -p 0 >"$out" 2>/dev/null &
    pid=$!
    for i in $(seq 1 200); do # valgrind starts slowly: up to 20 s
        port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out")
        [ -n "$port" ] && break
        sleep 0.1
    done
    if [ -z "${port:-}" ]; then
        echo "the server did not start under valgrind"
        kill "$pid" 2>/dev/null
        return 1
    fi
    for i in 1 2 3; do
        printf 'client%s\nexit\n' "$i" | timeout 10 nc -N 127.0.0.1 "$port" >/dev/null 2>&1 ||
            printf 'client%s\nexit\n' "$i" | timeout 10 nc 127.0.0.1 "$port" >/dev/null 2>&1
    done
    sleep 1 # let the three threads finish
    kill -TERM "$pid"
    wait "$pid"
    sed -n '/FILE DESCRIPTORS/,/^==[0-9]*== *$/p' "$log" | head -n 20
    n=$(grep -c 'Open AF_INET6\{0,1\} socket' "$log")
    # The server closes its listener before it exits: every TCP socket still
    # open is a connection it leaked.
    if [ "$n" -ge 3 ]; then
        echo "caught: valgrind lists $n TCP sockets still open at exit, one per client"
    else
        echo "NOT CAUGHT: valgrind lists $n open TCP sockets at exit"
        missed=1
    fi
}

for d in "${demos[@]}"; do
    case $d in
    oob-write) demo_oob_write ;;
    fd-leak) demo_fd_leak ;;
    mem-leak) demo_mem_leak ;;
    *)
        echo "usage: plant.sh [oob-write] [fd-leak] [mem-leak]" >&2
        exit 2
        ;;
    esac
done

echo ""
if [ "$missed" -ne 0 ]; then
    echo "plant.sh: a gate MISSED its planted bug (see above)"
    exit 1
fi
echo "plant.sh: every planted bug was caught"
