# shellcheck shell=bash
# Writes the reports of one grading run from the result files that
# run_lesson_tests records (one <n>-<lesson>.tsv per lesson: status, seconds,
# test name, diagnostics file). Sourced by grade.sh, after junit.sh.
#
#   SOCKSTEP_REPORTS="FORMAT=FILE[;FORMAT=FILE...]"   which reports to write
#   write_reports RESULTS_DIR                          writes them
#
# Formats (docs/instructors.md describes each):
#   junit       JUnit XML (tests/lib/junit.sh), for CI systems
#   gradescope  Gradescope's results.json
#   tap         TAP version 13
#   json        the lab's own JSON report
#   text        the score table and every failure, as plain text
#   markdown    the score table in Markdown (a CI job summary)
#
# Points: every test is worth its step's weight (1 unless the lesson's bats
# file declares otherwise on a line "# weights: step 3=2 step 4=3"). A lesson
# scores the weights of the tests it passed, out of the weights of the tests
# that ran: a skipped test (a tool missing on this machine) counts for
# neither. Tests named in tests/hidden/<lesson>.bats (hidden tests an
# instructor adds at grading time) are marked hidden in the Gradescope report.

# report_weights LESSON: "step weight" lines from the lesson's "# weights:".
report_weights() {
    local file="$SOCKSTEP_ROOT/tests/$1.bats"
    [[ -f $file ]] || return 0
    grep -m1 -E '^# weights:' "$file" |
        grep -oE 'step +[0-9]+ *= *[0-9]+(\.[0-9]+)?' |
        sed -E 's/step +([0-9]+) *= *([0-9.]+)/\1 \2/'
}

# report_hidden_names LESSON: the names of the lesson's hidden tests.
report_hidden_names() {
    local file="$SOCKSTEP_ROOT/tests/hidden/$1.bats"
    [[ -f $file ]] || return 0
    sed -n -E 's/^@test +"(.*)" *\{ *$/\1/p' "$file"
}

# report_rows RESULTS_DIR: one line per test, TAB-separated:
#   lesson number step weight status seconds hidden name diagfile
report_rows() {
    local dir=$1 results lesson weights hidden
    for results in "$dir"/*.tsv; do
        [[ -f $results ]] || continue
        lesson=$(basename "$results" .tsv)
        lesson=${lesson#*-}
        weights=$(report_weights "$lesson" | tr '\n' ' ')
        hidden=$(report_hidden_names "$lesson" | paste -sd $'\x1f' -)
        awk -F'\t' -v OFS='\t' -v lesson="$lesson" -v weights="$weights" -v hidden="$hidden" '
            BEGIN {
                n = split(weights, w, " ")
                for (i = 1; i + 1 <= n; i += 2) weight[w[i]] = w[i + 1]
                m = split(hidden, h, "\037")
                for (i = 1; i <= m; i++) is_hidden[h[i]] = 1
                number = lesson; sub(/-.*/, "", number); number += 0
            }
            {
                step = 0
                if (match($3, /^step [0-9]+:/)) step = substr($3, 6, RLENGTH - 6) + 0
                wt = (step in weight) ? weight[step] : 1
                print lesson, number, step, wt, $1, $2, ($3 in is_hidden) ? 1 : 0, $3, $4
            }' "$results"
    done
}

