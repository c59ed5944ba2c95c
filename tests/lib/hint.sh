#!/usr/bin/env bash
# `make hint LESSON=NN`: prints the next hint of a lesson from its HINTS.md
# (sections "## Hint 1: ...", "## Hint 2: ...", in increasing strength) and
# remembers how many were shown in build/hints/. HINT=N shows hint N (and
# starts counting from there again).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"

# print_hint FILE N: prints section N; fails when there is none.
print_hint() {
    awk -v want="$2" '
        /^## Hint [0-9]+/ { n++; showing = (n == want) }
        showing { print; found = 1 }
        END { exit found ? 0 : 1 }' "$1"
}

count_hints() {
    grep -c '^## Hint [0-9]' "$1"
}

main() {
    local lesson hints state shown next total
    if [[ -z ${LESSON:-} ]]; then
        echo "usage: make hint LESSON=NN   (lessons: $(lesson_names))" >&2
        return 2
    fi
    lesson=$(list_lessons) || return 2
    if [[ $(wc -l <<<"$lesson") -ne 1 ]]; then
        echo "make hint: LESSON=$LESSON names more than one lesson" >&2
        return 2
    fi
    hints="$SOCKSTEP_ROOT/lessons/$lesson/HINTS.md"
    if [[ ! -f $hints ]]; then
        echo "make hint: lesson $lesson has no HINTS.md yet" >&2
        return 1
    fi
    state="$SOCKSTEP_BUILD/hints/$lesson"
    mkdir -p "$(dirname "$state")"
    shown=$(cat "$state" 2>/dev/null || echo 0)
    next=$((shown + 1))
    if [[ ${HINT:-} =~ ^[0-9]+$ ]]; then
        next=$HINT
    fi
    total=$(count_hints "$hints")
    if ((next > total)); then
        echo "You have seen all $total hints of lesson $lesson."
        echo "Still stuck? Compare with solutions/$lesson/, or start over with: make hint LESSON=$LESSON HINT=1"
        return 0
    fi
    echo "Lesson $lesson, hint $next of $total:"
    echo
    print_hint "$hints" "$next"
    echo "$next" >"$state"
    if ((next < total)); then
        echo
        echo "(run 'make hint LESSON=$LESSON' again for a stronger hint)"
    fi
}

main "$@"
