#!/usr/bin/env bash
# `make hint LESSON=NN`: prints the next hint of a lesson from its HINTS.md
# (sections "## Hint 1: ...", "## Hint 2: ...", in increasing strength) and
# remembers how many were shown in build/hints/. HINT=N shows hint N (and
# starts counting from there again).
#
# LANG=zh (or a zh_CN locale, e.g. LANG=zh_CN.UTF-8) shows the Chinese hints,
# HINTS.zh-CN.md ("## 提示 1：..."), and falls back to the English ones for
# a lesson that has none yet.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"

# print_hint FILE N: prints section N; fails when there is none.
print_hint() {
    awk -v want="$2" '
        /^## (Hint|提示) [0-9]+/ { n++; showing = (n == want) }
        showing { print; found = 1 }
        END { exit found ? 0 : 1 }' "$1"
}

count_hints() {
    grep -cE '^## (Hint|提示) [0-9]' "$1"
}

# wants_chinese: true when LANG asks for Chinese (zh, zh_CN.UTF-8, zh-CN...).
wants_chinese() {
    [[ ${LANG:-} == zh || ${LANG:-} == zh[_-]* ]]
}

main() {
    local lesson hints state shown next total zh
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
    zh=0
    if wants_chinese; then
        if [[ -f ${hints%.md}.zh-CN.md ]]; then
            hints=${hints%.md}.zh-CN.md
            zh=1
        else
            echo "（第 ${lesson%%-*} 课还没有中文提示，下面是英文提示。）" >&2
        fi
    fi
    state="$SOCKSTEP_BUILD/hints/$lesson"
    mkdir -p "$(dirname "$state")"
    shown=$(cat "$state" 2>/dev/null || echo 0)
    next=$((shown + 1))
    if [[ ${HINT:-} =~ ^[0-9]+$ ]]; then
        next=$HINT
    fi
    total=$(count_hints "$hints")
    if ((zh)); then
        show_chinese "$lesson" "$hints" "$next" "$total"
        return
    fi
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

# show_chinese LESSON FILE N TOTAL: the same as main's English output.
show_chinese() {
    local lesson=$1 hints=$2 next=$3 total=$4
    if ((next > total)); then
        echo "第 ${lesson%%-*} 课（$lesson）的 $total 条提示都已看过。"
        echo "还是卡住了？对照 solutions/$lesson/，或者从头再看：make hint LESSON=$LESSON HINT=1 LANG=zh"
        return 0
    fi
    echo "第 ${lesson%%-*} 课（$lesson），提示 $next / $total："
    echo
    print_hint "$hints" "$next"
    echo "$next" >"$SOCKSTEP_BUILD/hints/$lesson"
    if ((next < total)); then
        echo
        echo "（再运行一次 'make hint LESSON=$LESSON LANG=zh'，看更进一步的提示）"
    fi
}

main "$@"
