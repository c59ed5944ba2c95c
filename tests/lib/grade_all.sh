#!/usr/bin/env bash
# grade_all.sh: `make grade-all SUBMISSIONS=DIR [JOBS=N] [LESSON=NN] [FORCE=1]`
# grades every subfolder of DIR (one student each: a repository, or a folder
# of .c files) in a copy of the lab of its own, several at once, each one
# isolated and under limits, and writes
#
#   build/grade-all/results.csv              one row per student and lesson
#   build/grade-all/<student>/report.txt     score table and failures
#   build/grade-all/<student>/report.xml     JUnit
#   build/grade-all/<student>/report.json    the lab's JSON report
#   build/grade-all/<student>/log.txt        the whole grading log (cut at 1 MiB)
#
# CSV columns: student,lesson,score,max,passed,failed,skipped,status,seconds,reason
# with status ok | build-failed | timeout | crashed | limit. A student whose
# files did not change since the last run is not graded again (FORCE=1
# regrades everyone).
#
# Isolation. As root (what a lab machine or container should use), each
# submission runs as a user id of its own (GRADE_UID_BASE + slot, a numeric
# id with no login, so one student's process limit is not another's), in new
# network, mount and PID namespaces (its own loopback, so a port it holds is
# its own; a private /tmp; every process it leaves is killed with the
# namespace), in a session of its own, in a copy of the lab that it can only
# write in lessons/ and build/. Without root but with unprivileged user
# namespaces: as you, in user, network, mount and PID namespaces, the machine
# read-only to it but its copy's lessons/, build/, home and tmp. With
# neither: the same copy, a session of its own and the limits, as you, with
# no namespaces: use a container or a throwaway virtual machine for code you
# do not trust.
#
# Limits (environment; docs/instructors.md explains each):
#   GRADE_SECONDS=900        wall time of one submission, build and all tests
#   GRADE_TEST_SECONDS=60    wall time of one test
#   GRADE_CPU_SECONDS=300    CPU seconds of any one process
#   GRADE_PROCESSES=1024     processes and threads of one submission
#   GRADE_MEMORY_MB=4096     address space of any one process
#   GRADE_FILE_MB=64         size of any one file it writes
#   GRADE_OPEN_FILES=65536   hard open-file limit (the soft one is 1024)
#   GRADE_TMP_MB=512         size of its private /tmp
# Other settings: JOBS (default: number of cores), LESSON, FORCE=1,
# HIDDEN_TESTS=DIR (extra bats files), GRADE_ALL_OUT (output folder),
# GRADE_UID_BASE=64000, GRADE_ISOLATION=auto|none.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"
# shellcheck source=tests/lib/submission.sh
source "$here/submission.sh"

: "${GRADE_SECONDS:=900}" "${GRADE_TEST_SECONDS:=60}" "${GRADE_CPU_SECONDS:=300}"
: "${GRADE_PROCESSES:=1024}" "${GRADE_MEMORY_MB:=4096}" "${GRADE_FILE_MB:=64}"
: "${GRADE_OPEN_FILES:=65536}" "${GRADE_TMP_MB:=512}" "${GRADE_UID_BASE:=64000}"
: "${GRADE_ISOLATION:=auto}"
export GRADE_SECONDS GRADE_TEST_SECONDS GRADE_CPU_SECONDS GRADE_PROCESSES \
    GRADE_MEMORY_MB GRADE_FILE_MB GRADE_OPEN_FILES GRADE_TMP_MB

out=${GRADE_ALL_OUT:-$SOCKSTEP_BUILD/grade-all}
LOG_LIMIT=1048576

