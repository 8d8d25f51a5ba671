/* SPDX-License-Identifier: MIT */
/*
 * etcd.c — gRPC calls to etcd over libcurl HTTP/2 (see etcd.h).
 *
 * A gRPC call is an HTTP/2 POST to /<service>/<method> with
 * content-type application/grpc and te: trailers, whose body is one
 * length-prefixed request message; the answer is a sequence of
 * length-prefixed messages followed by grpc-status in the trailers. libcurl
 * hands us body bytes in arbitrary pieces (the deframer reassembles them)
 * and headers and trailers line by line (the header parser reads them).
 * Everything etcd sends is untrusted and bounded.
 */

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "etcd/etcd.h"
#include "format/grpc.h"
#include "format/pb.h"
#include "util/str.h"
#include "util/time.h"

/* etcd 3.4 sends 32 KiB blobs; other messages are small. */
#define ETCD_MESSAGE_MAX_BYTES (4u * 1024 * 1024)
/* A snapshot that delivers nothing for this long has stalled. */
#define ETCD_STALL_USEC (60 * USEC_PER_SEC)

typedef struct Call {
        GrpcDeframer deframer;
        GrpcHeaderInfo headers;
        GrpcMessageFn on_message;
        void *userdata;
        int error;              /* first error from a callback */
} Call;

static void call_done(Call *c) {
        grpc_deframer_done(&c->deframer);
}

static size_t on_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Call *c = userdata;
        size_t n = size * nmemb;
        int r;

        r = grpc_deframer_feed(&c->deframer, ptr, n, c->on_message, c->userdata);
        if (r < 0) {
                c->error = r;
                return CURL_WRITEFUNC_ERROR;
        }
        return n;
}

static size_t on_curl_header(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Call *c = userdata;
        size_t n = size * nmemb;

        /* A malformed grpc-status is reported after the call, when it is missing. */
        (void) grpc_parse_header_line(ptr, n, &c->headers);
        return n;
}

/* Map a libcurl failure to an errno and a sentence an operator can act on. */
static int curl_failure(CURLcode code, const char *errbuf, const char *endpoint, const EtcdTls *tls,
                        bool no_answer, bool answer_started, char **ret_error) {
        const char *detail = errbuf && *errbuf ? errbuf : curl_easy_strerror(code);
        int r;

        if (answer_started && code != CURLE_OPERATION_TIMEDOUT) {
                /* etcd answered, then the connection died: killed, restarted or cut off. */
                free_and_format(ret_error, "%s: the connection to etcd broke off in the middle of the answer: %s",
                          endpoint, detail);
                return -EPIPE;
        }

        /* With TLS 1.3 the server checks our certificate after our side of
         * the handshake is done: a refusal shows up as a reset or a closed
         * connection before any HTTP answer. */
        if (no_answer &&
            (code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR || code == CURLE_HTTP2 ||
             code == CURLE_HTTP2_STREAM || code == CURLE_GOT_NOTHING || code == CURLE_PARTIAL_FILE)) {
                if (!tls->cert)
                        free_and_format(ret_error, "%s: etcd closed the connection after the TLS handshake: no client "
                                  "certificate is configured (etcd.cert, etcd.key) and etcd requires one (%s)",
                                  endpoint, detail);
                else
                        free_and_format(ret_error, "%s: etcd closed the connection after the TLS handshake: it most likely "
                                  "refused the client certificate %s (is it signed by a CA in etcd's "
                                  "--trusted-ca-file?) (%s)", endpoint, tls->cert, detail);
                return -EACCES;
        }

        switch (code) {
        case CURLE_COULDNT_CONNECT:
                r = -ECONNREFUSED;
                free_and_format(ret_error, "%s: cannot connect: %s", endpoint, detail);
                break;
        case CURLE_COULDNT_RESOLVE_HOST:
                r = -EHOSTUNREACH;
                free_and_format(ret_error, "%s: cannot resolve host: %s", endpoint, detail);
                break;
        case CURLE_OPERATION_TIMEDOUT:
                r = -ETIMEDOUT;
                free_and_format(ret_error, "%s: timed out: %s", endpoint, detail);
                break;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
                r = -EACCES;
                free_and_format(ret_error, "%s: TLS: etcd's certificate was not accepted with CA %s: %s", endpoint,
                          tls->cacert ? tls->cacert : "(system trust store)", detail);
                break;
        case CURLE_SSL_CERTPROBLEM:
                r = -EACCES;
                free_and_format(ret_error, "%s: TLS: cannot use client certificate %s / key %s: %s", endpoint,
                          tls->cert ? tls->cert : "(none)", tls->key ? tls->key : "(none)", detail);
                break;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
                /* etcd refusing our client certificate shows up as a TLS alert here. */
                r = strstr(detail, "alert") || code == CURLE_SSL_CONNECT_ERROR ? -EACCES : -EIO;
                free_and_format(ret_error, "%s: %s%s", endpoint,
                          r == -EACCES ? "TLS handshake failed (is the client certificate signed by etcd's CA?): " : "",
                          detail);
                break;
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_PARTIAL_FILE:
                r = -EPIPE;
                free_and_format(ret_error, "%s: the stream broke off: %s", endpoint, detail);
                break;
        default:
                r = -EIO;
                free_and_format(ret_error, "%s: %s", endpoint, detail);
        }
        return r;
}

