/* SPDX-License-Identifier: MIT */
/*
 * test-etcd-wire — how the etcd client (daemon/etcd/etcd.c) names the cause
 * when the connection ends before etcd answers, against a scripted server on
 * loopback: endings a real etcd shows only by chance (a stop at the wrong
 * moment, an alert lost with a reset). The server (a thread here) speaks TLS
 * 1.3 with a certificate made by the openssl tool and HTTP/2 through
 * nghttp2's server side. Each ending waits for what the client sent before
 * it (its SETTINGS acknowledgement, or its close), so none depends on timing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "etcd/etcd.h"
#include "format/grpc.h"
#include "util/macro.h"
#include "test.h"

typedef enum Ending {
        ENDING_RESET_AFTER_HANDSHAKE,   /* TLS done, the client's first bytes in: a reset, no alert */
        ENDING_REQUIRE_CERT,            /* a client certificate required: the handshake fails, with an alert */
        ENDING_RESET_AFTER_SETTINGS,    /* HTTP/2 SETTINGS exchanged, no answer: a reset */
        ENDING_GOAWAY,                  /* HTTP/2 SETTINGS exchanged, then GOAWAY refusing every stream */
} Ending;

typedef struct Server {
        char dir[64];
        char cert[128], key[128];
        int listen_fd;
        uint16_t port;
        Ending ending;
        pthread_t thread;
        bool settings_acked;    /* the client acknowledged our SETTINGS */
        bool failed;            /* the server could not play its part */
} Server;

static int server_on_frame(nghttp2_session *session, const nghttp2_frame *frame, void *userdata) {
        Server *s = userdata;

        if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK))
                s->settings_acked = true;
        return 0;
}

static int server_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned inlen, void *arg) {
        static const unsigned char h2[] = { 2, 'h', '2' };

        if (SSL_select_next_proto((unsigned char **) out, outlen, h2, sizeof(h2), in, inlen) != OPENSSL_NPN_NEGOTIATED)
                return SSL_TLSEXT_ERR_ALERT_FATAL;
        return SSL_TLSEXT_ERR_OK;
}

static bool server_flush(nghttp2_session *session, SSL *ssl) {
        const uint8_t *data;
        ssize_t k;

        while ((k = nghttp2_session_mem_send(session, &data)) > 0)
                if (SSL_write(ssl, data, (int) k) != (int) k)
                        return false;
        return k == 0;
}

/* Read what the client still sends until it closes (bounded by SO_RCVTIMEO):
 * closing with its bytes unread would reset the connection, and a reset
 * throws away what the client has not read yet. */
static void server_drain(int fd) {
        char b[4096];

        (void) shutdown(fd, SHUT_WR);
        while (read(fd, b, sizeof(b)) > 0)
                ;
}

static void server_reset(int fd) {
        (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger) { .l_onoff = 1, .l_linger = 0 },
                          sizeof(struct linger));
}

static void *server_main(void *userdata) {
        Server *s = userdata;
        const struct timeval ten_seconds = { .tv_sec = 10 };
        struct pollfd p = { .fd = s->listen_fd, .events = POLLIN };
        nghttp2_session_callbacks *cb = NULL;
        nghttp2_session *session = NULL;
        SSL_CTX *ctx = NULL;
        SSL *ssl = NULL;
        int fd = -1;

        s->failed = true;
        /* Bounded: a client that never comes or stops talking ends the test. */
        if (poll(&p, 1, 10000) != 1 || (fd = accept(s->listen_fd, NULL, NULL)) < 0)
                goto out;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &ten_seconds, sizeof(ten_seconds));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &ten_seconds, sizeof(ten_seconds));
        ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
            SSL_CTX_use_certificate_file(ctx, s->cert, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, s->key, SSL_FILETYPE_PEM) != 1)
                goto out;
        SSL_CTX_set_alpn_select_cb(ctx, server_alpn, NULL);
        if (s->ending == ENDING_REQUIRE_CERT)
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        ssl = SSL_new(ctx);
        if (!ssl || SSL_set_fd(ssl, fd) != 1)
                goto out;
        if (SSL_accept(ssl) != 1) {
                /* Refused, with an alert; the client reads it, then closes. */
                if (s->ending == ENDING_REQUIRE_CERT) {
                        server_drain(fd);
                        s->failed = false;
                }
                goto out;
        }
        if (s->ending == ENDING_RESET_AFTER_HANDSHAKE) {
                p = (struct pollfd) { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, 10000) == 1) {
                        server_reset(fd);
                        s->failed = false;
                }
                goto out;
        }

        if (nghttp2_session_callbacks_new(&cb) != 0)
                goto out;
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, server_on_frame);
        if (nghttp2_session_server_new(&session, cb, s) != 0 ||
            nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, NULL, 0) != 0)
                goto out;
        while (!s->settings_acked) {
                uint8_t in[4096];
                int k;

                if (!server_flush(session, ssl))
                        goto out;
                k = SSL_read(ssl, in, sizeof(in));
                if (k <= 0 || nghttp2_session_mem_recv(session, in, (size_t) k) != k)
                        goto out;
        }
        if (s->ending == ENDING_RESET_AFTER_SETTINGS)
                server_reset(fd);
        else {
                if (nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0) != 0 ||
                    !server_flush(session, ssl))
                        goto out;
                server_drain(fd);
        }
        s->failed = false;
