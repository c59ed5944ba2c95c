/*
 * measure.c - run a command, then report its wall-clock time and its peak
 * memory (resident set size), as the kernel accounted them.
 *
 * Used by tests/01-http-get.bats (memory must not grow with the body) and
 * tests/bench/01-http-get.sh (http_get against curl).
 *
 * Usage: measure [-o FILE] CMD [ARG...]
 *
 *   Runs CMD with its stdin, stdout and stderr untouched, waits for it and
 *   writes one line "WALL_SECONDS PEAK_RSS_KIB EXIT_STATUS" to
 *   FILE (default: stderr), e.g. "0.412 1836 0". The exit status is the
 *   command's (128+N when it was killed by signal N), and measure exits with
 *   that same status. PEAK_RSS_KIB is ru_maxrss, which Linux counts in KiB
 *   (macOS counts bytes: it is converted). It comes from
 *   getrusage(RUSAGE_CHILDREN) after waitpid(): the largest of the children
 *   waited for, and this program has exactly one.
 *
 * Build: make benchtools  ->  build/bench/measure
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROG "measure"
#include "../fixtures/fixture.h"

#define USAGE "usage: measure [-o FILE] CMD [ARG...]"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exit_code_of(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return 1;
}

static long peak_rss_kib(const struct rusage *ru)
{
#ifdef __APPLE__
    return ru->ru_maxrss / 1024; /* bytes on macOS */
#else
    return ru->ru_maxrss; /* KiB on Linux and the BSDs */
#endif
}

int main(int argc, char **argv)
{
    const char *report_path = NULL;
    int argi = 1;
    if (argi + 1 < argc && strcmp(argv[argi], "-o") == 0) {
        report_path = argv[argi + 1];
        argi += 2;
    }
    if (argi >= argc) {
        fprintf(stderr, "%s: missing command (%s)\n", PROG, USAGE);
        return 2;
    }
    double start = now_seconds();
    pid_t pid = fork();
    if (pid < 0)
        die_errno("fork");
    if (pid == 0) {
        execvp(argv[argi], argv + argi);
        fprintf(stderr, "%s: run %s: %s\n", PROG, argv[argi], strerror(errno));
        _exit(127);
    }
    int wstatus = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (waitpid(pid, &wstatus, 0) < 0) {
        if (errno != EINTR)
            die_errno("waitpid");
    }
    if (getrusage(RUSAGE_CHILDREN, &ru) < 0)
        die_errno("getrusage");
    double wall = now_seconds() - start;
    int code = exit_code_of(wstatus);
    FILE *report = report_path ? fopen(report_path, "w") : stderr;
    if (report == NULL)
        die_errno("%s", report_path);
    fprintf(report, "%.3f %ld %d\n", wall, peak_rss_kib(&ru), code);
    if (report != stderr && fclose(report) != 0)
        die_errno("%s", report_path);
    return code;
}