/* One gRPC call with an empty request message. Messages go to on_message. */
static int grpc_call(const EtcdTls *tls, const char *endpoint, const char *method,
                     uint64_t connect_timeout_usec, uint64_t timeout_usec, bool stream,
                     GrpcMessageFn on_message, void *userdata, char **ret_error) {
        static const uint8_t empty_request[GRPC_FRAME_HEADER_BYTES] = { 0, 0, 0, 0, 0 };
        _cleanup_(call_done) Call call = { .on_message = on_message, .userdata = userdata };
        _cleanup_free_ char *url = NULL;
        char errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *headers = NULL;
        CURLcode code;
        CURL *curl;
        long http_version = 0, response_code = 0;
        int r;

        if (!startswith(endpoint, "https://"))
                return free_and_format(ret_error, "%s: only https:// endpoints are supported", endpoint), -EINVAL;
        if (asprintf(&url, "%s%s%s", endpoint, endswith(endpoint, "/") ? "" : "/", method) < 0)
                return -ENOMEM;

        grpc_deframer_init(&call.deframer, ETCD_MESSAGE_MAX_BYTES);
        grpc_header_info_init(&call.headers);

        curl = curl_easy_init();
        if (!curl)
                return -ENOMEM;
        headers = curl_slist_append(headers, "content-type: application/grpc");
        headers = curl_slist_append(headers, "te: trailers");
        headers = curl_slist_append(headers, "Expect:");
        headers = curl_slist_append(headers, "Accept:");
        if (!headers) {
                curl_easy_cleanup(curl);
                return -ENOMEM;
        }

        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
        curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_USERAGENT, "etcd-backupd/" PACKAGE_VERSION);
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *) empty_request);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) sizeof empty_request);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_curl_write);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &call);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_curl_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &call);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
        /* TLS verification is never turned off. */
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
        if (tls->cacert)
                curl_easy_setopt(curl, CURLOPT_CAINFO, tls->cacert);
        if (tls->cert) {
                curl_easy_setopt(curl, CURLOPT_SSLCERT, tls->cert);
                curl_easy_setopt(curl, CURLOPT_SSLKEY, tls->key);
        }
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long) (connect_timeout_usec / USEC_PER_MSEC));
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) (timeout_usec / USEC_PER_MSEC));
        if (stream) {
                /* A large receive buffer keeps up with etcd on loopback. */
                curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 512L * 1024);
                curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
                curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, (long) (ETCD_STALL_USEC / USEC_PER_SEC));
        }

        code = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &http_version);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response_code);
        curl_slist_free_all(headers);
        curl_easy_cleanup(curl);

        if (call.error < 0 && code == CURLE_WRITE_ERROR) {
                if (call.error == -E2BIG)
                        return free_and_format(ret_error, "%s: etcd sent a message larger than %u bytes", endpoint,
                                         ETCD_MESSAGE_MAX_BYTES), -EBADMSG;
                if (call.error == -EPROTO || call.error == -EBADMSG)
                        return free_and_format(ret_error, "%s: malformed gRPC stream (%s)", endpoint,
                                         strerror(-call.error)), -EBADMSG;
                /* The consumer's own error: it has its reason already. */
                return call.error;
        }
        if (code != CURLE_OK) {
                if (code == CURLE_OPERATION_TIMEDOUT && stream && strstr(errbuf, "slower than"))
                        return free_and_format(ret_error, "%s: etcd stopped sending the snapshot (nothing for %" PRIu64 "s)",
                                         endpoint, ETCD_STALL_USEC / USEC_PER_SEC), -ETIMEDOUT;
                /* A TCP connection that was reset before any HTTP answer: with TLS 1.3
                 * that is how a refused client certificate looks, whether or not
                 * curl had recorded the handshake as complete. */
                return curl_failure(code, errbuf, endpoint, tls, response_code == 0, response_code != 0, ret_error);
        }
        if (http_version != CURL_HTTP_VERSION_2_0)
                return free_and_format(ret_error, "%s: the server did not speak HTTP/2 (not an etcd gRPC endpoint?)",
                                 endpoint), -EPROTO;
        if (call.headers.http_status != 200)
                return free_and_format(ret_error, "%s: HTTP status %d (not an etcd gRPC endpoint?)", endpoint,
                                 call.headers.http_status), -EPROTO;
        if (call.headers.has_grpc_status && call.headers.grpc_status != 0) {
                r = call.headers.grpc_status == 16 || call.headers.grpc_status == 7 ? -EACCES : -EIO;
                return free_and_format(ret_error, "%s: etcd answered %s: %s", endpoint,
                                 grpc_status_to_name(call.headers.grpc_status),
                                 call.headers.has_grpc_message ? call.headers.grpc_message : "(no message)"), r;
        }
        if (!call.headers.content_type_is_grpc)
                return free_and_format(ret_error, "%s: the answer is not gRPC (content-type %s)", endpoint,
                                 call.headers.has_content_type ? call.headers.content_type : "missing"), -EPROTO;
        if (!grpc_deframer_is_idle(&call.deframer))
                return free_and_format(ret_error, "%s: the stream ended in the middle of a message", endpoint), -EPIPE;
        if (!call.headers.has_grpc_status)
                return free_and_format(ret_error, "%s: the stream ended without a gRPC status (cut off?)", endpoint), -EPIPE;
        return 0;
}

