# shellcheck shell=bash
# Helpers for the exchanges of `make trace` (tests/trace/NN-name.sh), on top
# of the demo's (tests/demo/lib.sh: demo_program, demo_fixture,
# demo_start_server, demo_stop_server, show_cmd, show_input, say).
# tests/lib/trace.sh sources this file, then the lesson's exchange file,
# inside the private network namespace where tcpdump will listen.
#
# An exchange file defines, for its tutorial exchange ("default") and for
# each SCENARIO it offers (a name with dashes, e.g. unread-close ->
# unread_close):
#
#   exchange_NAME   starts the servers, names them (trace_role), starts the
#                   capture (trace_capture), runs the conversation, stops the
#                   servers. Runs with `set -e`; everything it starts is
#                   stopped at the end anyway.
#   expect_NAME     prints the events the reference's trace must show, in
#                   order, one per line (tests/harness/trace.bats checks
#                   them in the timeline and in the Mermaid file):
#       handshake A B         SYN A->B, SYN-ACK B->A, ACK A->B
#       data A B TEXT         the next segment with data from A to B starts
#                             with TEXT (escaped as the timeline shows it)
#       segments A B N        at least N segments with data from A to B
#       datagrams A B N       at least N UDP datagrams from A to B
#       datagram A B TEXT     the next UDP datagram from A to B starts with TEXT
#       fin A B               the next FIN between A and B is from A
#       fins A B              a FIN each way, in either order (both sides
#                             close at once, and either may be first)
#       rst A B               a reset from A to B follows
#       no-rst A              no segment from A has RST, in the whole trace
#   Each expectation looks after the packet the one before it matched;
#   retransmitted bytes and FINs are skipped, as the receiver skips them.
#   The timeline shows the first 40 bytes of each payload.
#   And a line `# scenarios: NAME - what it shows` per scenario, which
#   `make trace` lists.
#
# A new lesson's trace is this one file, tests/trace/NN-name.sh (a variant
# program a scenario needs: tests/trace/NN-name/PROGRAM--SLUG.patch, on the
# reference); tests/harness/trace.bats checks its expectations against the
# reference's trace without a change.
#
# A, B are the names the timeline shows: the servers named with trace_role,
# and "client", "client 2", ... for the others, in the order they appear.
# Names with spaces are written with underscores in expect lines
# (client_2).
#
# Environment (set by tests/lib/trace.sh):
#   TRACE_WORK      scratch folder of this run (roles, capture log)
#   TRACE_PCAP      where tcpdump writes the capture
#   TRACE_TCPDUMP   the tcpdump command
#   TRACE_VARIANTS  folder of the variant programs some scenarios run
#                   (build/trace/variants/NN-name)

TRACE_TCPDUMP_PID=

# trace_role NAME PORT: packets from or to PORT are NAME's in the timeline.
trace_role() {
    printf '%s\t%s\n' "$2" "$1" >>"$TRACE_WORK/roles"
}

# trace_role_of NAME PID: every TCP or UDP port PID has open is NAME's (for a
# relay, whose socket towards the server has a port the kernel chose).
trace_role_of() {
    local port
    for port in $(ss -Htuanp 2>/dev/null | awk -v p="pid=$2," 'index($0, p) { n = split($5, a, ":"); print a[n] }'); do
        trace_role "$1" "$port"
    done
}

# trace_capture: starts tcpdump on the loopback, for the ports named so far
# (only they are captured when the capture runs on the host's loopback), and
# waits until it listens.
trace_capture() {
    local filter="" port deadline
    while read -r port; do
        filter+="${filter:+ or }port $port"
    done < <(cut -f1 "$TRACE_WORK/roles" | sort -u)
    [[ -n $filter ]] || filter="tcp or udp"
    # Immediate mode hands each packet over at once (else the last ones may
    # still wait in the kernel when tcpdump stops), in fixed-size frames: a
    # 32 MiB buffer holds hundreds of them while tcpdump waits for a CPU.
    # shellcheck disable=SC2086 # TRACE_TCPDUMP is a command with options
    $TRACE_TCPDUMP -i lo --immediate-mode -B 32768 -U -s 0 -w "$TRACE_PCAP" \
        "($filter) and (tcp or udp)" 2>"$TRACE_WORK/tcpdump.log" &
    TRACE_TCPDUMP_PID=$!
    deadline=$((SECONDS + 5))
    until grep -q '^tcpdump: listening on' "$TRACE_WORK/tcpdump.log" 2>/dev/null; do
        if ! kill -0 "$TRACE_TCPDUMP_PID" 2>/dev/null || ((SECONDS >= deadline)); then
            echo "trace: tcpdump could not capture on the loopback:" >&2
            grep -v '^Warning: setgid/setuid failed' "$TRACE_WORK/tcpdump.log" | sed 's/^/    /' >&2
            return 1
        fi
        sleep 0.02
    done
}

# trace_capture_stop: lets the last packets reach the file, stops tcpdump.
trace_capture_stop() {
    [[ -n $TRACE_TCPDUMP_PID ]] || return 0
    sleep 0.1
    kill -s INT "$TRACE_TCPDUMP_PID" 2>/dev/null || true
    wait "$TRACE_TCPDUMP_PID" 2>/dev/null || true
    TRACE_TCPDUMP_PID=
}

