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
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "backup/store.h"
#include "etcd/etcd.h"
#include "format/grpc.h"
#include "util/macro.h"
#include "util/str.h"
#include "test.h"

typedef enum Ending {
        ENDING_RESET_AFTER_HANDSHAKE,   /* TLS done, the client's first bytes in: a reset, no alert */
        ENDING_REQUIRE_CERT,            /* a client certificate required: the handshake fails, with an alert */
        ENDING_RESET_AFTER_SETTINGS,    /* HTTP/2 SETTINGS exchanged, no answer: a reset */
        ENDING_GOAWAY,                  /* HTTP/2 SETTINGS exchanged, then GOAWAY refusing every stream */
        ENDING_GOAWAY_CALM,             /* the same with ENHANCE_YOUR_CALM and 200 bytes of debug data */
        ENDING_GOAWAY_KEEP,             /* GOAWAY INTERNAL_ERROR that keeps the client's stream, then a close */
        ENDING_ENABLE_PUSH,             /* SETTINGS that enable push, which a server may not send */
        ENDING_PLAIN_HTTP,              /* no TLS: an HTTP/1.1 answer to the ClientHello */
        ENDING_ENDLESS,                 /* a Snapshot answer that announces a huge db and never ends */
        ENDING_OVERSIZED,               /* a Snapshot answer that goes on past the size it announced */
        ENDING_SHORT,                   /* a Snapshot answer that ends well one message into what it announced */
        ENDING_NO_BLOBS,                /* Snapshot messages without a blob, without end (etcd's read failed) */
        ENDING_HTTP_503,                /* :status 503 ending the stream, with grpc-status 14 and a grpc-message */
        ENDING_HTTP_502,                /* :status 502 ending the stream, with a grpc-message only */
        ENDING_HTTP_404,                /* :status 404 ending the stream, nothing of gRPC */
        ENDING_EARLY_STATUS,            /* grpc-status 0 in the response headers, one message, no trailers */
        ENDING_BAD_STATUS,              /* one message, then trailers with grpc-status "013" */
        ENDING_TWO_STATUSES,            /* one message, then trailers with grpc-status 13 and 0 */
        ENDING_STATUS_NO_LEADER,        /* a Status answer of leader 0 and no errors (etcd before 3.4) */
        ENDING_STATUS_TWICE,            /* a Status call answered by two messages */
        ENDING_STATUS_LONG_VERSION,     /* a Status answer whose version is VENDOR_VERSION */
        ENDING_SNAPSHOT_LONG_VERSION,   /* a Snapshot answer of two messages whose version is VENDOR_VERSION */
} Ending;

/* A version longer than the 64 bytes kept, with UTF-8 in those: what a vendor's build might report. */
#define VENDOR_VERSION "3.5.12-v\xc3\xa9ndor.1+build.20240115.0123456789abcdef0123456789abcdef.fips.enabled.with-extras"

typedef struct Server {
        char dir[64];
        char cert[128], key[128];
        int listen_fd;
        uint16_t port;
        Ending ending;
        pthread_t thread;
        bool settings_acked;    /* the client acknowledged our SETTINGS */
        int32_t request;        /* the client's request stream, once its headers are in */
        size_t sent;            /* bytes of messages sent */
        bool failed;            /* the server could not play its part */
} Server;

static int server_on_frame(nghttp2_session *session, const nghttp2_frame *frame, void *userdata) {
        Server *s = userdata;

        if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK))
                s->settings_acked = true;
        if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
                s->request = frame->hd.stream_id;
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

/* The message of ENDING_STATUS_LONG_VERSION or ENDING_SNAPSHOT_LONG_VERSION in its gRPC frame, into m: returns
 * its size. */
