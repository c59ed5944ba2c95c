#!/usr/bin/env bash
# `make watch LESSON=NN`: rebuilds and re-grades one lesson each time one of
# its files is saved, and shows only what to look at: the first failing test
# in full, then the score line. File events come from inotifywait when it is
# installed; otherwise (or with WATCH_POLL=1) the files are looked at once a
# second, which also works where file events do not arrive (WSL's /mnt/c,
# network file systems). Ctrl-C ends it and leaves nothing running: a test
# stops the servers it started, even when interrupted.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"
# shellcheck source=tests/lib/bats.sh
source "$here/bats.sh"
# shellcheck source=tests/lib/run.sh
source "$here/run.sh"
# shellcheck source=tests/lib/learner.sh
source "$here/learner.sh"

# signature DIR: changes whenever a file of DIR changes (content, size or
# time), without relying on file events.
signature() {
    local file
    for file in "$1"/*; do
        [[ -f $file && $file != *.bak ]] || continue
        cksum "$file"
        ls -l --time-style=+%s.%N "$file" 2>/dev/null || ls -l "$file"
    done
}

# wait_for_change DIR SIGNATURE: returns once DIR no longer has SIGNATURE.
wait_for_change() {
    local dir=$1 before=$2
    while [[ $(signature "$dir") == "$before" ]]; do
        if [[ ! -d $dir ]]; then
            echo "make watch: ${dir#"$SOCKSTEP_ROOT"/} is gone; stopping" >&2
            exit 1
        fi
        if ((use_inotify)); then
            # -t 1: even with file events, look again each second (an event
            # may come between the signature and the wait).
            inotifywait -qq -t 1 -e close_write,moved_to,create,delete,attrib "$dir" 2>/dev/null
        else
            sleep 1
        fi
    done
}

# first_failure RESULTS: the name and the whole explanation of the first
# failing test.
first_failure() {
    local status name diag
    while IFS=$'\t' read -r status _ name diag; do
        [[ $status == fail ]] || continue
        echo "FAIL  $name"
        [[ -f $diag ]] && sed 's/^/      /' "$diag"
        return 0
    done <"$1"
}

grade_once() {
    local lesson=$1 results=$2 pass fail skip
    echo "== $(date +%H:%M:%S) building and grading lesson $lesson"
    if ! "${MAKE:-make}" --no-print-directory -k lessons >"$results.build" 2>&1; then
        grep -v '^make' "$results.build" | head -n 40
    elif grep -q 'warning:' "$results.build"; then
        grep -A3 'warning:' "$results.build" | head -n 20
    fi
    run_lesson_tests "$lesson" "$SOCKSTEP_BUILD/lessons/$lesson" "$results" quiet
    record_score "$lesson" "$results"
    pass=$(count_results "$results" ok)
    fail=$(count_results "$results" fail)
    skip=$(count_results "$results" skip)
    first_failure "$results"
    local scope="lesson $lesson"
    [[ -z ${TEST_FILTER:-} ]] || scope+=", tests matching \"$TEST_FILTER\""
    echo "score: $pass passed, $fail failed, $skip skipped of $((pass + fail + skip)) ($scope)"
    if ((fail == 0 && pass > 0)) && [[ -z ${TEST_FILTER:-} ]]; then
        reveal "$lesson"
    fi
}

main() {
    local lesson dir before results
    if [[ -z ${LESSON:-} ]]; then
        echo "usage: make watch LESSON=NN   (lessons: $(lesson_names))" >&2
        return 2
    fi
    lesson=$(list_lessons) || return 2
    if [[ $(wc -l <<<"$lesson") -ne 1 ]]; then
        echo "make watch: LESSON=$LESSON names more than one lesson" >&2
        return 2
    fi
    find_bats || return 2
    dir="$SOCKSTEP_ROOT/lessons/$lesson"
    use_inotify=0
    if [[ ${WATCH_POLL:-} != 1 ]] && command -v inotifywait >/dev/null; then
        use_inotify=1
    fi
    results_dir="$SOCKSTEP_BUILD/watch/run.$$"
    mkdir -p "$results_dir"
    trap 'rm -rf "$results_dir"' EXIT
    trap 'echo; echo "make watch: stopped"; exit 130' INT TERM
    echo "Watching lessons/$lesson/ ($( ((use_inotify)) && echo "file events" || echo "looking once a second")); Ctrl-C to stop."
    while :; do
        before=$(signature "$dir")
        results="$results_dir/$lesson.tsv"
        grade_once "$lesson" "$results"
        echo "-- waiting for a change to lessons/$lesson/"
        wait_for_change "$dir" "$before"
    done
}

main "$@"
