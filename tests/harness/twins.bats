#!/usr/bin/env bats
# Tests of the Chinese edition's tools: the twin check (tests/gates/twins.sh,
# run by `make lint`) passes on the real tree and fails, naming the page and
# the first difference, when an English page changes and its twin does not;
# `make hint LANG=zh` shows the Chinese hints, and the English ones for a
# lesson that has no Chinese hints.

: "${SOCKSTEP_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
load '../lib/common'
load_assertions

TWINS_SH="$SOCKSTEP_ROOT/tests/gates/twins.sh"
OUTLINE_AWK="$SOCKSTEP_ROOT/tests/gates/twins_outline.awk"
HINT_SH="$SOCKSTEP_ROOT/tests/lib/hint.sh"

# lesson_pair: the first lesson README with a Chinese twin, relative to the
# repository (empty when there is none yet).
lesson_pair() {
    local zh
    for zh in "$SOCKSTEP_ROOT"/lessons/*/README.zh-CN.md; do
        if [[ -f $zh ]]; then
            printf '%s\n' "${zh#"$SOCKSTEP_ROOT"/}"
            return 0
        fi
    done
}

# copy_pair DIR: copies one English lesson page and its twin into DIR, and
# prints the English page's path relative to DIR. Before any lesson has a
# twin, the twin is the English page itself with the two links added.
copy_pair() {
    local dir=$1 zh en
    zh=$(lesson_pair)
    if [[ -n $zh ]]; then
        en=${zh%.zh-CN.md}.md
        mkdir -p "$dir/$(dirname "$en")"
        cp "$SOCKSTEP_ROOT/$en" "$dir/$en"
        cp "$SOCKSTEP_ROOT/$zh" "$dir/$zh"
    else
        en=lessons/06-poll-server/README.md
        zh=${en%.md}.zh-CN.md
        mkdir -p "$dir/$(dirname "$en")"
        {
            echo "[中文](README.zh-CN.md)"
            cat "$SOCKSTEP_ROOT/$en"
        } >"$dir/$en"
        {
            echo "[English](README.md)"
            cat "$SOCKSTEP_ROOT/$en"
        } >"$dir/$zh"
    fi
    printf '%s\n' "$en"
}

# first_command PAGE: the first inline command of PAGE that is written on
# one line (so that a plain text substitution can change it).
first_command() {
    local cmd
    while IFS= read -r cmd; do
        if grep -qF "\`$cmd\`" "$1"; then
            printf '%s\n' "$cmd"
            return 0
        fi
    done < <(awk -f "$OUTLINE_AWK" "$1" | awk -F '\t' '$1 == "K" { print $4 }')
    return 1
}

# replace_once FILE OLD NEW: the first OLD in FILE becomes NEW.
replace_once() {
    local text
    text=$(<"$1")
    printf '%s\n' "${text/"$2"/"$3"}" >"$1"
}

# expect_twins_fail DIR TEXT...: the check fails on DIR and its output
# contains every TEXT.
expect_twins_fail() {
    local dir=$1 want
    shift
    run bash "$TWINS_SH" "$dir"
    if [[ $status -eq 0 ]]; then
        {
            echo "ran:      bash tests/gates/twins.sh on a copy with one change"
            echo "expected: a failure naming the page and the difference"
            echo "got:      status 0: $output"
        } | fail
    fi
    for want in "$@"; do
        if [[ $output != *"$want"* ]]; then
            {
                echo "expected in the output: $want"
                echo "got:      $output"
            } | fail
        fi
    done
}

@test "twins: every Chinese page of the repository is in step with its English page" {
    run bash "$TWINS_SH"
    if [[ $status -ne 0 ]]; then
        {
            echo "ran:      bash tests/gates/twins.sh"
            echo "got:      $output"
            echo "likely cause: an English page changed and its .zh-CN.md twin was not updated"
        } | fail
    fi
    assert_output --partial "in step with their English original"
}

@test "twins: an unchanged copy of a lesson and its twin passes" {
    local dir="$BATS_TEST_TMPDIR/tree"
    copy_pair "$dir" >/dev/null
    run bash "$TWINS_SH" "$dir"
    assert_success
    assert_output --partial "twins: 1 page(s) in step"
}

@test "twins: changing one command in an English lesson fails, naming the page and the command" {
    local dir="$BATS_TEST_TMPDIR/tree" en cmd
    en=$(copy_pair "$dir")
    cmd=$(first_command "$dir/$en") || fail "no inline command in $en"
    replace_once "$dir/$en" "\`$cmd\`" "\`$cmd --changed\`"
    expect_twins_fail "$dir" "${en%.md}.zh-CN.md" "commands differ" "$cmd --changed" "the twin has \`$cmd\` there instead"
}

@test "twins: changing a line of a code block fails, naming the page and both lines" {
    local dir="$BATS_TEST_TMPDIR/tree" en line
    en=$(copy_pair "$dir")
    # The first line inside the first fenced block.
    line=$(awk '/^[ \t]*```/ { inside = !inside; if (!inside) exit; next } inside { print; exit }' "$dir/$en")
    [[ -n $line ]] || fail "no code block in $en"
    replace_once "$dir/$en" "$line" "$line changed"
    expect_twins_fail "$dir" "${en%.md}.zh-CN.md" "code blocks differ" "$line changed"
}

@test "twins: an indented code block counts as code, a list's indented text does not" {
    local dir="$BATS_TEST_TMPDIR/tree"
    mkdir -p "$dir/lessons/00-x"
    printf '# X\n\n[中文](README.zh-CN.md)\n\nRun:\n\n    $ make check LESSON=00\n    ok\n\n- a list item\n\n    its second paragraph\n' \
        >"$dir/lessons/00-x/README.md"
    printf '# 甲\n\n[English](README.md)\n\n运行：\n\n    $ make check LESSON=00\n    ok\n\n- 列表项\n\n    第二段\n' \
        >"$dir/lessons/00-x/README.zh-CN.md"
    run bash "$TWINS_SH" "$dir"
    assert_success
    sed -i 's/^    ok$/    FAIL/' "$dir/lessons/00-x/README.md"
    expect_twins_fail "$dir" "code blocks differ" "    FAIL"
}

@test "twins: a new section in an English lesson fails as a structure difference" {
    local dir="$BATS_TEST_TMPDIR/tree" en
    en=$(copy_pair "$dir")
    printf '\n## A section added later\n\nText.\n' >>"$dir/$en"
    expect_twins_fail "$dir" "structure differs" "missing from the twin" "## A section added later"
}

@test "twins: a missing link to the twin, and a twin without its English page, fail" {
    local dir="$BATS_TEST_TMPDIR/tree" en
    en=$(copy_pair "$dir")
    sed -i '/](README.zh-CN.md)/d' "$dir/$en"
    expect_twins_fail "$dir" "$en: no link to its Chinese twin"

    rm -rf "$dir"
    mkdir -p "$dir/docs"
    echo "[English](lost.md)" >"$dir/docs/lost.zh-CN.md"
    expect_twins_fail "$dir" "docs/lost.zh-CN.md: there is no English page docs/lost.md"
}

# fake_lab DIR: a lab with two lessons: 01 has Chinese hints, 02 only English.
fake_lab() {
    local dir=$1
    mkdir -p "$dir/tests" "$dir/lessons/01-one" "$dir/lessons/02-two"
    : >"$dir/tests/01-one.bats"
    : >"$dir/tests/02-two.bats"
    printf '# Hints\n\n## Hint 1: first\n\nEnglish one.\n\n## Hint 2: second\n\nEnglish two.\n' \
        >"$dir/lessons/01-one/HINTS.md"
    printf '# 提示\n\n## 提示 1：第一条\n\n中文一。\n\n## 提示 2：第二条\n\n中文二。\n' \
        >"$dir/lessons/01-one/HINTS.zh-CN.md"
    printf '# Hints\n\n## Hint 1: only\n\nEnglish only.\n' >"$dir/lessons/02-two/HINTS.md"
}

@test "hint: LANG=zh and LANG=zh_CN.UTF-8 show the Chinese hints, one at a time" {
    local dir="$BATS_TEST_TMPDIR/lab"
    fake_lab "$dir"
    SOCKSTEP_ROOT=$dir SOCKSTEP_BUILD=$dir/build LESSON=01 LANG=zh run bash "$HINT_SH"
    assert_success
    assert_output --partial "提示 1：第一条"
    assert_output --partial "中文一。"
    refute_output --partial "English"
    SOCKSTEP_ROOT=$dir SOCKSTEP_BUILD=$dir/build LESSON=01 LANG=zh_CN.UTF-8 run bash "$HINT_SH"
    assert_success
    assert_output --partial "中文二。"
    refute_output --partial "中文一。"
}

@test "hint: without a Chinese locale, and for a lesson without Chinese hints, the English hints" {
    local dir="$BATS_TEST_TMPDIR/lab"
    fake_lab "$dir"
    SOCKSTEP_ROOT=$dir SOCKSTEP_BUILD=$dir/build LESSON=01 LANG=C.UTF-8 run bash "$HINT_SH"
    assert_success
    assert_output --partial "English one."
    SOCKSTEP_ROOT=$dir SOCKSTEP_BUILD=$dir/build LESSON=02 LANG=zh run --separate-stderr bash "$HINT_SH"
    assert_success
    assert_output --partial "English only."
    [[ $stderr == *"还没有中文提示"* ]] || fail "expected a note on stderr that lesson 02 has no Chinese hints; got: $stderr"
}

@test "hint: make hint LANG=zh passes the language through to the real lessons" {
    local zh lesson
    zh=$(compgen -G "$SOCKSTEP_ROOT/lessons/*/HINTS.zh-CN.md" | head -n 1)
    [[ -n $zh ]] || skip "no lesson has Chinese hints yet"
    lesson=$(basename "$(dirname "$zh")")
    run make -s -C "$SOCKSTEP_ROOT" --no-print-directory hint LESSON="${lesson%%-*}" HINT=1 \
        LANG=zh BUILD="$BATS_TEST_TMPDIR/build"
    assert_success
    assert_output --partial "$(grep -m 1 -E '^## 提示 1' "$zh")"
}