#define LONG_VERSION_MESSAGE_BYTES (5 + 2 + 32 + 2 + sizeof(VENDOR_VERSION) - 1)
static size_t long_version_message(Ending ending, uint8_t m[static LONG_VERSION_MESSAGE_BYTES]) {
        bool snapshot = ending == ENDING_SNAPSHOT_LONG_VERSION;
        size_t n = 5;

        if (snapshot) {
                m[n++] = 0x1a;
                m[n++] = 32;
                memset(m + n, 'x', 32);
                n += 32;
        }
        m[n++] = snapshot ? 0x22 : 0x12;
        m[n++] = sizeof(VENDOR_VERSION) - 1;
        memcpy(m + n, VENDOR_VERSION, sizeof(VENDOR_VERSION) - 1);
        n += sizeof(VENDOR_VERSION) - 1;
        if (!snapshot) {
                m[n++] = 0x20;
                m[n++] = 5;
        }
        memset(m, 0, 4);
        m[4] = (uint8_t) (n - 5);
        return n;
}

/* SnapshotResponse messages, one after another: remaining_bytes (field 2) and a 16000-byte blob (field 3), each
 * in its gRPC frame. ENDING_ENDLESS announces 2^50 bytes and never ends; ENDING_OVERSIZED announces 100 bytes
 * after its first blob and goes on; ENDING_EARLY_STATUS sends one and ends the stream (no trailers). */
