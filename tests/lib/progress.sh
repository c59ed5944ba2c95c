#!/usr/bin/env bash
# `make progress`: every lesson at a glance, from the scores `make check`
# and `make watch` remembered (tests/lib/learner.sh): the last graded score
# and its date, and which lesson is next. It grades nothing itself, so it
# answers at once; a lesson never graded says how to grade it.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"
# shellcheck source=tests/lib/run.sh
source "$here/run.sh"
# shellcheck source=tests/lib/learner.sh
source "$here/learner.sh"

main() {
    local lessons lesson score pass fail skip date next="" status
    lessons=$(list_lessons) || return 2
    printf '%-24s %-12s %s\n' lesson "last score" "graded (UTC)"
    for lesson in $lessons; do
        if score=$(last_score "$lesson"); then
            read -r pass fail skip date <<<"$score"
            if ((fail == 0)); then
                status="done"
            else
                status="$pass/$((pass + fail + skip))"
            fi
            printf '%-24s %-12s %s\n' "$lesson" "$status" "${date/T/ }"
        else
            fail=1
            printf '%-24s %-12s %s\n' "$lesson" "-" "never graded"
        fi
        if ((fail > 0)) && [[ -z $next ]]; then
            next="Next: lesson $lesson (lessons/$lesson/README.md); grade it with: make check LESSON=${lesson%%-*}"
        fi
    done
    echo
    if [[ -z $next ]]; then
        next="Every lesson passed when last graded. Going further: the last section of each lesson's README."
    fi
    echo "$next"
}

main "$@"
