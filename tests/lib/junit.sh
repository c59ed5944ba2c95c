# shellcheck shell=bash
# Writes a JUnit XML report (for autograders and CI) from the result files
# that run_lesson_tests records. Sourced by grade.sh.

xml_escape() {
    # Control bytes other than tab and newline are not allowed in XML 1.0.
    LC_ALL=C tr -d '\000-\010\013\014\016-\037' |
        sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'
}

# write_testsuite RESULTS: one <testsuite> for one lesson's results file.
write_testsuite() {
    local results=$1 suite status seconds name diag tests failures skipped
    suite=$(basename "$results" .tsv)
    suite=${suite#*-}
    tests=$(wc -l <"$results" | tr -d ' ')
    failures=$(count_results "$results" fail)
    skipped=$(count_results "$results" skip)
    printf '  <testsuite name="%s" tests="%s" failures="%s" skipped="%s" errors="0">\n' \
        "$suite" "$tests" "$failures" "$skipped"
    while IFS=$'\t' read -r status seconds name diag; do
        printf '    <testcase classname="%s" name="%s" time="%s"' \
            "$suite" "$(printf '%s' "$name" | xml_escape)" "$seconds"
        case $status in
        ok) printf '/>\n' ;;
        skip)
            printf '>\n      <skipped message="%s"/>\n    </testcase>\n' \
                "$(xml_escape <"$diag" | tr '\n' ' ')"
            ;;
        fail)
            printf '>\n      <failure message="test failed">%s</failure>\n    </testcase>\n' \
                "$( [[ -f $diag ]] && xml_escape <"$diag")"
            ;;
        esac
    done <"$results"
    printf '  </testsuite>\n'
}

write_junit() {
    local file=$1 dir=$2 results
    mkdir -p "$(dirname "$file")"
    {
        printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="sockstep">\n'
        for results in "$dir"/*.tsv; do
            [[ -f $results ]] && write_testsuite "$results"
        done
        printf '</testsuites>\n'
    } >"$file"
}
