#!/usr/bin/env bash
# Benchmark of lesson 04 (04-forking-server): hello_fork side by side with
# tests/bench/hello_ref_threads.c, a careful thread-per-connection server, at
# 1, 10 and 100 connections, pipelined, and new connections, with the CPU per
# reply (see hello-vs-ref.sh). Target, from issue 17: at 100 connections at
# least 0.85x its replies per second (a process per connection costs more
# CPU per reply than a thread: its CPU is shown, not checked).
#
# Run by `make bench LESSON=04`; by hand: bash tests/bench/04-forking-server.sh
# Environment: as hello-vs-ref.sh (BENCH_SECONDS, BENCH_ROUNDS, LESSONS=1...).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/hello-vs-ref.sh" 04-forking-server hello_fork 0.85 - -
