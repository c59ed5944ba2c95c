#!/usr/bin/env bash
# `make progress`: grades every lesson quietly and says which pass, which
# fail, and what to do next.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"
# shellcheck source=tests/lib/bats.sh
source "$here/bats.sh"
# shellcheck source=tests/lib/run.sh
source "$here/run.sh"

main() {
    local lessons lesson results pass fail total first next=""
    find_bats || return 2
    lessons=$(list_lessons) || return 2
    mkdir -p "$SOCKSTEP_BUILD/progress"
    printf '%-24s %-9s %s\n' lesson status "first failing test"
    for lesson in $lessons; do
        results="$SOCKSTEP_BUILD/progress/$lesson.tsv"
        run_lesson_tests "$lesson" "$SOCKSTEP_BUILD/lessons/$lesson" "$results" quiet
        pass=$(count_results "$results" ok)
        fail=$(count_results "$results" fail)
        total=$((pass + fail + $(count_results "$results" skip)))
        first=$(awk -F'\t' '$1 == "fail" { print $3; exit }' "$results")
        if ((fail == 0)); then
            printf '%-24s %-9s\n' "$lesson" "done"
        else
            printf '%-24s %-9s %s\n' "$lesson" "$pass/$total" "$first"
            if [[ -z $next ]]; then
                next="Next: lesson $lesson, '${first%%:*}' of lessons/$lesson/README.md; then: make check LESSON=${lesson%%-*}"
            fi
        fi
    done
    echo
    if [[ -z $next ]]; then
        next="Every lesson passes. Going further: the last section of each lesson's README."
    fi
    echo "$next"
}

main "$@"