void etcd_status_done(EtcdStatus *s) {
        free(s->endpoint);
        *s = (EtcdStatus) {};
}

typedef struct StatusCall {
        PbStatusResponse response;
        unsigned n;
        int error;
} StatusCall;

static int on_status_message(const uint8_t *msg, size_t len, void *userdata) {
        StatusCall *sc = userdata;
        int r;

        if (sc->n++ > 0)
                return -EBADMSG; /* a unary call answers once */
        r = pb_status_response_decode(msg, len, &sc->response);
        if (r < 0)
                sc->error = r;
        return r;
}

int etcd_status(const EtcdTls *tls, const char *endpoint, uint64_t connect_timeout_usec,
                uint64_t timeout_usec, EtcdStatus *ret, char **ret_error) {
        StatusCall sc = {};
        EtcdStatus s = {};
        int r;

        r = grpc_call(tls, endpoint, "etcdserverpb.Maintenance/Status", connect_timeout_usec, timeout_usec,
                      false, on_status_message, &sc, ret_error);
        if (r < 0) {
                pb_status_response_clear(&sc.response);
                return r;
        }
        if (sc.n != 1) {
                pb_status_response_clear(&sc.response);
                return free_and_format(ret_error, "%s: Status returned %u messages", endpoint, sc.n), -EBADMSG;
        }
        s.endpoint = strdup(endpoint);
        if (!s.endpoint) {
                pb_status_response_clear(&sc.response);
                return -ENOMEM;
        }
        s.cluster_id = sc.response.header.cluster_id;
        s.member_id = sc.response.header.member_id;
        s.revision = sc.response.header.revision;
        s.leader = sc.response.leader;
        s.raft_index = sc.response.raft_index;
        s.db_size = sc.response.db_size;
        s.is_learner = sc.response.is_learner;
        snprintf(s.version, sizeof s.version, "%s", sc.response.version ? sc.response.version : "unknown");
        if (sc.response.n_errors > 0) {
                free_and_format(ret_error, "%s: etcd reports: %s", endpoint,
                          sc.response.first_error ? sc.response.first_error : "an error");
                pb_status_response_clear(&sc.response);
                etcd_status_done(&s);
                return s.leader == 0 ? -EAGAIN : -EIO;
        }
        pb_status_response_clear(&sc.response);
        *ret = s;
        return 0;
}

typedef struct MemberListCall {
        PbMemberList response;
        unsigned n;
} MemberListCall;

static int on_member_list_message(const uint8_t *msg, size_t len, void *userdata) {
        MemberListCall *mc = userdata;

        if (mc->n++ > 0)
                return -EBADMSG; /* a unary call answers once */
        return pb_member_list_decode(msg, len, &mc->response);
}

