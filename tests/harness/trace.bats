#!/usr/bin/env bats
# Tests of `make trace` (tests/lib/trace.sh): for every lesson's exchange
# (tests/trace/NN-name.sh), the reference's trace shows the events the
# exchange expects, in order, in the timeline and in the Mermaid file alike;
# lesson 03's unread-close scenario shows a reset from the careless server
# and none from the reference; the capture leaves the host's interfaces as
# they were and nothing running; and when capture is impossible the tool
# says why and what to install. Skipped, with the reason, only where no way
# of capturing works here (no tcpdump, neither user namespaces nor root).

: "${SOCKSTEP_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
load '../lib/common'
load_assertions

: "${SOCKSTEP_BUILD:=$SOCKSTEP_ROOT/build}"
TRACE_SH="$SOCKSTEP_ROOT/tests/lib/trace.sh"
CHECK_AWK="$SOCKSTEP_ROOT/tests/lib/trace_check.awk"
# The lessons with a test of their own below; any other exchange file (a
# lesson added later) is checked by the last test.
DEDICATED="01 02 03 04 05 06 07"

# build_variants: the programs some scenarios run (not part of `make all`).
build_variants() {
    local out
    if ! out=$(make -C "$SOCKSTEP_ROOT" --no-print-directory BUILD="$SOCKSTEP_BUILD" trace-variants 2>&1); then
        {
            echo "ran:      make trace-variants"
            echo "got:      $(tail -n 5 <<<"$out")"
            echo "likely cause: a patch in tests/trace/NN-name/ no longer applies to its reference"
        } | fail
    fi
}

# require_capture [METHOD]: skips the test when no way of capturing (or not
# METHOD) works on this machine, with the tool's own reason.
require_capture() {
    local out
    if ! out=$(TRACE_METHOD=${1:-auto} bash "$TRACE_SH" --probe 2>&1); then
        skip "cannot capture here: $(head -n 3 <<<"$out" | tr '\n' ' ')"
    fi
}

# run_trace LESSON [SCENARIO]: `make trace LESSON=.. SOLUTIONS=1`, results in
# this test's folder; sets OUT (where they are).
run_trace() {
    OUT="$BATS_TEST_TMPDIR/trace/$1${2:+/$2}"
    run env LESSON="$1" SOLUTIONS=1 SCENARIO="${2:-}" TRACE_DIR="$BATS_TEST_TMPDIR/trace" \
        bash "$TRACE_SH" </dev/null
    if ((status != 0)); then
        {
            echo "ran:      make trace LESSON=$1 SOLUTIONS=1${2:+ SCENARIO=$2}"
            echo "expected: exit status 0"
            echo "got:      exit status $status, and:"
            printf '%s\n' "$output" | tail -n 25 | sed 's/^/    /'
        } | fail
    fi
}

# expectations LESSON [SCENARIO]: the events the lesson's exchange file
# expects (its expect_NAME function).
expectations() {
    local file
    file=$(compgen -G "$SOCKSTEP_ROOT/tests/trace/$1-*.sh" | head -n 1)
    (
        # shellcheck source=tests/trace/lib.sh
        source "$SOCKSTEP_ROOT/tests/trace/lib.sh"
        # shellcheck disable=SC1090
        source "$file"
        "expect_$(tr - _ <<<"${2:-default}")"
    )
}

# events FILE MODE: the packets of trace.txt (timeline) or trace.md (mermaid).
events() {
    LC_ALL=C awk -v mode="$2" -f "$CHECK_AWK" "$1"
}

# check_events EVENTS EXPECT WHERE: the expectations hold in EVENTS.
check_events() {
    local result
    if ! result=$(LC_ALL=C awk -v mode=check -v expect="$2" -f "$CHECK_AWK" "$1"); then
        {
            echo "in:       $3"
            printf '%s\n' "$result"
            echo "likely cause: the exchange in tests/trace/ or the decoder changed; the timeline:"
            sed -n '/ ms  /p' "$OUT/trace.txt" | head -n 40
        } | fail
    fi
}

