#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image
# (Ubuntu): installs what the lab's tests use, without questions, and
# bats-core from npm when the distribution's is older than 1.5, then builds
# the test peers once (each submission then builds only its own programs).
# GRADESCOPE_NO_INSTALL=1 skips the packages (the lab's tests run it so).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if [[ ${GRADESCOPE_NO_INSTALL:-} != 1 ]]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
        make gcc bats bats-support bats-assert curl nginx-light netcat-openbsd socat \
        iproute2 nftables procps util-linux patch jq ca-certificates nodejs npm >/dev/null
fi
lab=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab
# Finds bats (installing the pinned npm copy into lab/.deps when needed).
SOCKSTEP_ROOT=$lab bash -c 'source "$1/tests/lib/lessons.sh"; source "$1/tests/lib/bats.sh"; find_bats' _ "$lab"
# run_autograder copies the lab with its timestamps: these stay built.
make -C "$lab" --no-print-directory fixtures benchtools >/dev/null
