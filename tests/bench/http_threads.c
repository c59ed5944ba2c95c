/*
 * http_threads: a thread-per-connection HTTP server, lesson 03's model, for
 * the slowloris comparison of `make bench LESSON=08` (not a lesson program).
 *
 *   http_threads [-p PORT] [-m MAX_THREADS] [-t SECONDS]
 *
 * Accepts on 127.0.0.1:PORT (0: a free port; prints "listening on
 * 127.0.0.1:PORT"), and gives each connection a thread of its own, at most
 * MAX_THREADS at once (default 256, the classic MaxRequestWorkers); beyond
 * that, new clients wait in the listen backlog until a thread is free, as in
 * every server of this model. A thread reads one request head with a read
 * timeout of SECONDS (default 10) that each arriving byte restarts, as
 * SO_RCVTIMEO does, answers it with a fixed 6-byte body ("hello\n") and
 * closes. That is all the comparison needs: how many requests a
 * well-behaved client gets answered while slow clients hold the threads.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define PROG "http_threads"
#include "../fixtures/fixture.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t freed = PTHREAD_COND_INITIALIZER;
static int active;

/* A whole number from 0 to 1,000,000, or exit 2. */
static int number(const char *text)
{
    long long value;

    if (!parse_number(text, 0, 1000000, &value)) {
        usage_error("bad number '%s'", text);
    }
    return (int)value;
}

static void serve(int fd)
{
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n"
                                "Connection: close\r\n\r\nhello\n";
    char head[8192];
    size_t len = 0;
    while (len < sizeof head - 1) {
        ssize_t n = read(fd, head + len, sizeof head - 1 - len);
        if (n <= 0) {
            return; /* end, error, or the read timeout */
        }
        len += (size_t)n;
        head[len] = '\0';
        if (strstr(head, "\r\n\r\n") != NULL) {
            break;
        }
    }
    size_t sent = 0;
    while (sent < sizeof reply - 1) {
        ssize_t n = write(fd, reply + sent, sizeof reply - 1 - sent);
        if (n <= 0) {
            return;
        }
        sent += (size_t)n;
    }
}

static void *connection_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    serve(fd);
    close(fd);
    pthread_mutex_lock(&lock);
    active--;
    pthread_cond_signal(&freed);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = 0, max_threads = 256, seconds = 10, c;
    while ((c = getopt(argc, argv, "p:m:t:")) != -1) {
        switch (c) {
        case 'p':
            port = number(optarg);
            break;
        case 'm':
            max_threads = number(optarg);
            break;
        case 't':
            seconds = number(optarg);
            break;
        default:
            fprintf(stderr,
                    "usage: http_threads [-p PORT] [-m MAX_THREADS] [-t SECONDS]\n");
            return 2;
        }
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("http_threads: signal");
        return 1;
    }
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (listener < 0 ||
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(listener, 4096) < 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &len) < 0) {
        perror("http_threads: listen");
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0 ||
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0 ||
        pthread_attr_setstacksize(&attr, 64 * 1024) != 0) {
        fprintf(stderr, "http_threads: thread attributes\n");
        return 1;
    }
    for (;;) {
        pthread_mutex_lock(&lock);
        while (active >= max_threads) {
            pthread_cond_wait(&freed, &lock); /* the model's limit: wait for a thread */
        }
        active++;
        pthread_mutex_unlock(&lock);
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            perror("http_threads: accept");
            pthread_mutex_lock(&lock);
            active--;
            pthread_mutex_unlock(&lock);
            continue;
        }
        struct timeval tv = {.tv_sec = seconds};
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
            perror("http_threads: SO_RCVTIMEO"); /* served without a timeout */
        }
        pthread_t thread;
        if (pthread_create(&thread, &attr, connection_thread, (void *)(intptr_t)fd) !=
            0) {
            close(fd);
            pthread_mutex_lock(&lock);
            active--;
            pthread_mutex_unlock(&lock);
        }
    }
}
