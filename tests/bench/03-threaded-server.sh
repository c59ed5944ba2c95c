#!/usr/bin/env bash
# Benchmark of lesson 03 (03-threaded-server): hello_threads side by side
# with tests/bench/hello_ref_threads.c, a careful thread-per-connection
# server, at 1, 10 and 100 connections, pipelined, and new connections, with
# the CPU per reply (see hello-vs-ref.sh). Targets, from issue 17: at 100
# connections at least 0.95x its replies per second, CPU per reply within
# 1.1x of its; and new connections within 1.5x of its CPU per connection
# (the cost of 8 MiB thread stacks).
#
# Run by `make bench LESSON=03`; by hand: bash tests/bench/03-threaded-server.sh
# Environment: as hello-vs-ref.sh (BENCH_SECONDS, BENCH_ROUNDS, LESSONS=1...).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/hello-vs-ref.sh" 03-threaded-server hello_threads 0.95 1.10 1.50
