/* The workload of scripts/bench-uprobes.sh, on Debian's libssl.so.3 (the
 * library the sensor probes):
 *
 *   ssl_workload write CERT KEY N   N SSL_write calls of 1 KiB on an
 *                                   established TLS 1.3 connection; prints
 *                                   the writing thread's CPU nanoseconds per
 *                                   call (CLOCK_THREAD_CPUTIME_ID).
 *   ssl_workload handshake CERT KEY N
 *                                   N full TLS 1.3 handshakes; prints the wall
 *                                   nanoseconds per handshake.
 *
 * Client and server run in one process over a TCP connection on loopback
 * (a socket the kernel's send/recv paths and the sensor's tp_btf programs
 * see as in production); the server thread reads everything. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static SSL_CTX *server_ctx;
static SSL_CTX *client_ctx;
static int listener;
static struct sockaddr_in address;

static long long now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "%s failed\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* Server: accepts `count` connections; for each, handshakes and reads until
 * the peer closes. */
static void *serve(void *arg) {
    long count = (long)arg;
    for (long i = 0; i < count; i++) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) die("accept");
        SSL *ssl = SSL_new(server_ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) != 1) die("SSL_accept");
        char buffer[16384];
        while (SSL_read(ssl, buffer, sizeof buffer) > 0) {
        }
        SSL_free(ssl);
        close(fd);
    }
    return NULL;
}

static SSL *connect_client(int *fd_out) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) die("connect");
    SSL *ssl = SSL_new(client_ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) die("SSL_connect");
    *fd_out = fd;
    return ssl;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s write|handshake CERT KEY N\n", argv[0]);
        return 2;
    }
    long n = atol(argv[4]);
    int handshakes = strcmp(argv[1], "handshake") == 0;
    server_ctx = SSL_CTX_new(TLS_server_method());
    client_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(server_ctx, TLS1_3_VERSION);
    SSL_CTX_set_min_proto_version(client_ctx, TLS1_3_VERSION);
    /* No tickets: every handshake is a full one. */
    SSL_CTX_set_num_tickets(server_ctx, 0);
    SSL_CTX_set_session_cache_mode(client_ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate_chain_file(server_ctx, argv[2]) != 1) die("certificate");
    if (SSL_CTX_use_PrivateKey_file(server_ctx, argv[3], SSL_FILETYPE_PEM) != 1) die("key");

    listener = socket(AF_INET, SOCK_STREAM, 0);
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0) die("bind");
    socklen_t length = sizeof address;
    getsockname(listener, (struct sockaddr *)&address, &length);
    listen(listener, 64);
    pthread_t server;
    pthread_create(&server, NULL, serve, (void *)(handshakes ? n : 1));

    if (handshakes) {
        long long start = now_ns(CLOCK_MONOTONIC);
        for (long i = 0; i < n; i++) {
            int fd;
            SSL *ssl = connect_client(&fd);
            SSL_shutdown(ssl);
            SSL_free(ssl);
            close(fd);
        }
        long long took = now_ns(CLOCK_MONOTONIC) - start;
        pthread_join(server, NULL);
        printf("%.1f\n", (double)took / (double)n);
        return 0;
    }
    int fd;
    SSL *ssl = connect_client(&fd);
    char block[1024];
    memset(block, 'x', sizeof block);
    long long start = now_ns(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < n; i++) {
        if (SSL_write(ssl, block, sizeof block) != (int)sizeof block) die("SSL_write");
    }
    long long took = now_ns(CLOCK_THREAD_CPUTIME_ID) - start;
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    pthread_join(server, NULL);
    printf("%.1f\n", (double)took / (double)n);
    return 0;
}