# The awk program behind every format but junit. Reads report_rows' lines;
# each test's failure text comes from its diagnostics file.
# shellcheck disable=SC2016 # awk code, single-quoted on purpose
REPORT_AWK='
function jstr(s,    out, i, c) {
    gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s)
    gsub(/\n/, "\\n", s); gsub(/\r/, "\\r", s); gsub(/\t/, "\\t", s)
    gsub(/[\001-\010\013\014\016-\037\177]/, "", s)
    return "\"" s "\""
}
function num(x) { return sprintf("%.10g", x + 0) }
function diag(file,    line, text) {
    text = ""
    if (file == "") return text
    while ((getline line < file) > 0) text = text line "\n"
    close(file)
    return text
}
function pct(s, m) { return m > 0 ? sprintf("%.0f%%", 100 * s / m) : "-" }
function table(md,    i, l, out) {
    if (md) {
        out = "| lesson | score | max | share | passed | failed | skipped |\n"
        out = out "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    } else
        out = sprintf("%-26s %7s %7s %6s %6s %6s %7s\n", "lesson", "score", "max", "share", "passed", "failed", "skipped")
    for (i = 1; i <= nl; i++) {
        l = lessons[i]
        if (md)
            out = out sprintf("| %s | %s | %s | %s | %d | %d | %d |\n", l, num(ls[l]), num(lm[l]), pct(ls[l], lm[l]), lp[l], lf[l], lk[l])
        else
            out = out sprintf("%-26s %7s %7s %6s %6d %6d %7d\n", l, num(ls[l]), num(lm[l]), pct(ls[l], lm[l]), lp[l], lf[l], lk[l])
    }
    if (md)
        out = out sprintf("| **total** | **%s** | **%s** | **%s** | %d | %d | %d |\n", num(S), num(M), pct(S, M), P, F, K)
    else
        out = out sprintf("%-26s %7s %7s %6s %6d %6d %7d\n", "total", num(S), num(M), pct(S, M), P, F, K)
    return out
}
BEGIN { FS = "\t" }
{
    n++
    les[n] = $1; lnum[n] = $2; step[n] = $3; wt[n] = $4; st[n] = $5
    sec[n] = $6; hid[n] = $7; name[n] = $8; dfile[n] = $9
    if (!($1 in seen)) { seen[$1] = 1; lessons[++nl] = $1 }
    lsec[$1] += $6; T += $6
    if ($5 == "skip") { lk[$1]++; K++; pts[n] = 0; max[n] = 0 }
    else {
        max[n] = $4; lm[$1] += $4; M += $4
        if ($5 == "ok") { lp[$1]++; P++; pts[n] = $4; ls[$1] += $4; S += $4 }
        else { lf[$1]++; F++; pts[n] = 0 }
    }
}
END {
    if (format == "text") {
        printf "%s", table(0)
        for (i = 1; i <= n; i++) if (st[i] == "fail") {
            printf "\nFAIL  %s: %s\n", les[i], name[i]
            t = diag(dfile[i]); gsub(/\n/, "\n      ", t); sub(/ *$/, "", t)
            if (t != "") printf "      %s", t
        }
        printf "\n%d passed, %d failed, %d skipped; score %s of %s\n", P, F, K, num(S), num(M)
    } else if (format == "markdown") {
        printf "### sockstep: %s of %s (%s)\n\n%s", num(S), num(M), pct(S, M), table(1)
        for (i = 1; i <= n; i++) if (st[i] == "fail") {
            if (!shown++) printf "\nFailed tests:\n\n"
            printf "- %s: %s\n", les[i], name[i]
        }
    } else if (format == "tap") {
        printf "TAP version 13\n1..%d\n", n
        for (i = 1; i <= n; i++) {
            printf "%s %d - %s: %s", (st[i] == "fail" ? "not ok" : "ok"), i, les[i], name[i]
            if (st[i] == "skip") { t = diag(dfile[i]); gsub(/\n/, " ", t); printf " # SKIP %s", t }
            printf "\n"
            if (st[i] == "fail") {
                printf "  ---\n  lesson: %s\n  step: %d\n  weight: %s\n  seconds: %s\n  message: |\n", les[i], step[i], num(wt[i]), num(sec[i])
                t = diag(dfile[i]); if (t == "") t = "test failed\n"
                gsub(/\n/, "\n    ", t); sub(/ *$/, "", t)
                printf "    %s  ...\n", t
            }
        }
    } else if (format == "gradescope") {
        printf "{\n  \"score\": %s,\n  \"max_score\": %s,\n  \"execution_time\": %d,\n", num(S), num(M), T + 0.5
        printf "  \"output\": %s,\n  \"visibility\": \"visible\",\n  \"stdout_visibility\": \"hidden\",\n  \"tests\": [", jstr(table(0))
        for (i = 1; i <= n; i++) {
            t = (st[i] == "skip") ? "skipped: " diag(dfile[i]) : diag(dfile[i])
            printf "%s\n    {\"name\": %s, \"number\": \"%d.%d\", \"score\": %s, \"max_score\": %s, \"status\": \"%s\", \"output\": %s, \"visibility\": \"%s\"}", \
                (i > 1 ? "," : ""), jstr(les[i] ": " name[i]), lnum[i], step[i], num(pts[i]), num(max[i]), \
                (st[i] == "fail" ? "failed" : "passed"), jstr(t), (hid[i] ? hidden_visibility : "visible")
        }
        printf "\n  ]\n}\n"
    } else if (format == "json") {
        printf "{\n  \"format\": \"sockstep-report\",\n  \"version\": 1,\n"
        printf "  \"score\": %s,\n  \"max_score\": %s,\n  \"passed\": %d,\n  \"failed\": %d,\n  \"skipped\": %d,\n  \"seconds\": %s,\n  \"lessons\": [", num(S), num(M), P, F, K, num(T)
        for (j = 1; j <= nl; j++) {
            l = lessons[j]
            printf "%s\n    {\"lesson\": %s, \"score\": %s, \"max_score\": %s, \"passed\": %d, \"failed\": %d, \"skipped\": %d, \"seconds\": %s, \"tests\": [", \
                (j > 1 ? "," : ""), jstr(l), num(ls[l]), num(lm[l]), lp[l] + 0, lf[l] + 0, lk[l] + 0, num(lsec[l])
            first = 1
            for (i = 1; i <= n; i++) if (les[i] == l) {
                printf "%s\n      {\"name\": %s, \"step\": %d, \"weight\": %s, \"status\": \"%s\", \"score\": %s, \"max_score\": %s, \"seconds\": %s, \"hidden\": %s, \"output\": %s}", \
                    (first ? "" : ","), jstr(name[i]), step[i], num(wt[i]), st[i], num(pts[i]), num(max[i]), num(sec[i]), (hid[i] ? "true" : "false"), jstr(diag(dfile[i]))
                first = 0
            }
            printf "\n    ]}"
        }
        printf "\n  ]\n}\n"
    }
}'

# write_report FORMAT FILE RESULTS_DIR
write_report() {
    local format=$1 file=$2 dir=$3
    mkdir -p "$(dirname "$file")" || return 1
    case $format in
    junit) write_junit "$file" "$dir" ;;
    gradescope | tap | json | text | markdown)
        report_rows "$dir" |
            awk -v format="$format" -v hidden_visibility="${GRADESCOPE_HIDDEN_VISIBILITY:-after_published}" \
                "$REPORT_AWK" |
            # Test output may hold any bytes: keep the report valid UTF-8.
            iconv -f UTF-8 -t UTF-8 -c >"$file"
        ;;
    *)
        echo "sockstep: unknown report format '$format' (junit, gradescope, tap, json, text, markdown)" >&2
        return 2
        ;;
    esac
}

# write_reports RESULTS_DIR: every report SOCKSTEP_REPORTS asks for.
write_reports() {
    local dir=$1 entry format file status=0
    local IFS=';'
    for entry in ${SOCKSTEP_REPORTS:-}; do
        [[ $entry == *=* ]] || continue
        format=${entry%%=*}
        file=${entry#*=}
        if write_report "$format" "$file" "$dir"; then
            echo "$format report: ${file#"$SOCKSTEP_ROOT"/}"
        else
            status=1
        fi
    done
    return "$status"
}
