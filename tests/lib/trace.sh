#!/usr/bin/env bash
# `make trace LESSON=NN [SOLUTIONS=1] [SCENARIO=name]`: runs a lesson's
# exchange (tests/trace/NN-name.sh) with the student's program (build/lessons)
# or the reference (SOLUTIONS=1), captures every packet with tcpdump, and
# prints a timeline a beginner can read. It also writes, in build/trace/NN/
# (build/trace/NN/SCENARIO/ for a scenario):
#   trace.pcap   the capture (open it in Wireshark)
#   trace.md     the same exchange as a Mermaid sequence diagram
#   trace.txt    the timeline as printed
#   events.tsv   one line per packet (tests/lib/trace_decode.awk says which)
#
# The capture never touches the host's network when the kernel allows: the
# exchange runs in a private network namespace with its own loopback, made
# with a user namespace (no root needed), else with root's `unshare --net`,
# else on the host's loopback with a filter on the exchange's ports.
#
# Environment:
#   LESSON, SOLUTIONS, SCENARIO   as above
#   TRACE_METHOD   auto (default), userns, root or host: force one way
#   TRACE_DIR      where the results go (default build/trace)
#
#   bash tests/lib/trace.sh --probe   prints the capture method that works
#                                     here, or why none does (exit 1)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"

USAGE="usage: make trace LESSON=NN [SOLUTIONS=1] [SCENARIO=name]"

die() {
    printf 'trace: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- capture

# The namespaces: network (a loopback of its own), pid and mount (a /proc of
# its own: when the exchange ends, the kernel ends whatever it left).
namespace_command() {
    case $1 in
    userns)
        # No user is mapped into the namespace, so everyone is "nobody"
        # there: tcpdump, which gives up its rights when it runs as root,
        # keeps the capabilities the namespace grants (--keep-caps).
        NAMESPACE=(unshare --user --net --pid --fork --mount --mount-proc --keep-caps)
        ;;
    root) NAMESPACE=(unshare --net --pid --fork --mount --mount-proc) ;;
    host) NAMESPACE=() ;;
    esac
}

# probe METHOD: true when METHOD can capture here; else PROBLEM says why.
probe() {
    local out
    namespace_command "$1"
    case $1 in
    userns | root)
        if ! command -v unshare >/dev/null; then
            PROBLEM="unshare is not installed (Debian: util-linux)"
            return 1
        fi
        if [[ $1 == root ]] && (($(id -u) != 0)); then
            PROBLEM="not root"
            return 1
        fi
        if ! out=$("${NAMESPACE[@]}" ip link set lo up 2>&1); then
            PROBLEM=${out:-"${NAMESPACE[*]} failed"}
            return 1
        fi
        ;;
    host)
        if ! out=$(tcpdump -i lo -d tcp 2>&1 >/dev/null); then
            PROBLEM=$(head -n 1 <<<"$out")
            return 1
        fi
        ;;
    esac
}

# choose_method: sets METHOD to the first way that works, or explains and
# fails.
choose_method() {
    local wanted=${TRACE_METHOD:-auto} m problems=()
    if ! command -v tcpdump >/dev/null; then
        die "tcpdump is not installed: it captures the packets (Debian/Ubuntu: sudo apt-get install tcpdump)"
    fi
    if ! command -v ip >/dev/null; then
        die "ip is not installed: it brings up the namespace's loopback (Debian/Ubuntu: sudo apt-get install iproute2)"
    fi
    case $wanted in
    auto) set -- userns root host ;;
    userns | root | host) set -- "$wanted" ;;
    *) die "TRACE_METHOD=$wanted: use auto, userns, root or host" ;;
    esac
    for m in "$@"; do
        if probe "$m"; then
            METHOD=$m
            return 0
        fi
        problems+=("$(describe_method "$m"): $PROBLEM")
    done
    {
        echo "trace: cannot capture packets on this machine:"
        printf '  - %s\n' "${problems[@]}"
        echo "  Any one of these makes it work:"
        echo "  - allow user namespaces: sudo sysctl -w kernel.unprivileged_userns_clone=1"
        echo "    (Ubuntu 24.04 and later also: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0)"
        echo "  - run it as root: sudo make trace LESSON=${LESSON:-NN}"
        echo "  - let tcpdump capture without root: sudo setcap cap_net_raw,cap_net_admin=eip $(command -v tcpdump)"
    } >&2
    exit 1
}