# trace_variant PROGRAM SLUG: the path of a variant program (a reference
# with one change, built by make from tests/trace/NN-name/PROGRAM--SLUG.patch).
trace_variant() {
    local path="$TRACE_VARIANTS/$2/$1"
    if [[ ! -x $path ]]; then
        echo "trace: the variant $2 of $1 is not built (run make trace-variants)" >&2
        return 1
    fi
    printf '%s\n' "$path"
}

# ---------------------------------------------------------------------------
# A hello-protocol client written in bash, so that the conversation goes
# exactly as the tutorial tells it: one line, one reply, and after "exit" it
# waits for the server to close first. Every wait is bounded (5 s).

# hello_open VAR PORT: connects to 127.0.0.1:PORT, reads the welcome line;
# the connection's descriptor goes to VAR.
hello_open() {
    local welcome fd
    exec {fd}<>"/dev/tcp/127.0.0.1/$2" || return 1
    printf -v "$1" '%s' "$fd"
    IFS= read -r -t 5 welcome <&"$fd" || {
        echo "trace: no welcome line from 127.0.0.1:$2" >&2
        return 1
    }
    printf '  <- %s\n' "$welcome"
}

# hello_say FD NAME: sends NAME as one line, reads and prints the reply.
hello_say() {
    local reply
    printf '  -> %s\n' "$2"
    printf '%s\n' "$2" >&"$1" || return 1
    IFS= read -r -t 5 reply <&"$1" || {
        echo "trace: no reply to '$2'" >&2
        return 1
    }
    printf '  <- %s\n' "$reply"
}

# hello_bye FD: sends "exit", waits for the server to close, closes.
hello_bye() {
    local rest fd=$1
    printf '  -> exit\n'
    printf 'exit\n' >&"$1" || return 1
    if IFS= read -r -t 5 rest <&"$1"; then
        echo "trace: the server sent '$rest' after exit instead of closing" >&2
    fi
    exec {fd}>&-
}

# hello_send_all FD TEXT: sends TEXT (with printf's escapes: \n) in one
# write, then prints what comes back until the server closes or resets the
# connection.
hello_send_all() {
    local line fd=$1 err="$TRACE_WORK/read.err"
    printf '  -> %s (in one write)\n' "$2"
    # The printf program, not bash's: it writes its output in one write(),
    # where bash's would write line by line.
    # shellcheck disable=SC2059 # the text's escapes are meant
    env printf "$2" >&"$fd" || return 1
    while IFS= read -r -t 5 line <&"$fd" 2>"$err"; do
        printf '  <- %s\n' "$line"
    done
    if grep -q 'reset' "$err"; then
        say "(the connection was reset: read() failed with ECONNRESET)"
    fi
    exec {fd}>&-
}

# ---------------------------------------------------------------------------
# The tutorial's exchange, shared by the hello servers' lessons.

# hello_tutorial PORT: one client, Michael, Tracy, Sarah, then exit.
hello_tutorial() {
    local conn
    hello_open conn "$1"
    hello_say "$conn" Michael
    hello_say "$conn" Tracy
    hello_say "$conn" Sarah
    hello_bye "$conn"
}

# expect_hello_tutorial CLIENT SERVER: its events, the server closing first.
expect_hello_tutorial() {
    local c=$1 s=$2 name
    echo "handshake $c $s"
    printf '%s\n' "data $s $c Welcome!\\n"
    for name in Michael Tracy Sarah; do
        printf '%s\n' "data $c $s $name\\n" "data $s $c Hello, $name!\\n"
    done
    printf '%s\n' "data $c $s exit\\n"
    echo "fin $s $c"
    echo "fin $c $s"
}

# trace_time_wait: which side of each closed connection waits in TIME_WAIT
# (the one that closed first), as the kernel's socket table says once the
# last ACKs have gone (1 s at most).
trace_time_wait() {
    local lines _
    for _ in $(seq 20); do
        [[ -z $(_trace_sockets fin-wait-1 fin-wait-2 closing last-ack) ]] && break
        sleep 0.05
    done
    lines=$(_trace_sockets time-wait)
    [[ -n $lines ]] || return 0
    say "In TIME_WAIT now (the side that closed first keeps the connection's ports for 60 s):"
    printf '%s\n' "$lines"
}

# _trace_sockets STATE...: the exchange's TCP sockets in these states, named.
_trace_sockets() {
    local state filter=()
    for state in "$@"; do
        filter+=(state "$state")
    done
    ss -Htan "${filter[@]}" 2>/dev/null |
        awk -v roles="$TRACE_WORK/roles" '
            BEGIN { while ((getline l < roles) > 0) { split(l, p, "\t"); role[p[1]] = p[2] } }
            { n = split($(NF - 1), a, ":"); m = split($NF, b, ":")
              if (a[n] in role) print "  " role[a[n]] " (" $(NF - 1) "), towards " $NF
              else if (b[m] in role) print "  client (" $(NF - 1) "), towards " role[b[m]] " " $NF }'
}
