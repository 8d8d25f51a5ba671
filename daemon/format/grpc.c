/* SPDX-License-Identifier: MIT */
/*
 * grpc.c — gRPC message framing and status for the etcd client.
 *
 * A gRPC response body is a sequence of messages, each behind a 5-byte
 * prefix; nghttp2 hands the body over in whatever pieces HTTP/2 produced, so
 * the deframer is a small state machine that survives any split, hands whole
 * messages over in place when it can and gathers only the ones that span
 * pieces. The outcome of the call is not in the body but in the grpc-status
 * and grpc-message headers (trailers on success), which arrive through
 * nghttp2's header callback; the helpers here turn those headers into a
 * bounded struct the client can judge and log safely.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format/grpc.h"

int grpc_frame_header(uint8_t out[static GRPC_FRAME_HEADER_BYTES], size_t len) {
        if ((uint64_t) len > UINT32_MAX)
                return -E2BIG;
        out[0] = 0; /* not compressed */
        out[1] = (uint8_t) (len >> 24);
        out[2] = (uint8_t) (len >> 16);
        out[3] = (uint8_t) (len >> 8);
        out[4] = (uint8_t) len;
        return 0;
}

void grpc_deframer_init(GrpcDeframer *d, size_t max_message_bytes) {
        *d = (GrpcDeframer) {
                .max_message_bytes = max_message_bytes,
        };
}

void grpc_deframer_done(GrpcDeframer *d) {
        if (!d)
                return;
        d->buf = mfree(d->buf);
        d->buf_alloc = 0;
        d->message_have = 0;
}

bool grpc_deframer_is_idle(const GrpcDeframer *d) {
        return d->error == 0 && d->header_have == 0;
}

static int deframer_fail(GrpcDeframer *d, int error) {
        d->error = error;
        return error;
}

/* Validate a complete prefix and start the message it announces. */
static int deframer_start_message(GrpcDeframer *d) {
        uint32_t len;

        if (d->header[0] == 1)
                return -EPROTO;
        if (d->header[0] != 0)
                return -EBADMSG;
        len = (uint32_t) d->header[1] << 24 | (uint32_t) d->header[2] << 16 |
              (uint32_t) d->header[3] << 8 | (uint32_t) d->header[4];
        if ((uint64_t) len > (uint64_t) d->max_message_bytes)
                return -E2BIG;
        d->message_size = len;
        d->message_have = 0;
        return 0;
}

/* Hand over one complete message. The state is reset first, so the
 * deframer is consistent whatever the callback returns. */
static int deframer_deliver(GrpcDeframer *d, const uint8_t *msg, size_t len,
                            GrpcMessageFn on_message, void *userdata) {
        int k;

        d->header_have = 0;
        d->message_size = 0;
        d->message_have = 0;
        d->n_messages++;

        k = on_message(msg, len, userdata);
        return k < 0 ? k : 0;
}

int grpc_deframer_feed(GrpcDeframer *d, const void *data, size_t n, GrpcMessageFn on_message,
                       void *userdata) {
        const uint8_t *p = data;
        int k;

        if (d->error < 0)
                return d->error;

        while (n > 0) {
                size_t need, take;

                if (d->header_have < GRPC_FRAME_HEADER_BYTES) {
                        take = MIN(GRPC_FRAME_HEADER_BYTES - d->header_have, n);
                        memcpy(d->header + d->header_have, p, take);
                        d->header_have += take;
                        p += take;
                        n -= take;
                        if (d->header_have < GRPC_FRAME_HEADER_BYTES)
                                break;

                        k = deframer_start_message(d);
                        if (k < 0)
                                return deframer_fail(d, k);
                        if (d->message_size == 0) {
                                /* Any non-NULL pointer will do for an empty message. */
                                k = deframer_deliver(d, d->header, 0, on_message, userdata);
                                if (k < 0)
                                        return deframer_fail(d, k);
                        }
                        continue;
                }

                need = d->message_size - d->message_have;

                /* Hot path: the whole message is in this chunk, nothing gathered yet. */
                if (d->message_have == 0 && n >= need) {
                        k = deframer_deliver(d, p, need, on_message, userdata);
                        if (k < 0)
                                return deframer_fail(d, k);
                        p += need;
                        n -= need;
                        continue;
                }

                if (d->buf_alloc < d->message_size) {
                        /* message_size ≤ max_message_bytes: the buffer is bounded. */
                        uint8_t *b = realloc(d->buf, d->message_size);
                        if (!b)
                                return deframer_fail(d, -ENOMEM);
                        d->buf = b;
                        d->buf_alloc = d->message_size;
                }

                take = MIN(need, n);
                memcpy(d->buf + d->message_have, p, take);
                d->message_have += take;
                p += take;
                n -= take;

                if (d->message_have == d->message_size) {
                        k = deframer_deliver(d, d->buf, d->message_size, on_message, userdata);
                        if (k < 0)
                                return deframer_fail(d, k);
                }
        }

        return 0;
}

