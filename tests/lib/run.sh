# shellcheck shell=bash
# Runs one lesson's bats file against one folder of programs, shows each test
# as it runs, and records the results. Sourced by grade.sh, selftest.sh and
# progress.sh (after lessons.sh and bats.sh).
#
#   run_lesson_tests LESSON PROGRAMS_DIR RESULTS [quiet]
#
# RESULTS is a file that receives one line per test:
#   <ok|fail|skip> TAB <seconds> TAB <test name> TAB <diagnostics file>
# Returns 0 when no test failed. With TEST_FILTER set (a regular expression),
# only the tests whose names match it run.
#
# A run that did not test what it planned is a failure, recorded as a row
# whose name starts with "the test run: " (see run_failures): bats printed no
# plan, planned N tests and reported fewer (it stopped early, or could not
# run them), found no test at all, or skipped every test.

: "${BATS_TEST_TIMEOUT:=60}"
export BATS_TEST_TIMEOUT

# The line that follows bats's output when bats has exited. The reading stops
# there, not at the end of the pipe: bats can leave its timeout countdown (a
# `sleep BATS_TEST_TIMEOUT`) behind after a test that ends at once, and that
# process holds the pipe open until it ends.
RUN_END_MARK="sockstep-run: bats exited"

now() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        printf '%s\n' "${EPOCHREALTIME/,/.}"
    else
        date +%s
    fi
}

elapsed() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'
}

run_lesson_tests() {
    run_bats_file "$SOCKSTEP_ROOT/tests/$1.bats" "${@:2}"
}