out:
        if (session)
                nghttp2_session_del(session);
        if (cb)
                nghttp2_session_callbacks_del(cb);
        if (ssl)
                SSL_free(ssl);
        if (ctx)
                SSL_CTX_free(ctx);
        if (fd >= 0)
                close(fd);
        return NULL;
}

static void server_start(Server *s, Ending ending) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t alen = sizeof(a);
        char *cmd = NULL;

        *s = (Server) { .ending = ending };
        strcpy(s->dir, "/tmp/test-etcd-wire.XXXXXX");
        check(mkdtemp(s->dir));
        snprintf(s->cert, sizeof(s->cert), "%s/server.crt", s->dir);
        snprintf(s->key, sizeof(s->key), "%s/server.key", s->dir);
        check(asprintf(&cmd, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
                       "-subj /CN=etcd -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s 2>/dev/null",
                       s->key, s->cert) >= 0);
        check(system(cmd) == 0);
        free(cmd);

        s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        check(s->listen_fd >= 0);
        check(bind(s->listen_fd, (struct sockaddr *) &a, sizeof(a)) == 0);
        check(listen(s->listen_fd, 1) == 0);
        check(getsockname(s->listen_fd, (struct sockaddr *) &a, &alen) == 0);
        s->port = ntohs(a.sin_port);
        check(pthread_create(&s->thread, NULL, server_main, s) == 0);
}

static void server_stop(Server *s) {
        char *cmd = NULL;

        check(pthread_join(s->thread, NULL) == 0);
        check(!s->failed);
        close(s->listen_fd);
        check(asprintf(&cmd, "rm -rf %s", s->dir) >= 0);
        check(system(cmd) == 0);
        free(cmd);
}

static int on_data(const void *data, size_t n, void *userdata) {
        return -EBADMSG;        /* no ending here answers */
}

/* A Snapshot call against a server playing `ending`, with or without a
 * client certificate (the server's own pair: any will do). */
static int call(Ending ending, bool with_cert, char **error) {
        Server s;
        char endpoint[64];
        int r;

        server_start(&s, ending);
        snprintf(endpoint, sizeof(endpoint), "https://127.0.0.1:%u", s.port);
        r = etcd_snapshot(&(EtcdTls) { .cacert = s.cert, .cert = with_cert ? s.cert : NULL,
                                       .key = with_cert ? s.key : NULL },
                          endpoint, 5 * USEC_PER_SEC, 20 * USEC_PER_SEC, on_data, NULL, error);
        server_stop(&s);
        fprintf(stderr, "  %s\n", *error ? *error : "(no error)");
        return r;
}

#define check_says(error, text) check((error) && strstr((error), (text)))

/* No alert: a refused certificate whose alert was lost with a reset, or
 * etcd stopping. The message names both, and the certificate. */
static void test_reset_after_handshake(void) {
        char *error = NULL;

        check_int_eq(call(ENDING_RESET_AFTER_HANDSHAKE, true, &error), -ECONNRESET);
        check_says(error, "etcd closed the connection before answering (");
        check_says(error, "it refused the client certificate /tmp/test-etcd-wire.");
        check_says(error, "or it was stopping");
        free(error);
        error = NULL;
        check_int_eq(call(ENDING_RESET_AFTER_HANDSHAKE, false, &error), -ECONNRESET);
        check_says(error, "no client certificate is configured (etcd.cert, etcd.key) and etcd most likely requires "
                          "one, unless it was stopping");
        free(error);
}

/* etcd's alert says why: the message is definite. */
static void test_certificate_required(void) {
        char *error = NULL;

        check_int_eq(call(ENDING_REQUIRE_CERT, false, &error), -EACCES);
        check_says(error, "etcd requires a client certificate and none is configured (etcd.cert, etcd.key) (");
        check_says(error, "alert");
        free(error);
}

/* etcd spoke HTTP/2: it had accepted the certificate, which is not blamed. */
static void test_stopped_after_accepting(void) {
        char *error = NULL;

        check_int_eq(call(ENDING_RESET_AFTER_SETTINGS, true, &error), -ECONNRESET);
        check_says(error, "etcd closed the connection before answering, after accepting it (");
        check_says(error, "was etcd stopping?");
        check(!strstr(error, "certificate"));
        free(error);
        error = NULL;
        check(call(ENDING_GOAWAY, true, &error) < 0);
        check_says(error, "was etcd stopping?");
        check(!strstr(error, "certificate"));
        free(error);
}

int main(void) {
        TEST_RUN(test_reset_after_handshake);
        TEST_RUN(test_certificate_required);
        TEST_RUN(test_stopped_after_accepting);
        return 0;
}
