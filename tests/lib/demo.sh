#!/usr/bin/env bash
# `make demo`: runs the tutorial end to end on this machine, lesson by lesson
# (tests/demo/NN-name.sh), with the reference programs, or with the
# student's own with LESSONS=1. Local servers on ephemeral ports only; every
# demo stops what it started, also on Ctrl-C.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"

trap 'echo; echo "demo interrupted"; exit 130' INT TERM

main() {
    local which=solutions script lesson failed=()
    [[ ${LESSONS:-} == 1 ]] && which=lessons
    export SOCKSTEP_ROOT
    export DEMO_PROGRAMS_ROOT="$SOCKSTEP_BUILD/$which"
    export DEMO_FIXTURES="$SOCKSTEP_BUILD/fixtures"
    echo "sockstep demo: the tutorial, run with the programs in build/$which/"
    for script in "$SOCKSTEP_ROOT"/tests/demo/[0-9][0-9]-*.sh; do
        [[ -f $script ]] || continue
        lesson=$(basename "$script" .sh)
        if [[ -n ${LESSON:-} ]] && ! LESSON=$LESSON list_lessons 2>/dev/null | grep -qx "$lesson"; then
            continue
        fi
        echo
        echo "== Lesson ${lesson%%-*}: ${lesson#*-}"
        if ! bash "$script"; then
            failed+=("$lesson")
            echo "  (this part of the demo did not finish as expected)"
        fi
    done
    echo
    if ((${#failed[@]} > 0)); then
        echo "demo: ${#failed[@]} part(s) did not work: ${failed[*]}"
        [[ $which == lessons ]] && echo "      run 'make check' to see which step is missing"
        return 1
    fi
    echo "demo: done; nothing left running."
}

main "$@"
