#!/usr/bin/env bash
# `make gradescope-autograder`: packs the Gradescope autograder,
#
#   bash tests/lib/gradescope/build.sh ZIP
#
# ZIP holds setup.sh, run_autograder, settings.env (LESSON, GRADE_SECONDS,
# GRADE_TEST_SECONDS, TEST_FILTER and GRADESCOPE_HIDDEN_VISIBILITY as set now) and lab/ (the lab without
# build/ and .git; the hidden tests of HIDDEN_TESTS=DIR added).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
zip=${1:?usage: build.sh ZIP}
# shellcheck source=tests/lib/submission.sh
source "$root/tests/lib/submission.sh"
stage=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-gradescope.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lab"
tar -C "$root" --exclude=./build --exclude=./.git --exclude=./.deps -cf - . | tar -C "$stage/lab" -xf -
add_hidden_tests "${HIDDEN_TESTS:-}" "$stage/lab"
cp "$here/setup.sh" "$stage/setup.sh"
cp "$here/run_autograder.sh" "$stage/run_autograder"
chmod +x "$stage/setup.sh" "$stage/run_autograder"
{
    echo "# Written by make gradescope-autograder; run_autograder reads it."
    printf 'LESSON=%q\n' "${LESSON:-}"
    printf 'GRADE_SECONDS=%q\n' "${GRADE_SECONDS:-1200}"
    printf 'GRADE_TEST_SECONDS=%q\n' "${GRADE_TEST_SECONDS:-60}"
    printf 'TEST_FILTER=%q\n' "${TEST_FILTER:-}"
    printf 'GRADESCOPE_HIDDEN_VISIBILITY=%q\n' "${GRADESCOPE_HIDDEN_VISIBILITY:-after_published}"
} >"$stage/settings.env"
mkdir -p "$(dirname "$zip")"
rm -f "$zip"
(cd "$stage" && zip -q -r "$zip" setup.sh run_autograder settings.env lab)
echo "Gradescope autograder: ${zip#"$root"/} (upload it as it is; settings: LESSON=${LESSON:-all})"