describe_method() {
    case $1 in
    userns) echo "in a private network namespace, in a user namespace (unshare --user --net)" ;;
    root) echo "in a private network namespace made by root (unshare --net)" ;;
    host) echo "on the host's loopback, only the exchange's ports (tcpdump -i lo)" ;;
    esac
}

# tcpdump_command: tcpdump, told to stay root where it runs as the real root
# (else it would hand the capture file to its own user).
tcpdump_command() {
    if [[ $METHOD != userns ]] && (($(id -u) == 0)); then
        echo "tcpdump -Z root"
    else
        echo tcpdump
    fi
}

# ------------------------------------------------------------ the exchange

# scenario_function PREFIX: exchange_NAME or expect_NAME for $SCENARIO.
scenario_function() {
    local name=${SCENARIO:-default}
    printf '%s_%s\n' "$1" "${name//-/_}"
}

# list_scenarios FILE: "NAME - what it shows" lines of an exchange file.
list_scenarios() {
    sed -n 's/^# scenarios*: *//p' "$1"
}

# trace_stopped FILE LINE: says where the exchange stopped (once).
trace_stopped() {
    [[ -z ${TRACE_STOPPED:-} ]] || return 0
    TRACE_STOPPED=1
    echo "trace: the exchange stopped at ${1#"$SOCKSTEP_ROOT"/}, line $2" >&2
}

# Runs inside the namespace (or on the host): the exchange, with tcpdump.
inside() {
    set -euo pipefail
    if [[ $TRACE_METHOD_USED != host ]]; then
        ip link set lo up
    fi
    # shellcheck source=tests/demo/lib.sh
    source "$SOCKSTEP_ROOT/tests/demo/lib.sh"
    # shellcheck disable=SC2034 # read by tests/demo/lib.sh's demo_program
    DEMO_LESSON=$TRACE_LESSON
    # shellcheck source=tests/trace/lib.sh
    source "$SOCKSTEP_ROOT/tests/trace/lib.sh"
    # shellcheck disable=SC1090 # the lesson's exchange
    source "$TRACE_EXCHANGE"
    trap 'trace_capture_stop; demo_cleanup' EXIT
    set -E
    trap 'trace_stopped "${BASH_SOURCE[0]}" "$LINENO"' ERR
    "$TRACE_FUNCTION"
    if [[ -z $TRACE_TCPDUMP_PID ]]; then
        echo "trace: $TRACE_EXCHANGE never started the capture (trace_capture)" >&2
        exit 1
    fi
    trace_capture_stop
}

# ---------------------------------------------------------------- results

decode() {
    tcpdump -nn -tt -S -X -r "$1/trace.pcap" 2>/dev/null |
        LC_ALL=C awk -v roles="$2" -f "$here/trace_decode.awk" >"$1/events.tsv"
}

render() {
    LC_ALL=C awk -v mode="$1" -v title="${3:-}" -f "$here/trace_render.awk" "$2" "$2"
}