#define BLOB_BYTES 16000
static ssize_t server_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                           uint32_t *data_flags, nghttp2_data_source *source, void *userdata) {
        Server *s = userdata;
        uint8_t msg[5 + 1 + 10 + 1 + 2 + BLOB_BYTES];
        uint64_t remaining = s->ending == ENDING_OVERSIZED || s->ending == ENDING_SHORT ? 100 : UINT64_C(1) << 50;
        size_t n = 5, size, off;

        if (s->ending == ENDING_NO_BLOBS) {
                /* remaining_bytes (2) 5 and nothing else, as often as fits */
                static const uint8_t empty[] = { 0, 0, 0, 0, 2, 0x10, 5 };

                for (n = 0; n + sizeof empty <= length; n += sizeof empty)
                        memcpy(buf + n, empty, sizeof empty);
                s->sent += n;
                return (ssize_t) n;
        }
        msg[n++] = 0x10;
        for (; remaining >= 0x80; remaining >>= 7)
                msg[n++] = (uint8_t) (remaining | 0x80);
        msg[n++] = (uint8_t) remaining;
        msg[n++] = 0x1a;
        msg[n++] = (uint8_t) (BLOB_BYTES & 0x7f) | 0x80;
        msg[n++] = (uint8_t) (BLOB_BYTES >> 7);
        memset(msg + n, 'x', BLOB_BYTES);
        size = n + BLOB_BYTES;
        msg[0] = 0;
        msg[1] = 0;
        msg[2] = (uint8_t) ((size - 5) >> 16);
        msg[3] = (uint8_t) ((size - 5) >> 8);
        msg[4] = (uint8_t) (size - 5);
        off = s->sent % size;
        if (s->ending == ENDING_EARLY_STATUS && s->sent >= size) {
                *data_flags |= NGHTTP2_DATA_FLAG_EOF;
                return 0;
        }
        if (s->ending >= ENDING_STATUS_NO_LEADER) {
                /* StatusResponse: version (2) "3.3.25", and leader (4) 5 unless there is none, or VENDOR_VERSION
                 * and leader 5; SnapshotResponse: a blob (3) of 32 bytes and version (4) VENDOR_VERSION. */
                static const uint8_t no_leader[] = { 0, 0, 0, 0, 8, 0x12, 6, '3', '.', '3', '.', '2', '5' };
                static const uint8_t leader[] = { 0, 0, 0, 0, 10, 0x12, 6, '3', '.', '4', '.', '2', '3', 0x20, 5 };
                uint8_t long_version[LONG_VERSION_MESSAGE_BYTES];
                const uint8_t *m = s->ending == ENDING_STATUS_NO_LEADER ? no_leader : leader;
                size_t m_size = s->ending == ENDING_STATUS_NO_LEADER ? sizeof no_leader : sizeof leader;
                const nghttp2_nv ok[] = { { (uint8_t *) "grpc-status", (uint8_t *) "0", 11, 1, NGHTTP2_NV_FLAG_NONE } };

                if (s->ending >= ENDING_STATUS_LONG_VERSION) {
                        m = long_version;
                        m_size = long_version_message(s->ending, long_version);
                }
                /* Twice for the Snapshot: its 32-byte db, then its 32-byte hash. */
                if (s->sent < (s->ending == ENDING_STATUS_TWICE || s->ending == ENDING_SNAPSHOT_LONG_VERSION ? 2 : 1) *
                                      m_size && length >= m_size) {
                        memcpy(buf, m, m_size);
                        s->sent += m_size;
                        return (ssize_t) m_size;
                }
                *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
                return nghttp2_submit_trailer(session, stream_id, ok, 1) == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        if (s->ending == ENDING_SHORT && s->sent >= size) {
                const nghttp2_nv ok[] = { { (uint8_t *) "grpc-status", (uint8_t *) "0", 11, 1,
                                            NGHTTP2_NV_FLAG_NONE } };

                *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
                return nghttp2_submit_trailer(session, stream_id, ok, 1) == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        if (s->ending >= ENDING_BAD_STATUS && s->sent >= size) {
#define NV(n, v) { (uint8_t *) (n), (uint8_t *) (v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }
                const nghttp2_nv bad[] = { NV("grpc-status", "013"), NV("grpc-message", "boom") };
                const nghttp2_nv two[] = { NV("grpc-status", "13"), NV("grpc-status", "0") };
#undef NV
                *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
                if (nghttp2_submit_trailer(session, stream_id, s->ending == ENDING_BAD_STATUS ? bad : two, 2) != 0)
                        return NGHTTP2_ERR_CALLBACK_FAILURE;
                return 0;
        }
        length = MIN(length, size - off);
        memcpy(buf, msg + off, length);
        s->sent += length;
        return (ssize_t) length;
}

/* Answer the request with `ending`'s stream until the client goes, or 60 s at most. */
static bool server_answer(Server *s, nghttp2_session *session, SSL *ssl) {
#define NV(n, v) { (uint8_t *) (n), (uint8_t *) (v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }
        const nghttp2_nv headers[] = { NV(":status", "200"), NV("content-type", "application/grpc"),
                                       NV("grpc-status", "0") };
        /* What a proxy in front of etcd may answer (grpc-message with a line break and an ESC); with no body,
         * nghttp2 ends the stream with the headers. */
        const nghttp2_nv proxy_503[] = { NV(":status", "503"), NV("content-type", "application/grpc"),
                                         NV("grpc-status", "14"),
                                         NV("grpc-message", "no healthy upstream%0A%1B[31m") };
        const nghttp2_nv proxy_502[] = { NV(":status", "502"), NV("grpc-message", "upstream connect error") };
        const nghttp2_nv not_found[] = { NV(":status", "404"), NV("content-type", "text/plain") };
#undef NV
        const nghttp2_data_provider body = { .read_callback = server_body };
        time_t end = time(NULL) + 60;
        int submitted;

        while (s->request == 0) {
                uint8_t in[4096];
                int k = SSL_read(ssl, in, sizeof(in));
                if (k <= 0 || nghttp2_session_mem_recv(session, in, (size_t) k) != k)
                        return false;
        }
        if (s->ending == ENDING_HTTP_503)
                submitted = nghttp2_submit_response(session, s->request, proxy_503, ELEMENTSOF(proxy_503), NULL);
        else if (s->ending == ENDING_HTTP_502)
                submitted = nghttp2_submit_response(session, s->request, proxy_502, ELEMENTSOF(proxy_502), NULL);
        else if (s->ending == ENDING_HTTP_404)
                submitted = nghttp2_submit_response(session, s->request, not_found, ELEMENTSOF(not_found), NULL);
        else
                submitted = nghttp2_submit_response(session, s->request, headers,
                                                    s->ending == ENDING_EARLY_STATUS ? 3 : 2, &body);
        if (submitted != 0)
                return false;
        while (time(NULL) < end) {
                uint8_t in[4096];
                int k;

                if (!server_flush(session, ssl))
                        return true;    /* the client went */
                if (!nghttp2_session_want_read(session) && !nghttp2_session_want_write(session))
                        return true;
                if (nghttp2_session_want_write(session))
                        continue;
                /* Flow control: the client's WINDOW_UPDATEs, or its close. */
                k = SSL_read(ssl, in, sizeof(in));
                if (k <= 0 || nghttp2_session_mem_recv(session, in, (size_t) k) != k)
                        return true;
        }
        return false;
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
        sigset_t pipe_set;
        int fd = -1;

        /* The client may close while this thread still writes (under load, before
         * the server's last words went out): EPIPE here, not a SIGPIPE that ends
         * the test. Only this thread's: the client's own handling is under test. */
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
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
        if (s->ending == ENDING_PLAIN_HTTP) {
                static const char answer[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
                char hello[512];

                if (read(fd, hello, sizeof(hello)) > 0 && write(fd, answer, sizeof(answer) - 1) > 0) {
                        server_drain(fd);
                        s->failed = false;
                }
                goto out;
        }
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
        else if (s->ending >= ENDING_ENDLESS) {
                if (!server_answer(s, session, ssl))
                        goto out;
        } else if (s->ending == ENDING_ENABLE_PUSH) {
                /* Written past nghttp2, which would not send it: SETTINGS_ENABLE_PUSH 1 on stream 0. */
                static const uint8_t push[] = { 0, 0, 6, NGHTTP2_SETTINGS, 0, 0, 0, 0, 0,
                                                0, NGHTTP2_SETTINGS_ENABLE_PUSH, 0, 0, 0, 1 };

                if (SSL_write(ssl, push, sizeof(push)) != (int) sizeof(push))
                        goto out;
                server_drain(fd);
        } else {
                /* grpc-go's answer to a client that pings too often, with a line break and more debug data than
                 * a message takes; or a GOAWAY past the client's stream (its request came before our SETTINGS'
                 * acknowledgement), which then goes unanswered. */
                char debug[200] = "too_many_pings\r\n";
                uint32_t code = s->ending == ENDING_GOAWAY_CALM ? NGHTTP2_ENHANCE_YOUR_CALM
                                : s->ending == ENDING_GOAWAY_KEEP ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_NO_ERROR;

                memset(debug + strlen(debug), 'x', sizeof(debug) - strlen(debug));
                if (nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, s->ending == ENDING_GOAWAY_KEEP ? s->request : 0,
                                          code, (const uint8_t *) debug,
                                          s->ending == ENDING_GOAWAY_CALM ? sizeof(debug) : 0) != 0 ||
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
        return 0;
}

/* A Snapshot call against a server playing `ending`, with or without a
 * client certificate (the server's own pair: any will do), timing out after
 * timeout seconds. */
static int call_for(Ending ending, bool with_cert, unsigned timeout, char **error) {
        Server s;
        char endpoint[64];
        int r;

        server_start(&s, ending);
        snprintf(endpoint, sizeof(endpoint), "https://127.0.0.1:%u", s.port);
        r = etcd_snapshot(&(EtcdTls) { .cacert = s.cert, .cert = with_cert ? s.cert : NULL,
                                       .key = with_cert ? s.key : NULL },
                          endpoint, 5 * USEC_PER_SEC, timeout * USEC_PER_SEC, on_data, NULL, error);
        server_stop(&s);
        fprintf(stderr, "  %s\n", *error ? *error : "(no error)");
        return r;
}

static int call(Ending ending, bool with_cert, char **error) {
        return call_for(ending, with_cert, 20, error);
}

/* A Status call against a server playing `ending`; its answer in *ret when ret is not NULL. */
static int call_status(Ending ending, EtcdStatus *ret, char **error) {
        EtcdStatus st = {};
        Server s;
        char endpoint[64];
        int r;

        server_start(&s, ending);
        snprintf(endpoint, sizeof(endpoint), "https://127.0.0.1:%u", s.port);
        r = etcd_status(&(EtcdTls) { .cacert = s.cert, .cert = s.cert, .key = s.key }, endpoint, 5 * USEC_PER_SEC,
                        20 * USEC_PER_SEC, &st, error);
        server_stop(&s);
        if (ret)
                *ret = st;
        else
                etcd_status_done(&st);
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
        check_says(error, "etcd refused the call before answering (HTTP/2 REFUSED_STREAM; etcd sent GOAWAY NO_ERROR): "
                          "was etcd stopping?");
        check(!strstr(error, "certificate"));
        free(error);
}

/* A GOAWAY says who sent it, its code and its debug data (printable ASCII, cut); one that our side sent blames
 * what etcd sent, not etcd stopping. */
static void test_goaway(void) {
        char *error = NULL;

        check_int_eq(call(ENDING_GOAWAY_CALM, true, &error), -ECONNRESET);
        check(endswith(error, ": etcd refused the call before answering (HTTP/2 REFUSED_STREAM; etcd sent GOAWAY "
                              "ENHANCE_YOUR_CALM, debug data \"too_many_pings??xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\")"));
        free(error);
        error = NULL;
        check_int_eq(call(ENDING_GOAWAY_KEEP, true, &error), -ECONNRESET);
        check_says(error, ": etcd closed the connection before answering, after accepting it (");
        /* Its code says why: not asked whether etcd was stopping. */
        check(endswith(error, "; etcd sent GOAWAY INTERNAL_ERROR)"));
        free(error);
        error = NULL;
        check_int_eq(call(ENDING_ENABLE_PUSH, true, &error), -EPROTO);
        check(endswith(error, ": HTTP/2: etcd broke the protocol (this client sent GOAWAY PROTOCOL_ERROR, debug data "
                              "\"SETTINGS: server attempted to enable push\")"));
        free(error);
}

/* Not TLS at all: said so, no certificate blamed. */
static void test_not_tls(void) {
        char *error = NULL;

        check_int_eq(call(ENDING_PLAIN_HTTP, true, &error), -EPROTO);
        check_says(error, "the endpoint does not speak TLS (an http:// etcd, or not etcd's client port?)");
        check(!strstr(error, "certificate"));
        free(error);
}

/* A stream that does not end is held to the call's timeout even though data
 * keeps coming (the deadline was looked at only when a read would block);
 * one that goes on past the size etcd announced is refused at once. */
static void test_bounded_stream(void) {
        char *error = NULL;

        check_int_eq(call_for(ENDING_ENDLESS, true, 2, &error), -ETIMEDOUT);
        check_says(error, "timed out: etcd's answer did not end in time");
        free(error);
        error = NULL;
        check_int_eq(call(ENDING_OVERSIZED, true, &error), -EBADMSG);
        check_says(error, "etcd sent more than the 16100 bytes its snapshot was announced as");
        free(error);
        error = NULL;
        /* Ended well, but short: named as cut, not left to the trailer's hash to call damaged. */
        check_int_eq(call(ENDING_SHORT, true, &error), -EPIPE);
        check_says(error, "etcd's snapshot stream ended after 16000 of the 16132 bytes announced");
        free(error);
}

/* Messages without a blob are no progress: etcd sending them without end (its own read of the db failed) is a
 * stall, named as such, not a wait for the whole call's timeout. The stall shortened to 1 s. */
static void test_stall_without_data(void) {
        uint64_t saved = etcd_stall_usec;
        char *error = NULL;

        etcd_stall_usec = USEC_PER_SEC;
        check_int_eq(call_for(ENDING_NO_BLOBS, true, 15, &error), -ETIMEDOUT);
        check_says(error, "etcd sent no snapshot data (nothing for 1s)");
        free(error);
        etcd_stall_usec = saved;
}

/* A grpc-status in response headers that a body follows is not the call's
 * status: the stream ending without trailers is cut off. */
static void test_status_in_headers(void) {
        char *error = NULL;

        check_int_eq(call(ENDING_EARLY_STATUS, true, &error), -EPIPE);
        check_says(error, "the stream ended without a gRPC status (cut off?)");
        free(error);
}

/* A grpc-status that cannot be read, or a second one, is an error naming it
 * (etcd's message too), not a missing status nor the later one. */
static void test_bad_status(void) {
        char *error = NULL;

        check_int_eq(call(ENDING_BAD_STATUS, true, &error), -EIO);
        check_says(error, "etcd answered an invalid grpc-status \"013\": boom");
        free(error);
        error = NULL;
        check_int_eq(call(ENDING_TWO_STATUSES, true, &error), -EIO);
        check_says(error, "etcd answered an invalid grpc-status (more than one)");
        free(error);
}

/* An HTTP status other than 200 keeps what a proxy (or etcd) said in gRPC's terms beside it, grpc-message as
 * printable ASCII; without either the message is as it was. */
static void test_http_status(void) {
        char *error = NULL;

        check_int_eq(call(ENDING_HTTP_503, true, &error), -EPROTO);
        check_says(error, ": HTTP status 503 (not an etcd gRPC endpoint?), grpc-status UNAVAILABLE: "
                          "no healthy upstream??[31m");
        free(error);
        error = NULL;
        check_int_eq(call(ENDING_HTTP_502, true, &error), -EPROTO);
        check_says(error, ": HTTP status 502 (not an etcd gRPC endpoint?), grpc-message: upstream connect error");
        free(error);
        error = NULL;
        check_int_eq(call(ENDING_HTTP_404, true, &error), -EPROTO);
        check(endswith(error, ": HTTP status 404 (not an etcd gRPC endpoint?)"));
        free(error);
}

/* A member without a leader is passed over even when it lists no error (etcd
 * before 3.4 has none); a unary call answered twice says so. */
static void test_status_answers(void) {
        char *error = NULL;

        check_int_eq(call_status(ENDING_STATUS_NO_LEADER, NULL, &error), -EAGAIN);
        check_says(error, "etcd reports: no leader");
        free(error);
        error = NULL;
        check_int_eq(call_status(ENDING_STATUS_TWICE, NULL, &error), -EBADMSG);
        check_says(error, "etcd answered the Status call with more than one message");
        free(error);
}

/* A version longer than the 64 bytes kept (a vendor's build) is cut, not an error: its first bytes as printable
 * ASCII and "...", 64 in all, which a sidecar records and reads back. */
static void test_long_version(void) {
        static const char cut[] = "3.5.12-v??ndor.1+build.20240115.0123456789abcdef0123456789abc...";
        _cleanup_(sidecar_done) Sidecar sidecar = {}, read_back = {};
        _cleanup_free_ char *json = NULL;
        EtcdStatus st = {};
        char *error = NULL;
        const char *why;

        check_int_eq(call_status(ENDING_STATUS_LONG_VERSION, &st, &error), 0);
        check(!error);
        check_str_eq(st.version, cut);
        sidecar = (Sidecar) { .name = strdup("etcd-0000000000000001-20200101T000000Z-r5.db"),
                              .endpoint = strdup(st.endpoint), .etcd_version = strdup(st.version),
                              .compression = CODEC_NONE };
        memset(sidecar.db_sha256, 'a', 64);
        memset(sidecar.file_sha256, 'b', 64);
        check(sidecar_to_json(&sidecar, &json) == 0);
        check(sidecar_from_json(json, strlen(json), &read_back, &why) == 0);
        check_str_eq(read_back.etcd_version, cut);
        etcd_status_done(&st);

        check_int_eq(call(ENDING_SNAPSHOT_LONG_VERSION, true, &error), 0);
        check(!error);
}

int main(void) {
        TEST_RUN(test_reset_after_handshake);
        TEST_RUN(test_certificate_required);
        TEST_RUN(test_stopped_after_accepting);
        TEST_RUN(test_goaway);
        TEST_RUN(test_not_tls);
        TEST_RUN(test_bounded_stream);
        TEST_RUN(test_stall_without_data);
        TEST_RUN(test_status_in_headers);
        TEST_RUN(test_bad_status);
        TEST_RUN(test_http_status);
        TEST_RUN(test_status_answers);
        TEST_RUN(test_long_version);
        return 0;
}
