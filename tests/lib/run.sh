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

: "${BATS_TEST_TIMEOUT:=60}"
export BATS_TEST_TIMEOUT

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
    diagdir=$(dirname "$results")/$(basename "$results" .tsv).diag
    mkdir -p "$diagdir"
    : >"$results"

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
        "1.."*)
            saw_plan=1
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
            # Diagnostics of the test just reported (bats prints them after it).
            [[ -n $diag_file ]] && printf '%s\n' "${line#"# "}" >>"$diag_file"
            [[ -n $quiet || $status != fail ]] || printf '          %s\n' "${line#"# "}"
            ;;
        *)
            [[ -n $quiet ]] || printf '          %s\n' "$line"
            ;;
        esac
    done < <(
        cd "$(dirname "$file")" &&
            SOCKSTEP_PROGRAMS=$programs \
                SOCKSTEP_FIXTURES=$SOCKSTEP_BUILD/fixtures \
                "$BATS" --tap ${TEST_FILTER:+--filter "$TEST_FILTER"} "$lesson.bats" 2>&1
    )

    if ((saw_plan == 0)); then
        printf 'fail\t0\t%s.bats runs\t\n' "$lesson" >>"$results"
        [[ -n $quiet ]] || echo "  FAIL  ${file#"$SOCKSTEP_ROOT"/} did not run (see above)"
        failed=1
    fi
    return "$failed"
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