main() {
    local lesson nn which programs out work exchange status=0 function dropped

    if [[ ${1:-} == --inside ]]; then
        inside
        return
    fi
    if [[ ${1:-} == --probe ]]; then
        choose_method
        echo "$METHOD: $(describe_method "$METHOD")"
        return 0
    fi
    if [[ -z ${LESSON:-} ]]; then
        echo "$USAGE   (lessons: $(lesson_names))" >&2
        return 2
    fi
    lesson=$(list_lessons) || return 2
    if [[ $(wc -l <<<"$lesson") -ne 1 ]]; then
        echo "trace: LESSON=$LESSON names more than one lesson" >&2
        return 2
    fi
    exchange="$SOCKSTEP_ROOT/tests/trace/$lesson.sh"
    [[ -f $exchange ]] || die "lesson $lesson has no exchange to trace yet (tests/trace/$lesson.sh)"
    function=$(scenario_function exchange)
    if ! grep -q "^$function()" "$exchange"; then
        {
            echo "trace: lesson $lesson has no scenario '${SCENARIO:-}'; its scenarios:"
            list_scenarios "$exchange" | sed 's/^/  /'
        } >&2
        return 2
    fi

    which=lessons
    [[ ${SOLUTIONS:-} == 1 ]] && which=solutions
    programs="$SOCKSTEP_BUILD/$which/$lesson"
    [[ -d $programs ]] || die "the programs of $lesson are not built in ${programs#"$SOCKSTEP_ROOT"/} (run make)"

    choose_method
    nn=${lesson%%-*}
    out="${TRACE_DIR:-$SOCKSTEP_BUILD/trace}/$nn${SCENARIO:+/$SCENARIO}"
    mkdir -p "$out" || die "cannot create $out"
    rm -f "$out/trace.pcap" "$out/trace.md" "$out/trace.txt" "$out/events.tsv"
    work=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-trace.XXXXXX") || die "cannot create a scratch folder"
    # shellcheck disable=SC2064 # the folder is known now
    trap "rm -rf '$work'" EXIT
    : >"$work/roles"

    echo "Lesson $nn ($lesson)${SCENARIO:+, scenario $SCENARIO}: the programs of build/$which/"
    echo "Captured $(describe_method "$METHOD")."
    echo
    namespace_command "$METHOD"
    (
        TRACE_TCPDUMP=$(tcpdump_command)
        export TRACE_TCPDUMP TRACE_METHOD_USED=$METHOD TRACE_LESSON=$lesson TRACE_EXCHANGE=$exchange \
            TRACE_FUNCTION=$function TRACE_WORK=$work TRACE_PCAP="$out/trace.pcap" \
            TRACE_VARIANTS="$SOCKSTEP_BUILD/trace/variants/$lesson" \
            DEMO_PROGRAMS_ROOT="$SOCKSTEP_BUILD/$which" DEMO_FIXTURES="$SOCKSTEP_BUILD/fixtures" \
            SOCKSTEP_ROOT SOCKSTEP_BUILD
        exec "${NAMESPACE[@]}" bash "$here/trace.sh" --inside
    ) || status=$?

    if [[ ! -s $out/trace.pcap ]]; then
        echo "trace: nothing was captured: the exchange stopped before it began" >&2
        if [[ $which == lessons ]]; then
            echo "       (is your program complete? 'make check LESSON=$nn' says which step is missing)" >&2
        fi
        return 1
    fi
    decode "$out" "$work/roles"
    echo
    render timeline "$out/events.tsv" | tee "$out/trace.txt"
    # In a namespace every packet is the exchange's; on the host's loopback
    # tcpdump also counts others' packets it dropped before its filter was in.
    if [[ $METHOD != host ]]; then
        dropped=$(sed -n 's/^\([0-9]*\) packets* dropped by kernel$/\1/p' "$work/tcpdump.log")
    fi
    render mermaid "$out/events.tsv" "Lesson $nn on the wire${SCENARIO:+: $SCENARIO}" >"$out/trace.md"
    echo
    echo "Saved: ${out#"$SOCKSTEP_ROOT"/}/trace.pcap (open it in Wireshark),"
    echo "       ${out#"$SOCKSTEP_ROOT"/}/trace.md (the same as a Mermaid sequence diagram)."
    if ((${dropped:-0} > 0)); then
        echo "trace: the kernel dropped $dropped packet(s) before tcpdump could read them (a busy machine?): the timeline misses them; run it again" >&2
        return 1
    fi
    if ((status != 0)); then
        echo "trace: the exchange did not go as the lesson expects (status $status): see its output above" >&2
        return 1
    fi
}

main "$@"