static const char *const status_names[GRPC_STATUS_MAX + 1] = {
        [GRPC_STATUS_OK] = "OK",
        [GRPC_STATUS_CANCELLED] = "CANCELLED",
        [GRPC_STATUS_UNKNOWN] = "UNKNOWN",
        [GRPC_STATUS_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
        [GRPC_STATUS_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
        [GRPC_STATUS_NOT_FOUND] = "NOT_FOUND",
        [GRPC_STATUS_ALREADY_EXISTS] = "ALREADY_EXISTS",
        [GRPC_STATUS_PERMISSION_DENIED] = "PERMISSION_DENIED",
        [GRPC_STATUS_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
        [GRPC_STATUS_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
        [GRPC_STATUS_ABORTED] = "ABORTED",
        [GRPC_STATUS_OUT_OF_RANGE] = "OUT_OF_RANGE",
        [GRPC_STATUS_UNIMPLEMENTED] = "UNIMPLEMENTED",
        [GRPC_STATUS_INTERNAL] = "INTERNAL",
        [GRPC_STATUS_UNAVAILABLE] = "UNAVAILABLE",
        [GRPC_STATUS_DATA_LOSS] = "DATA_LOSS",
        [GRPC_STATUS_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *grpc_status_to_name(int code) {
        if (code < 0 || code > GRPC_STATUS_MAX)
                return "UNKNOWN_CODE";
        return status_names[code];
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Strict decimal status code from s[0..n). */
static int status_from_mem(const char *s, size_t n, int *ret_code) {
        int v = 0;

        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!is_digit(s[i]))
                        return -EINVAL;
        if (s[0] == '0' && n > 1)
                return -EINVAL;
        if (n > 2)
                return -ERANGE;
        for (size_t i = 0; i < n; i++)
                v = v * 10 + (s[i] - '0');
        if (v > GRPC_STATUS_MAX)
                return -ERANGE;
        *ret_code = v;
        return 0;
}

int grpc_status_from_string(const char *s, int *ret_code) {
        if (!s)
                return -EINVAL;
        return status_from_mem(s, strlen(s), ret_code);
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Not printable ASCII: controls, and every byte of UTF-8 (which carries C1 controls such as U+009B, and bidi
 * overrides, to a terminal; etcd's messages are ASCII). */
static bool is_control(uint8_t b) {
        return b < 0x20 || b >= 0x7f;
}

/* Percent-decode in[0..n) into out (room for max bytes plus the NUL),
 * sanitized as described for grpc_message_decode(). Returns the length. */
static size_t message_decode_into(const char *in, size_t n, char *out, size_t max) {
        size_t o = 0;

        for (size_t i = 0; i < n && o < max; i++) {
                uint8_t b = (uint8_t) in[i];

                if (b == '%' && n - i >= 3) {
                        int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
                        if (hi >= 0 && lo >= 0) {
                                b = (uint8_t) (hi << 4 | lo);
                                i += 2;
                        }
                }
                out[o++] = is_control(b) ? '?' : (char) b;
        }
        out[o] = '\0';
        return o;
}

int grpc_message_decode(const char *in, char **ret) {
        _cleanup_free_ char *out = NULL;
        size_t n, o;
        char *shrunk;

        if (!in)
                return -EINVAL;
        n = strlen(in);

        /* Decoding never lengthens: n bytes in give at most n out. */
        out = malloc(MIN(n, (size_t) GRPC_MESSAGE_MAX_BYTES) + 1);
        if (!out)
                return -ENOMEM;
        o = message_decode_into(in, n, out, GRPC_MESSAGE_MAX_BYTES);

        shrunk = realloc(out, o + 1);
        if (shrunk)
                out = shrunk;
        *ret = TAKE_PTR(out);
        return 0;
}

void grpc_header_info_init(GrpcHeaderInfo *info) {
        *info = (GrpcHeaderInfo) {};
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static char ascii_lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

/* Case-insensitive compare of s[0..n) with the NUL-terminated lower-case word. */
static bool mem_case_eq(const char *s, size_t n, const char *word) {
        size_t l = strlen(word);

        if (n != l)
                return false;
        for (size_t i = 0; i < n; i++)
                if (ascii_lower(s[i]) != word[i])
                        return false;
        return true;
}

static bool mem_case_startswith(const char *s, size_t n, const char *word) {
        size_t l = strlen(word);

        return n >= l && mem_case_eq(s, l, word);
}

/* A three-digit HTTP status code 100..599 in s[0..3). */
static int http_code_from_mem(const char *s, size_t n, int *ret) {
        int v;

        if (n != 3 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]))
                return -EBADMSG;
        v = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
        if (v < 100 || v > 599)
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* "HTTP/2 200", "HTTP/1.1 200 OK": the line has been trimmed already. */
static int parse_status_line(const char *line, size_t n, GrpcHeaderInfo *info) {
        size_t i = 5, start;
        int code, k;

        /* Protocol version: non-empty, up to the first blank. */
        while (i < n && !is_blank(line[i]))
                i++;
        if (i == 5 || i >= n)
                return -EBADMSG;
        while (i < n && is_blank(line[i]))
                i++;
        start = i;
        while (i < n && !is_blank(line[i]))
                i++;
        k = http_code_from_mem(line + start, i - start, &code);
        if (k < 0)
                return k;

        /* A status line begins a new response (after 1xx, or a redirect). */
        grpc_header_info_init(info);
        info->http_status = code;
        return 1;
}

int grpc_parse_header_line(const char *line, size_t n, GrpcHeaderInfo *info) {
        const char *colon, *name, *value;
        size_t name_len, value_len;

        if (!line)
                return 0;
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n' || is_blank(line[n - 1])))
                n--;
        if (n == 0)
                return 0;

        if (n >= 5 && memcmp(line, "HTTP/", 5) == 0)
                return parse_status_line(line, n, info);

        /* Pseudo-headers (":status") start with the separator character. */
        name = line;
        colon = memchr(line + (line[0] == ':'), ':', n - (line[0] == ':'));
        if (!colon)
                return 0;
        name_len = (size_t) (colon - line);
        value = colon + 1;
        value_len = n - name_len - 1;
        while (value_len > 0 && is_blank(*value)) {
                value++;
                value_len--;
        }
        return grpc_parse_header(name, name_len, value, value_len, info);
}

int grpc_parse_header(const char *name, size_t name_len, const char *value, size_t value_len,
                      GrpcHeaderInfo *info) {
        int k;

        if (!name || !value)
                return 0;
        if (mem_case_eq(name, name_len, ":status")) {
                int code;

                k = http_code_from_mem(value, value_len, &code);
                if (k < 0)
                        return k;
                info->http_status = code;
                return 1;
        }

        if (mem_case_eq(name, name_len, "grpc-status")) {
                int code;

                k = status_from_mem(value, value_len, &code);
                if (k < 0)
                        return -EBADMSG;
                info->has_grpc_status = true;
                info->grpc_status = code;
                return 1;
        }

        if (mem_case_eq(name, name_len, "grpc-message")) {
                message_decode_into(value, value_len, info->grpc_message, GRPC_MESSAGE_MAX_BYTES);
                info->has_grpc_message = true;
                return 1;
        }

        if (mem_case_eq(name, name_len, "content-type")) {
                size_t l = MIN(value_len, (size_t) GRPC_CONTENT_TYPE_MAX_BYTES);

                for (size_t i = 0; i < l; i++)
                        info->content_type[i] = is_control((uint8_t) value[i]) ? '?' : value[i];
                info->content_type[l] = '\0';
                info->has_content_type = true;
                info->content_type_is_grpc =
                        mem_case_eq(value, value_len, "application/grpc") ||
                        mem_case_startswith(value, value_len, "application/grpc+") ||
                        mem_case_startswith(value, value_len, "application/grpc;");
                return 1;
        }

        return 0;
}