int etcd_member_list(const EtcdTls *tls, const char *endpoint, uint64_t connect_timeout_usec,
                     uint64_t timeout_usec, PbMemberList *ret, char **ret_error) {
        MemberListCall mc = {};
        int r;

        r = grpc_call(tls, endpoint, "etcdserverpb.Cluster/MemberList", connect_timeout_usec, timeout_usec,
                      false, on_member_list_message, &mc, ret_error);
        if (r >= 0 && mc.n != 1) {
                free_and_format(ret_error, "%s: MemberList returned %u messages", endpoint, mc.n);
                r = -EBADMSG;
        }
        if (r < 0) {
                pb_member_list_clear(&mc.response);
                return r;
        }
        *ret = mc.response;
        return 0;
}

/* One pass over the endpoints: 0 with *ret filled, or -EHOSTUNREACH with every endpoint's cause appended to
 * *all and *ret_no_leader set when some member answered without a leader. */
static int find_endpoint_pass(const EtcdTls *tls, char *const *endpoints, uint64_t connect_timeout_usec,
                              EtcdStatus *ret, char **all, bool *ret_no_leader) {
        for (char *const *e = endpoints; e && *e; e++) {
                _cleanup_free_ char *error = NULL;
                char *joined;
                int r;

                /* Status is small: a few connect timeouts bound it. */
                r = etcd_status(tls, *e, connect_timeout_usec, 3 * connect_timeout_usec, ret, &error);
                if (r >= 0 && ret->is_learner) {
                        /* A learner may lag the cluster: back up from a voting member. */
                        etcd_status_done(ret);
                        r = -EBUSY;
                        if (asprintf(&error, "%s: is a learner (its data may lag the cluster); skipped", *e) < 0)
                                return -ENOMEM;
                }
                if (r >= 0)
                        return 0;
                if (r == -ENOMEM)
                        return r;
                if (r == -EAGAIN)
                        *ret_no_leader = true;
                if (asprintf(&joined, "%s%s%s", *all ? *all : "", *all ? "; " : "",
                             error ? error : strerror(-r)) < 0)
                        return -ENOMEM;
                free(*all);
                *all = joined;
        }
        return -EHOSTUNREACH;
}

int etcd_find_endpoint(const EtcdTls *tls, char *const *endpoints, uint64_t connect_timeout_usec,
                       EtcdStatus *ret, char **ret_error) {
        uint64_t start = now_usec(CLOCK_MONOTONIC);

        for (;;) {
                _cleanup_free_ char *all = NULL;
                bool no_leader = false;
                uint64_t waited;
                int r;

                r = find_endpoint_pass(tls, endpoints, connect_timeout_usec, ret, &all, &no_leader);
                if (r != -EHOSTUNREACH)
                        return r;
                waited = now_usec(CLOCK_MONOTONIC) - start;
                if (no_leader && waited + ETCD_LEADER_POLL_USEC < ETCD_LEADER_WAIT_USEC) {
                        sleep_usec(ETCD_LEADER_POLL_USEC);
                        continue;
                }
                if (no_leader)
                        free_and_format(ret_error, "no etcd endpoint answered: %s (no member had a leader for %" PRIu64
                                        " s)", all, waited / USEC_PER_SEC);
                else
                        free_and_format(ret_error, "no etcd endpoint answered: %s",
                                        all ? all : "no endpoints configured");
                return -EHOSTUNREACH;
        }
}

typedef struct SnapshotCall {
        EtcdDataFn on_data;
        void *userdata;
} SnapshotCall;

static int on_snapshot_message(const uint8_t *msg, size_t len, void *userdata) {
        SnapshotCall *sc = userdata;
        PbSnapshotResponse resp;
        int r;

        r = pb_snapshot_response_decode(msg, len, &resp);
        if (r < 0)
                return -EBADMSG;
        if (!resp.has_blob || resp.blob_size == 0)
                return 0;
        return sc->on_data(resp.blob, resp.blob_size, sc->userdata);
}

int etcd_snapshot(const EtcdTls *tls, const char *endpoint, uint64_t connect_timeout_usec,
                  uint64_t timeout_usec, EtcdDataFn on_data, void *userdata, char **ret_error) {
        SnapshotCall sc = { .on_data = on_data, .userdata = userdata };

        return grpc_call(tls, endpoint, "etcdserverpb.Maintenance/Snapshot", connect_timeout_usec, timeout_usec,
                         true, on_snapshot_message, &sc, ret_error);
}

EtcdTls etcd_tls_from_config(const ConfigEtcd *c) {
        return (EtcdTls) { .cacert = c->cacert, .cert = c->cert, .key = c->key };
}