# check_trace LESSON [SCENARIO]: runs the trace, then checks the timeline and
# the Mermaid file against the exchange's expectations, and that both list
# the same packets as the capture holds.
check_trace() {
    local expect="$BATS_TEST_TMPDIR/expect" packets
    require_capture
    run_trace "$@" || return 1
    refute_output --partial "trace: "
    expectations "$@" >"$expect"
    [[ -s $expect ]] || fail "tests/trace/$1-*.sh expects nothing for ${2:-default}"
    assert [ "$(head -c 4 "$OUT/trace.pcap" | od -An -tx1 | tr -d ' ')" = d4c3b2a1 ]
    events "$OUT/trace.txt" timeline >"$BATS_TEST_TMPDIR/timeline"
    events "$OUT/trace.md" mermaid >"$BATS_TEST_TMPDIR/mermaid"
    packets=$(tcpdump -nn -r "$OUT/trace.pcap" 2>/dev/null | wc -l)
    assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/timeline")" "$packets"
    check_events "$BATS_TEST_TMPDIR/timeline" "$expect" "$OUT/trace.txt (the timeline)"
    if ! grep -q '^```mermaid$' "$OUT/trace.md" || ! grep -q '^sequenceDiagram$' "$OUT/trace.md"; then
        fail "trace.md has no Mermaid sequence diagram"
    fi
    if ! cmp -s "$BATS_TEST_TMPDIR/timeline" "$BATS_TEST_TMPDIR/mermaid"; then
        {
            echo "expected: the Mermaid file lists the packets of the timeline"
            echo "got (timeline < > mermaid):"
            diff "$BATS_TEST_TMPDIR/timeline" "$BATS_TEST_TMPDIR/mermaid" | head -n 10
        } | fail
    fi
    check_events "$BATS_TEST_TMPDIR/mermaid" "$expect" "$OUT/trace.md (the Mermaid diagram)"
}

# Processes this test started that still run: the build's programs and
# tcpdump, marked by TRACE_TEST_MARK in their environment (other tests may
# run the same programs at the same time: make test runs its parts at once).
lab_processes() {
    local pid exe
    for pid in /proc/[0-9]*; do
        exe=$(readlink "$pid/exe" 2>/dev/null) || continue
        [[ $exe == "$SOCKSTEP_BUILD"/* || $exe == */tcpdump ]] || continue
        if tr '\0' '\n' <"$pid/environ" 2>/dev/null | grep -qxF "TRACE_TEST_MARK=$BATS_TEST_TMPDIR"; then
            echo "${pid#/proc/} $exe"
        fi
    done
}

@test "lesson 01: handshake, the request in one segment, the body in many, the server's FIN first" {
    check_trace 01
}

@test "lesson 02: handshake, the tutorial's lines, a FIN each way, the first one's side in TIME_WAIT" {
    local first
    check_trace 02
    first=$(awk -F'\t' 'index($3, "FIN") { print $1; exit }' "$BATS_TEST_TMPDIR/timeline")
    assert_output --partial "In TIME_WAIT now"
    assert_output --regexp "  $first \(127\.0\.0\.1:[0-9]+\), towards"
}

@test "lesson 03: handshake, the tutorial's lines, the server's FIN first (it waits in TIME_WAIT)" {
    check_trace 03
    assert_output --regexp "In TIME_WAIT now.*"$'\n'"  server \(127\.0\.0\.1:[0-9]+\), towards"
}

@test "lesson 03 unread-close: the careless server's close is a reset, the reference's a FIN" {
    build_variants
    check_trace 03 unread-close
    # The same, said plainly: a RST from the byte-at-a-time variant, none
    # from the reference.
    assert grep -qE '^ *[0-9.]+ ms  careless server → client +RST' "$OUT/trace.txt"
    refute grep -qE '^ *[0-9.]+ ms  server → client 2 +RST' "$OUT/trace.txt"
    assert grep -qE '^ *[0-9.]+ ms  server → client 2 +FIN' "$OUT/trace.txt"
}