# run_bats_file FILE PROGRAMS_DIR RESULTS [quiet]: as run_lesson_tests, for
# any bats file (the lab's own tool tests in tests/harness/ too).
run_bats_file() {
    local file=$1 programs=$2 results=$3 quiet=${4:-}
    local lesson
    lesson=$(basename "$file" .bats)
    local diagdir line status="" name diag="" diag_file="" started finished failed=0 saw_plan=0
    local planned=0 other traced=""
    diagdir=$(dirname "$results")/$(basename "$results" .tsv).diag
    mkdir -p "$diagdir"
    : >"$results"
    # What bats printed that is not TAP (errors), to explain an incomplete run.
    other="$diagdir/other.txt"
    : >"$other"

    if [[ ! -d $programs ]]; then
        echo "  programs not built: ${programs#"$SOCKSTEP_ROOT"/} (run make)" >&2
        printf 'fail\t0\tthe programs are built\t\n' >>"$results"
        return 1
    fi

    started=$(now)
    # The bats process group is ours to stop on Ctrl-C: tests stop their own
    # servers in teardown, which bats runs on SIGINT too.
    while IFS= read -r line; do
        case $line in
        "$RUN_END_MARK "*)
            # bats has exited: what it left running may hold the pipe open.
            break
            ;;
        "1.."*)
            saw_plan=1
            planned=${line#1..}
            [[ $planned =~ ^[0-9]+$ ]] || planned=0
            ;;
        "ok "* | "not ok "*)
            finished=$(now)
            if [[ $line == "not ok "* ]]; then
                status=fail
                name=${line#not ok }
            else
                status=ok
                name=${line#ok }
            fi
            name=${name#* }
            if [[ $name == *" # skip"* ]]; then
                status=skip
                diag="${name#* # skip}"
                diag=${diag# }
                name=${name%% # skip*}
            fi
            diag_file="$diagdir/$(printf '%03d' "$(wc -l <"$results")").txt"
            if [[ $status == skip ]]; then
                printf '%s\n' "${diag:-skipped}" >"$diag_file"
            else
                : >"$diag_file"
            fi
            printf '%s\t%s\t%s\t%s\n' "$status" "$(elapsed "$started" "$finished")" \
                "$name" "$diag_file" >>"$results"
            started=$finished
            [[ $status == fail ]] && failed=1
            [[ -n $quiet ]] || show_result "$status" "$name" "$diag"
            diag=""
            ;;
        "#"*)
            # Diagnostics of the test just reported (bats prints them after it),
            # without bats' stack trace: a helper of tests/lib says what was
            # sent, expected and got, and the likely cause.
            line=${line#"#"}
            line=${line# }
            if is_trace_line "$line" "$traced"; then
                [[ $line == *"from function "* ]] && traced=helper
                continue
            fi
            traced=""
            [[ -n $diag_file ]] && printf '%s\n' "$line" >>"$diag_file"
            [[ -n $quiet || $status != fail ]] || printf '          %s\n' "$line"
            ;;
        *)
            printf '%s\n' "$line" >>"$other"
            [[ -n $quiet ]] || printf '          %s\n' "$line"
            ;;
        esac
    done < <(
        cd "$(dirname "$file")" &&
            SOCKSTEP_PROGRAMS=$programs \
                SOCKSTEP_FIXTURES=$SOCKSTEP_BUILD/fixtures \
                "$BATS" --tap ${TEST_FILTER:+--filter "$TEST_FILTER"} "$lesson.bats" 2>&1
        echo "$RUN_END_MARK $?"
    )

    if ((saw_plan == 0)); then
        printf 'fail\t0\t%s.bats runs\t\n' "$lesson" >>"$results"
        [[ -n $quiet ]] || echo "  FAIL  ${file#"$SOCKSTEP_ROOT"/} did not run (see above)"
        failed=1
    fi
    check_run_complete "$file" "$saw_plan" "$planned" "$results" "$other" "$quiet" || failed=1
    return "$failed"
}

# check_run_complete FILE SAW_PLAN PLANNED RESULTS OTHER QUIET: a run that
# planned N tests must report N results, and must plan at least one.
check_run_complete() {
    local file=$1 saw_plan=$2 planned=$3 results=$4 other=$5 quiet=$6 reported why detail="" diag
    ((saw_plan == 1)) || return 0
    reported=$(wc -l <"$results" | tr -d ' ')
    if ((reported < planned)); then
        why="bats planned $planned tests and reported $reported"
        detail="the $((planned - reported)) tests that did not report did not run"
    elif ((planned == 0)); then
        why="bats found no test to run"
        [[ -z ${TEST_FILTER:-} ]] || why+=" (none matches TEST_FILTER='$TEST_FILTER')"
    elif [[ $(count_results "$results" skip) == "$reported" ]]; then
        why="every test was skipped ($reported): nothing was tested"
        detail="the reasons are in the skip lines"
    else
        return 0
    fi
    diag="$(dirname "$other")/run.txt"
    {
        echo "$why${detail:+: $detail}"
        if [[ -s $other ]]; then
            echo "bats said:"
            sort "$other" | uniq -c | sort -rn | head -n 5 | sed 's/^ *\([0-9]*\) /  (x\1) /'
        fi
    } >"$diag"
    printf 'fail\t0\tthe test run: %s\t%s\n' "$why" "$diag" >>"$results"
    [[ -n $quiet ]] || {
        echo "  FAIL  ${file#"$SOCKSTEP_ROOT"/}: $why"
        sed -n '2,$p' "$diag" | sed 's/^/          /'
    }
    return 1
}

# run_failures RESULTS: the rows (names) that say the run itself went wrong
# (no programs, no plan, fewer results than planned, no test, every test
# skipped), not a test.
run_failures() {
    awk -F'\t' '$1 == "fail" && ($3 ~ /^the test run: / || $3 ~ /\.bats runs$/ ||
        $3 == "the programs are built") { print $3 }' "$1"
}

# is_trace_line LINE TRACED: whether LINE is part of bats' stack trace (the
# "(from function ... in file ...)" lines, and, after a trace through a
# helper (TRACED=helper), the "`command' failed" line: the helper said what
# was sent, expected and got).
is_trace_line() {
    local text=${1#"${1%%[! ]*}"}
    case $text in
    "(from function "* | "from function "* | "(in test file "* | "in test file "*) return 0 ;;
    "\`"*"' failed" | "\`"*"' failed with status "*) [[ $2 == helper ]] ;;
    *) return 1 ;;
    esac
}

show_result() {
    case $1 in
    ok) printf '  ok    %s\n' "$2" ;;
    fail) printf '  FAIL  %s\n' "$2" ;;
    skip) printf '  skip  %s (%s)\n' "$2" "${3:-skipped}" ;;
    esac
}

# count_results RESULTS STATUS
count_results() {
    local n
    n=$(cut -f1 "$1" | grep -cx "$2") || true
    printf '%s\n' "${n:-0}"
}

# skip_summary RESULTS...: one line "N skipped: REASON (n), REASON (n)" over
# the given result files, each distinct reason once, the commonest first;
# nothing when no test was skipped.
skip_summary() {
    local reasons
    reasons=$(awk -F'\t' '$1 == "skip" { print $4 }' "$@" |
        while IFS= read -r diag; do
            if [[ -s $diag ]]; then head -n 1 "$diag"; else echo skipped; fi
        done | sort | uniq -c | sort -k1,1rn -k2 |
        awk '{ n = $1; sub(/^ *[0-9]+ /, ""); total += n
               list = list (list == "" ? "" : ", ") $0 " (" n ")" }
             END { if (total) print total " skipped: " list }')
    [[ -z $reasons ]] || printf '%s\n' "$reasons"
}