die() {
    echo "grade-all: $*" >&2
    exit 2
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# csv_field TEXT: TEXT as one CSV field (quoted when it needs to be).
csv_field() {
    local text=${1//$'\n'/ }
    if [[ $text == *[,\"]* ]]; then
        text=${text//\"/\"\"}
        printf '"%s"' "$text"
    else
        printf '%s' "$text"
    fi
}

csv_row() {
    local IFS=,
    local fields=() field
    for field in "$@"; do fields+=("$(csv_field "$field")"); done
    printf '%s\n' "${fields[*]}"
}

# ----------------------------------------------------------- the isolation

# isolation: "namespaces" (root, unshare works), "user" (root, no
# namespaces), "userns" (not root, but unprivileged user namespaces work) or
# "none".
isolation() {
    if [[ $GRADE_ISOLATION == none ]]; then
        echo none
    elif [[ $(id -u) != 0 ]]; then
        if unshare --user --map-root-user --net --mount --pid --fork --kill-child true 2>/dev/null; then
            echo userns
        else
            echo none
        fi
    elif unshare --net --mount --pid --fork --kill-child true 2>/dev/null; then
        echo namespaces
    else
        echo user
    fi
}

# as_root_mode: whether the isolation runs the submission under a user id
# of its own (the modes that need root).
as_root_mode() {
    [[ $mode == namespaces || $mode == user ]]
}

# uid_processes UID: the process ids of UID.
uid_processes() {
    ps -e -o uid=,pid= 2>/dev/null | awk -v u="$1" '$1 == u { print $2 }'
}

# kill_all LISTER ARG: kills every process `LISTER ARG` prints, in rounds
# (a fork bomb forks between two of them); prints how many there were.
kill_all() {
    local pids round n=0
    for round in 1 2 3 4 5 6 7 8 9 10; do
        mapfile -t pids < <("$1" "$2")
        ((${#pids[@]} > 0)) || break
        ((round == 1)) && n=${#pids[@]}
        kill -s KILL "${pids[@]}" 2>/dev/null
        sleep 0.2
    done
    echo "$n"
}

# session_processes SID: the process ids of the session SID.
session_processes() {
    pgrep -s "$1"
}

# kill_session SID: kills every process of the session SID (what a
# submission graded without namespaces leaves); prints how many there were.
kill_session() {
    local sid=$1
    if [[ ! $sid =~ ^[0-9]+$ ]] || ((sid <= 1 || sid == $(ps -o sid= -p $$))); then
        echo 0
        return
    fi
    kill_all session_processes "$sid"
}

# kill_uid UID: kills every process of the grading user id UID (it runs
# nothing but the submission); prints how many there were.
kill_uid() {
    kill_all uid_processes "$1"
}

# watch_processes UID TARGET FLAG: while TARGET runs, counts UID's processes
# and threads; at the process limit, writes FLAG and stops the submission.
watch_processes() {
    local uid=$1 target=$2 flag=$3 n
    while kill -0 "$target" 2>/dev/null; do
        n=$(ps -e -L -o uid= 2>/dev/null | awk -v u="$uid" '$1 == u' | wc -l)
        if ((n >= GRADE_PROCESSES - 2)); then
            echo "$n" >"$flag"
            kill -s TERM "$target" 2>/dev/null
            kill_uid "$uid" >/dev/null
            return
        fi
        sleep 0.5
    done
}

# ------------------------------------------------------------- the lab copy

# source_fingerprint: what the lab copy is made of (the lab, the hidden
# tests, the compiler and its flags).
source_fingerprint() {
    {
        tar -C "$SOCKSTEP_ROOT" --exclude=./build --exclude=./.git -cf - .
        [[ -z ${HIDDEN_TESTS:-} ]] || tar -C "$HIDDEN_TESTS" -cf - .
        printf 'CC=%s CFLAGS=%s\n' "${CC:-}" "${CFLAGS:-}"
    } 2>/dev/null | sha256sum | cut -d' ' -f1
}

# prepare_lab: a clean copy of the lab (no build, no git), with the hidden
# tests added and the test peers built once, shared by every submission.
# As root, the copy of the last run is kept when the lab has not changed
# since: the submissions ran as other users, who cannot write to it. (Run as
# the instructor, a submission could have, so the copy is made again.)
prepare_lab() {
    local lab=$out/.lab print
    print=$(source_fingerprint)
    if as_root_mode && [[ -f $out/.lab-source && $(cat "$out/.lab-source") == "$print" && -d $lab ]]; then
        echo "grade-all: the lab has not changed since the last run: its copy is kept"
        return 0
    fi
    rm -rf "$lab" "$out/.lab-source"
    mkdir -p "$lab"
    tar -C "$SOCKSTEP_ROOT" --exclude=./build --exclude=./.git -cf - . | tar -C "$lab" -xf - ||
        die "cannot copy the lab to $lab"
    add_hidden_tests "${HIDDEN_TESTS:-}" "$lab" || exit 2
    env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -C "$lab" --no-print-directory -j2 \
        BUILD=build fixtures benchtools >"$out/.lab-build.log" 2>&1 ||
        die "the lab's test peers do not build (see $out/.lab-build.log)"
    chmod -R go-w "$lab"
    chmod -R a+rX "$lab"
    echo "$print" >"$out/.lab-source"
}

# lab_fingerprint: what a grading depends on besides the student's files.
lab_fingerprint() {
    {
        tar -C "$out/.lab" -cf - Makefile tests | sha256sum
        env | grep -E '^(GRADE_[A-Z_]+|LESSON|TEST_FILTER)=' | LC_ALL=C sort
    } | sha256sum | cut -d' ' -f1
}

submission_fingerprint() {
    (
        cd "$1" && find . -type f -not -path '*/.git/*' -print0 | LC_ALL=C sort -z |
            xargs -0 -r sha256sum
    ) | sha256sum | cut -d' ' -f1
}

# lesson_max LESSON: the points of all of a lesson's tests (weights; those
# TEST_FILTER picks), for a lesson that could not be graded.
lesson_max() {
    local file=$out/.lab/tests/$1.bats weights
    weights=$(grep -m1 -E '^# weights:' "$file" | grep -oE 'step +[0-9]+ *= *[0-9.]+' |
        sed -E 's/step +([0-9]+) *= *([0-9.]+)/\1 \2/' | tr '\n' ' ')
    sed -n -E 's/^@test +"(.*)" *\{ *$/\1/p' "$file" | grep -E -e "${TEST_FILTER:-.}" | awk -v weights="$weights" '
        BEGIN { n = split(weights, w, " "); for (i = 1; i + 1 <= n; i += 2) weight[w[i]] = w[i + 1] }
        { step = 0; if (match($0, /^step [0-9]+:/)) step = substr($0, 6, RLENGTH - 6) + 0
          total += (step in weight) ? weight[step] : 1 }
        END { printf "%.10g\n", total + 0 }'
}

# ---------------------------------------------------- grading one submission

# build_error WORK LESSON: why a lesson's programs are missing, or nothing
# (looked at after the build, before any of the student's code ran).
build_error() {
    local work=$1 lesson=$2 file prog missing=() line
    for file in "$out/.lab/lessons/$lesson"/*.c; do
        prog=$(basename "$file" .c)
        [[ -x $work/lab/build/lessons/$lesson/$prog ]] || missing+=("$prog.c")
    done
    ((${#missing[@]} > 0)) || return 0
    line=$(grep -m1 -E "$lesson/[^:]*:[0-9]+:[0-9]+: (fatal )?error:" "$work/build.log" 2>/dev/null)
    line=${line##*lessons/}
    printf '%s does not compile%s' "${missing[*]}" "${line:+: ${line:0:200}}"
}

# limit_reason WORK: a limit the submission reached, or nothing.
limit_reason() {
    local work=$1 flag=$1/nproc big
    if [[ -s $flag ]]; then
        printf 'reached the process limit (%s processes and threads)' "$GRADE_PROCESSES"
        return
    fi
    big=$(find "$work" -type f -size +$((GRADE_FILE_MB * 1024 - 1))k -printf '%P\n' 2>/dev/null | head -n 1)
    if [[ -n $big ]]; then
        printf 'a file reached the file-size limit (%s MiB): %s' "$GRADE_FILE_MB" "${big#lab/}"
        return
    fi
    if grep -q -m1 -E 'CPU time limit exceeded' "$work/log" "$work/build.log" 2>/dev/null; then
        printf 'a process reached the CPU limit (%s s)' "$GRADE_CPU_SECONDS"
    elif grep -q -m1 -E 'File size limit exceeded' "$work/log" "$work/build.log" 2>/dev/null; then
        printf 'a process reached the file-size limit (%s MiB)' "$GRADE_FILE_MB"
    fi
}

# clean_path: PATH without bats-core's own folder (a bats run puts it first,
# and its `bats` there only works with functions the environment drops).
clean_path() {
    tr ':' '\n' <<<"$PATH" | grep -v '/bats-core' | paste -sd: -
}

# run_sandbox WORK SLOT MODE STEP SECONDS LOG: runs STEP (build or grade)
# of WORK/lab under the limits, output to LOG; returns the exit status (137:
# out of time).
run_sandbox() {
    local work=$1 slot=$2 mode=$3 step=$4 seconds=$5 log=$6 uid=$((GRADE_UID_BASE + $2)) status pid
    # Out of time: SIGKILL, which ends the PID namespace and all in it.
    local cmd=(timeout --signal=KILL "$seconds")
    # A clean environment: nothing of the instructor's but what grading needs.
    local env=(env -i "PATH=$(clean_path)" "LANG=${LANG:-C.UTF-8}" "TERM=dumb" "CC=${CC:-cc}"
        "GRADE_LESSON=${LESSON:-}" "GRADE_LESSONS=$lessons" "TEST_FILTER=${TEST_FILTER:-}"
        "SOCKSTEP_BATS=${SOCKSTEP_BATS:-}")
    local var
    for var in "${!GRADE_@}"; do env+=("$var=${!var}"); done
    case $mode in
    namespaces)
        cmd+=(unshare --net --mount --pid --fork --kill-child --mount-proc --propagation private
            setsid "${env[@]}" GRADE_NAMESPACES=1 bash "$here/grade_sandbox.sh" root "$step" "$work" "$uid")
        ;;
    user) cmd+=(setsid "${env[@]}" bash "$here/grade_sandbox.sh" root "$step" "$work" "$uid") ;;
    userns)
        cmd+=(unshare --user --map-root-user --net --mount --pid --fork --kill-child --mount-proc
            setsid "${env[@]}" GRADE_NAMESPACES=1 GRADE_REAL_UID="$(id -u)" GRADE_REAL_GID="$(id -g)"
            bash "$here/grade_sandbox.sh" userns "$step" "$work")
        ;;
    none) cmd+=(setsid "${env[@]}" bash "$here/grade_sandbox.sh" user "$step" "$work") ;;
    esac
    # The log is cut at LOG_LIMIT bytes here, outside the limits, and the
    # rest is read and dropped, so that a flood never blocks the grading.
    local logfd capper
    exec {logfd}> >({ head -c "$LOG_LIMIT"; cat >/dev/null; } >"$log")
    capper=$!
    # (In a subshell whose stderr is dropped: bash reports a killed job.)
    (
        "${cmd[@]}" </dev/null >&"$logfd" 2>&1
        exit $?
    ) 2>/dev/null &
    pid=$!
    exec {logfd}>&-
    if as_root_mode; then
        watch_processes "$uid" "$pid" "$work/nproc" &
    fi
    wait "$pid"
    status=$?
    # What is left: in namespaces it died with them; under a user id of its
    # own, whatever runs as that id; otherwise its session.
    if as_root_mode; then
        kill_uid "$uid" >"$work/killed"
    elif [[ $mode == none ]]; then
        kill_session "$(cat "$work/session" 2>/dev/null)" >"$work/killed"
    fi
    wait
    local tries=50
    while kill -0 "$capper" 2>/dev/null && ((tries-- > 0)); do
        sleep 0.1
    done
    return "$status"
}

# grade_submission STUDENT_DIR SLOT: grades one student; writes
# $out/<student>/{rows.csv,report.*,log.txt,seconds,progress}.
grade_submission() {
    local src=$1 slot=$2 name dir work fingerprint started status reason
    name=$(basename "$src")
    dir=$out/$name
    work=$out/.work/$name
    mkdir -p "$dir"
    fingerprint="$(submission_fingerprint "$src") $labprint"
    if [[ ${FORCE:-} != 1 && -f $dir/rows.csv && $(cat "$dir/fingerprint" 2>/dev/null) == "$fingerprint" ]]; then
        echo "$name: unchanged since the last run, not graded again (FORCE=1 regrades)" >"$dir/progress"
        return 0
    fi
    rm -f "$dir/fingerprint" "$dir/rows.csv"
    started=$(now)
    rm -rf "$work"
    mkdir -p "$work/home" "$work/tmp"
    cp -a "$out/.lab" "$work/lab"
    local uid=$((GRADE_UID_BASE + slot)) lesson placed=1
    place_submission "$src" "$work/lab" >"$dir/placed.txt" 2>&1 || placed=0
    mkdir -p "$work/lab/build"
    if as_root_mode; then
        chown -R "$uid:$uid" "$work/home" "$work/tmp" "$work/lab/lessons"
        chown "$uid:$uid" "$work/lab/build" "$work"
        chmod 0755 "$work"
    fi
    if ((placed == 0)); then
        reason="no .c file named like a program of the lab in the submission"
        csv_row "$name" - 0 0 0 0 0 build-failed 0 "$reason" >"$dir/rows.csv"
        write_fallback_reports "$dir" "$name" build-failed "$reason"
        finish_submission "$dir" "$name" "$fingerprint" "$started" "build-failed: $reason"
        return 0
    fi

    # The build first, then (once what was built is known) the tests.
    local builds=() left_seconds
    run_sandbox "$work" "$slot" "$mode" build "$GRADE_SECONDS" "$work/build.log"
    cp "$work/build.log" "$dir/build.log" 2>/dev/null
    for lesson in $lessons; do
        builds+=("$(build_error "$work" "$lesson")")
    done
    left_seconds=$(awk -v a="$started" -v b="$(now)" -v t="$GRADE_SECONDS" \
        'BEGIN { s = int(t - (b - a)); print (s < 1 ? 1 : s) }')
    run_sandbox "$work" "$slot" "$mode" grade "$left_seconds" "$work/log"
    status=$?
    cat "$work/build.log" "$work/log" >"$dir/log.txt" 2>/dev/null

    local report=$work/lab/build/grade-all-report limit timed_out=0 left
    limit=$(limit_reason "$work")
    ((status == 124 || status == 137)) && timed_out=1
    left=$(cat "$work/left" 2>/dev/null || cat "$work/killed" 2>/dev/null || echo 0)
    [[ $left =~ ^[0-9]+$ ]] || left=0
    # The report was written by the submission's own user: read it as data,
    # and only when it is well-formed.
    local have_report=0
    if jq -e '.lessons | type == "array" and length > 0' "$report/report.json" >/dev/null 2>&1; then
        have_report=1
    fi
    local seconds lesson_status score max passed failed skipped secs why summary=""
    seconds=$(elapsed "$started" "$(now)")
    local n=0 built_why
    for lesson in $lessons; do
        built_why=${builds[n]}
        n=$((n + 1))
        why=$built_why
        if ((have_report)) && read -r score max passed failed skipped secs < <(jq -r --arg l "$lesson" \
            '.lessons[] | select(.lesson == $l) | [.score, .max_score, .passed, .failed, .skipped, .seconds] |
             select(all(type == "number")) | map(tostring) | join(" ")' "$report/report.json" 2>/dev/null) &&
            [[ -n $secs ]]; then
            lesson_status=ok
        else
            score=0 max=$(lesson_max "$lesson") passed=0 failed=0 skipped=0 secs=$seconds
            lesson_status=crashed
            [[ -n $why ]] || why="the grading ended (exit status $status) without results: see log.txt"
        fi
        if [[ -n $built_why ]]; then
            lesson_status=build-failed
        elif [[ -n $limit ]]; then
            lesson_status=limit why=$limit
        elif ((timed_out)); then
            lesson_status=timeout why="took more than GRADE_SECONDS=$GRADE_SECONDS s"
        fi
        if ((left > 0)) && [[ $lesson_status == ok ]]; then
            why="left $left process(es) running after grading (killed)"
        fi
        csv_row "$name" "$lesson" "$score" "$max" "$passed" "$failed" "$skipped" \
            "$lesson_status" "$secs" "$why" >>"$dir/rows.csv"
        summary+="${summary:+; }$lesson $score/$max $lesson_status"
    done
    if ((have_report)); then
        cp "$report/report.xml" "$dir/report.xml" 2>/dev/null ||
            write_fallback_xml "$dir" "$lesson_status" "the grading wrote no JUnit report"
        local statuses
        statuses=$(cut -d, -f8 "$dir/rows.csv" | sort -u | paste -sd' ' -)
        jq --arg s "$name" --arg st "$statuses" '. + {student: $s, status: $st}' \
            "$report/report.json" >"$dir/report.json"
        { echo "student: $name"; echo "status:  $summary"; echo; cat "$report/report.txt"; } >"$dir/report.txt"
        if [[ $lesson_status != ok ]]; then
            echo "note: ${why:-}" >>"$dir/report.txt"
        fi
    else
        write_fallback_reports "$dir" "$name" "$lesson_status" "$why"
    fi
    finish_submission "$dir" "$name" "$fingerprint" "$started" "$summary"
    [[ ${GRADE_KEEP_WORK:-} == 1 ]] || rm -rf "$work"
}

# write_fallback_reports DIR STUDENT STATUS REASON: the reports of a
# submission that produced none of its own.
write_fallback_reports() {
    local dir=$1 name=$2 status=$3 reason=$4 text
    text="student: $name"$'\n'"status:  $status"$'\n'"reason:  $reason"$'\n'
    if [[ -s $dir/build.log ]]; then
        text+=$'\n'"build:"$'\n'"$(head -n 40 "$dir/build.log")"$'\n'
    fi
    printf '%s' "$text" >"$dir/report.txt"
    jq -n --arg s "$name" --arg st "$status" --arg r "$reason" \
        '{format: "sockstep-report", version: 1, student: $s, status: $st, reason: $r,
          score: 0, max_score: 0, passed: 0, failed: 0, skipped: 0, seconds: 0, lessons: []}' \
        >"$dir/report.json"
    write_fallback_xml "$dir" "$status" "$reason"
}

write_fallback_xml() {
    local dir=$1 status=$2 reason=$3
    {
        printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="sockstep">\n'
        printf '  <testsuite name="grading" tests="1" failures="1" skipped="0" errors="0">\n'
        printf '    <testcase classname="grading" name="the submission is graded" time="0">\n'
        printf '      <failure message="%s">%s</failure>\n    </testcase>\n  </testsuite>\n</testsuites>\n' \
            "$status" "$(printf '%s' "$reason" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g')"
    } >"$dir/report.xml"
}

finish_submission() {
    local dir=$1 name=$2 fingerprint=$3 started=$4 summary=$5 seconds
    seconds=$(elapsed "$started" "$(now)")
    echo "$seconds" >"$dir/seconds"
    echo "$fingerprint" >"$dir/fingerprint"
    echo "$name: $summary ($seconds s)" >"$dir/progress"
}

# ------------------------------------------------------------------- main

main() {
    [[ -n ${SUBMISSIONS:-} ]] || die "which submissions? make grade-all SUBMISSIONS=DIR"
    [[ -d $SUBMISSIONS ]] || die "SUBMISSIONS=$SUBMISSIONS is not a folder"
    command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
    local jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)} students=() student slot
    [[ $jobs =~ ^[1-9][0-9]*$ ]] || die "JOBS=$jobs is not a positive number"
    lessons=$(list_lessons | tr '\n' ' ') || exit 2
    mode=$(isolation)
    mkdir -p "$out" || die "cannot create $out"
    if as_root_mode; then
        # One run at a time per range of user ids: two would kill each
        # other's processes.
        local lock
        exec {lock}>"${TMPDIR:-/tmp}/sockstep-grade-all.$GRADE_UID_BASE.lock"
        flock -n "$lock" || die "another grade-all runs with GRADE_UID_BASE=$GRADE_UID_BASE: wait for it, or give this one another GRADE_UID_BASE"
        for ((slot = 1; slot <= jobs; slot++)); do
            [[ -z $(uid_processes $((GRADE_UID_BASE + slot))) ]] ||
                die "user id $((GRADE_UID_BASE + slot)) runs processes already: choose another GRADE_UID_BASE"
        done
    fi
    mapfile -t students < <(find "$SUBMISSIONS" -mindepth 1 -maxdepth 1 -type d -not -name '.*' | LC_ALL=C sort)
    ((${#students[@]} > 0)) || die "no submission folder in $SUBMISSIONS"
    echo "grade-all: ${#students[@]} submissions, $jobs at a time, lessons: $lessons"
    echo "grade-all: isolation: $mode; limits: ${GRADE_SECONDS} s a submission, ${GRADE_TEST_SECONDS} s a test, ${GRADE_CPU_SECONDS} CPU s, ${GRADE_PROCESSES} processes, ${GRADE_MEMORY_MB} MiB, files ${GRADE_FILE_MB} MiB"
    case $mode in
    userns) echo "grade-all: not root: submissions run as you, in user namespaces, the machine read-only to them (see docs/instructors.md)" ;;
    none) echo "grade-all: not root and no user namespaces: submissions run as you, with no namespaces (see docs/instructors.md)" ;;
    esac
    prepare_lab
    labprint=$(lab_fingerprint)

    local started free=() done_count=0 total=${#students[@]}
    declare -A slot_of=() name_of=()
    started=$(now)
    for ((slot = 1; slot <= jobs; slot++)); do free+=("$slot"); done
    report_done() {
        local finished=$1
        done_count=$((done_count + 1))
        echo "grade-all: [$done_count/$total] $(cat "$out/${name_of[$finished]}/progress" 2>/dev/null)"
        free+=("${slot_of[$finished]}")
        unset "slot_of[$finished]"
    }
    # wait_one: waits for one submission to finish (or, should the jobs
    # have gone, frees every slot).
    wait_one() {
        local pid=""
        wait -n -p pid
        if [[ -n $pid && -n ${slot_of[$pid]:-} ]]; then
            report_done "$pid"
        elif [[ -z $(jobs -p) ]]; then
            for pid in "${!slot_of[@]}"; do report_done "$pid"; done
        fi
    }
    for student in "${students[@]}"; do
        while ((${#free[@]} == 0)); do
            wait_one
        done
        slot=${free[0]}
        free=("${free[@]:1}")
        grade_submission "$student" "$slot" &
        slot_of[$!]=$slot
        name_of[$!]=$(basename "$student")
    done
    while ((${#slot_of[@]} > 0)); do
        wait_one
    done

    {
        echo "student,lesson,score,max,passed,failed,skipped,status,seconds,reason"
        for student in "${students[@]}"; do
            cat "$out/$(basename "$student")/rows.csv" 2>/dev/null ||
                csv_row "$(basename "$student")" - 0 0 0 0 0 crashed 0 "the grader itself failed on this submission"
        done
    } >"$out/results.csv"
    echo "grade-all: done in $(elapsed "$started" "$(now)") s: ${out#"$SOCKSTEP_ROOT"/}/results.csv"
}

main "$@"