@test "lesson 04: handshake, the tutorial's lines, the server's FIN first" {
    check_trace 04
}

@test "lesson 05: datagrams both ways, the lost one sent again through the relay" {
    check_trace 05
    refute grep -qE ' ms  .*(SYN|FIN|ACK)' "$OUT/trace.txt"
}

@test "lesson 06: two clients interleaved, each closed by the server first" {
    check_trace 06
}

@test "lesson 07: three clients interleaved, each closed by the server first" {
    check_trace 07
}

@test "the checker fails a trace that does not show what is expected" {
    require_capture
    run_trace 03
    events "$OUT/trace.txt" timeline >"$BATS_TEST_TMPDIR/timeline"
    local wrong
    for wrong in "fin client server" "rst server client" "data server client Hello, Tracy!\\n" \
        "handshake server client" "segments server client 9" "datagram client server Michael"; do
        printf '%s\n' "$wrong" >"$BATS_TEST_TMPDIR/wrong"
        run awk -v mode=check -v expect="$BATS_TEST_TMPDIR/wrong" -f "$CHECK_AWK" "$BATS_TEST_TMPDIR/timeline"
        assert_failure
        assert_output --partial "expected: $wrong"
    done
    # And with the careless server's reset, "no-rst" fails.
    build_variants
    run_trace 03 unread-close
    events "$OUT/trace.txt" timeline >"$BATS_TEST_TMPDIR/timeline"
    printf 'no-rst careless_server\n' >"$BATS_TEST_TMPDIR/wrong"
    run awk -v mode=check -v expect="$BATS_TEST_TMPDIR/wrong" -f "$CHECK_AWK" "$BATS_TEST_TMPDIR/timeline"
    assert_failure
    assert_output --partial "RST"
}

@test "every way of capturing leaves the host's interfaces as they were, and nothing running" {
    local method before after ran=0
    require_capture
    for method in userns root host; do
        TRACE_METHOD=$method bash "$TRACE_SH" --probe >/dev/null 2>&1 || continue
        ran=$((ran + 1))
        before=$(ip -o link show | sed 's/ state [A-Z]*//')
        run env LESSON=03 SOLUTIONS=1 TRACE_METHOD=$method TRACE_DIR="$BATS_TEST_TMPDIR/$method" \
            TRACE_TEST_MARK="$BATS_TEST_TMPDIR" bash "$TRACE_SH"
        assert_success
        assert_output --partial "Saved:"
        after=$(ip -o link show | sed 's/ state [A-Z]*//')
        assert_equal "$after" "$before"
        assert_equal "$(lab_processes)" ""
    done
    ((ran > 0))
}

@test "the host's loopback way captures only the exchange's ports, and the same events" {
    require_capture host
    local expect="$BATS_TEST_TMPDIR/expect"
    OUT="$BATS_TEST_TMPDIR/host/03"
    run env LESSON=03 SOLUTIONS=1 TRACE_METHOD=host TRACE_DIR="$BATS_TEST_TMPDIR/host" bash "$TRACE_SH"
    assert_success
    assert_output --partial "the host's loopback"
    expectations 03 >"$expect"
    events "$OUT/trace.txt" timeline >"$BATS_TEST_TMPDIR/timeline"
    check_events "$BATS_TEST_TMPDIR/timeline" "$expect" "$OUT/trace.txt"
    # Only the server and its one client appear.
    assert_equal "$(cut -f1,2 "$BATS_TEST_TMPDIR/timeline" | tr '\t' '\n' | sort -u | paste -sd, -)" "client,server"
}

@test "without tcpdump it says what to install and fails" {
    local bin="$BATS_TEST_TMPDIR/bin" cmd
    mkdir -p "$bin"
    for cmd in bash env dirname basename mkdir rm mktemp id grep sed awk cat wc sort cut head \
        tail tr unshare ip ss sleep seq; do
        if command -v "$cmd" >/dev/null; then
            ln -s "$(command -v "$cmd")" "$bin/$cmd"
        fi
    done
    run env PATH="$bin" LESSON=03 SOLUTIONS=1 TRACE_DIR="$BATS_TEST_TMPDIR/trace" "$bin/bash" "$TRACE_SH"
    assert_failure 1
    assert_output --partial "tcpdump is not installed"
    assert_output --partial "apt-get install tcpdump"
}

@test "when no way of capturing works it says why, what to enable, and fails" {
    local bin="$BATS_TEST_TMPDIR/bin"
    mkdir -p "$bin"
    # An unshare the kernel refuses, a tcpdump without the right to capture.
    printf '#!/bin/sh\necho "unshare: unshare failed: Operation not permitted" >&2\nexit 1\n' >"$bin/unshare"
    printf '#!/bin/sh\necho "tcpdump: lo: You don'"'"'t have permission to perform this capture on that device" >&2\nexit 1\n' >"$bin/tcpdump"
    chmod +x "$bin/unshare" "$bin/tcpdump"
    # A machine without iproute2 is told that first; this test is about the
    # capture itself failing, so it gets a stand-in ip.
    if ! command -v ip >/dev/null; then
        printf '#!/bin/sh\nexit 0\n' >"$bin/ip"
        chmod +x "$bin/ip"
    fi
    run env PATH="$bin:$PATH" LESSON=03 SOLUTIONS=1 TRACE_DIR="$BATS_TEST_TMPDIR/trace" bash "$TRACE_SH"
    assert_failure 1
    assert_output --partial "cannot capture packets on this machine"
    assert_output --partial "Operation not permitted"
    assert_output --partial "You don't have permission"
    assert_output --partial "kernel.unprivileged_userns_clone=1"
    assert_output --partial "setcap cap_net_raw"
    refute [ -e "$BATS_TEST_TMPDIR/trace/03/trace.pcap" ]
}

@test "a program that does not start: the trace says so and fails" {
    require_capture
    local fake="$BATS_TEST_TMPDIR/build"
    mkdir -p "$fake/lessons/03-threaded-server"
    printf '#!/bin/sh\necho "hello_threads: step 1 is not implemented yet" >&2\nexit 1\n' \
        >"$fake/lessons/03-threaded-server/hello_threads"
    chmod +x "$fake/lessons/03-threaded-server/hello_threads"
    run env LESSON=03 SOCKSTEP_BUILD="$fake" TRACE_DIR="$BATS_TEST_TMPDIR/trace" bash "$TRACE_SH"
    assert_failure 1
    assert_output --partial "did not start"
    assert_output --partial "not implemented yet"
}

@test "an unknown scenario or lesson is a usage error that lists the choices" {
    run env LESSON=03 SCENARIO=nope bash "$TRACE_SH"
    assert_failure 2
    assert_output --partial "unread-close"
    run env LESSON=99 bash "$TRACE_SH"
    assert_failure 2
    assert_output --partial "03-threaded-server"
    run env LESSON= bash "$TRACE_SH"
    assert_failure 2
    assert_output --partial "usage: make trace LESSON=NN"
}

@test "every other lesson's exchange and scenario: the reference's trace shows what it expects" {
    local file lesson nn scenario checked=0
    for file in "$SOCKSTEP_ROOT"/tests/trace/[0-9][0-9]-*.sh; do
        lesson=$(basename "$file" .sh)
        nn=${lesson%%-*}
        [[ " $DEDICATED " != *" $nn "* ]] || continue
        [[ -d $SOCKSTEP_BUILD/solutions/$lesson ]] || continue
        build_variants
        check_trace "$nn"
        while read -r scenario; do
            check_trace "$nn" "$scenario"
        done < <(sed -n 's/^# scenarios*: *\([a-z0-9-]*\).*/\1/p' "$file")
        checked=$((checked + 1))
    done
    ((checked > 0)) || skip "no exchange beyond lessons $DEDICATED yet"
}
