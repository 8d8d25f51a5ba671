/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * grpc.h — gRPC over HTTP/2, the parts that are not HTTP: the 5-byte
 * length prefix of each message (1 byte compressed flag, 4 bytes big-endian
 * length), a streaming deframer for response bodies that arrive in
 * arbitrary chunks, and the gRPC status carried in response headers or
 * trailers (grpc-status, grpc-message). etcd.c drives these from nghttp2's
 * data and header callbacks. Pure: no I/O, no logging. Everything fed in
 * comes from the network and is bounded before use.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

#define GRPC_FRAME_HEADER_BYTES 5
/* A decoded grpc-message is cut to this many bytes. */
#define GRPC_MESSAGE_MAX_BYTES 1024
/* A content-type value is kept up to this many bytes. */
#define GRPC_CONTENT_TYPE_MAX_BYTES 127

/* The canonical status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
typedef enum GrpcStatus {
        GRPC_STATUS_OK = 0,
        GRPC_STATUS_CANCELLED = 1,
        GRPC_STATUS_UNKNOWN = 2,
        GRPC_STATUS_INVALID_ARGUMENT = 3,
        GRPC_STATUS_DEADLINE_EXCEEDED = 4,
        GRPC_STATUS_NOT_FOUND = 5,
        GRPC_STATUS_ALREADY_EXISTS = 6,
        GRPC_STATUS_PERMISSION_DENIED = 7,
        GRPC_STATUS_RESOURCE_EXHAUSTED = 8,
        GRPC_STATUS_FAILED_PRECONDITION = 9,
        GRPC_STATUS_ABORTED = 10,
        GRPC_STATUS_OUT_OF_RANGE = 11,
        GRPC_STATUS_UNIMPLEMENTED = 12,
        GRPC_STATUS_INTERNAL = 13,
        GRPC_STATUS_UNAVAILABLE = 14,
        GRPC_STATUS_DATA_LOSS = 15,
        GRPC_STATUS_UNAUTHENTICATED = 16,
        GRPC_STATUS_MAX = GRPC_STATUS_UNAUTHENTICATED,
} GrpcStatus;

/* Write the 5-byte prefix for an uncompressed message of len bytes into out.
 * Returns 0, or -E2BIG when len does not fit in 32 bits (out untouched). */
int grpc_frame_header(uint8_t out[static GRPC_FRAME_HEADER_BYTES], size_t len);

/* Called once per complete message. msg is valid only during the call (it
 * points into the fed chunk or into the deframer's buffer) and is non-NULL
 * even when len is 0. Return 0 to go on, or a negative errno to stop: the
 * deframer then fails and grpc_deframer_feed() returns that value. */
typedef int (*GrpcMessageFn)(const uint8_t *msg, size_t len, void *userdata);

/* Splits a response body into messages. A message that lies whole inside
 * one fed chunk is handed over in place (no copy); only a message that
 * spans chunks is gathered in a buffer, which never grows beyond
 * max_message_bytes. Fields are private. */
typedef struct GrpcDeframer {
        size_t max_message_bytes;
        uint8_t header[GRPC_FRAME_HEADER_BYTES];
        size_t header_have;     /* bytes of the current prefix seen */
        size_t message_size;    /* current message, once header_have == 5 */
        size_t message_have;    /* bytes of it gathered in buf */
        uint8_t *buf;
        size_t buf_alloc;
        int error;              /* sticky: once < 0, every feed returns it */
        uint64_t n_messages;    /* messages delivered so far */
} GrpcDeframer;

/* Prepare d for a new stream; messages longer than max_message_bytes are
 * rejected. Allocates nothing. */
void grpc_deframer_init(GrpcDeframer *d, size_t max_message_bytes);

/* Feed the next n bytes of the response body (any split: a prefix or a
 * message may span calls, one call may hold many messages) and call
 * on_message for each message completed. data may be NULL when n is 0.
 * on_message must not feed the same deframer. Returns 0, or -EPROTO (a
 * compressed message: we never offer compression), -EBADMSG (a flag byte
 * other than 0 or 1), -E2BIG (length above max_message_bytes), -ENOMEM, or
 * the callback's negative return. Any error is sticky: later feeds return
 * it again without looking at their data. */
int grpc_deframer_feed(GrpcDeframer *d, const void *data, size_t n, GrpcMessageFn on_message,
                       void *userdata);

/* True when no partial prefix or message is pending and no error occurred:
 * at the end of the body, false means the stream was cut short. */
bool grpc_deframer_is_idle(const GrpcDeframer *d);

/* Free the buffer. d may be reused after grpc_deframer_init(). Accepts a
 * zeroed deframer; may be used as a cleanup handler. */
void grpc_deframer_done(GrpcDeframer *d);

/* Parse a grpc-status value: strict decimal "0".."16" (no sign, spaces or
 * leading zeros). Returns 0 and *ret_code, -EINVAL (not a number) or
 * -ERANGE (a number above 16). */
int grpc_status_from_string(const char *s, int *ret_code);

/* "OK", "CANCELLED", …, "UNAUTHENTICATED"; "UNKNOWN_CODE" for any other
 * value. Static string, never NULL. */
const char *grpc_status_to_name(int code);

/* Decode a grpc-message value: %XX escapes become bytes, an invalid escape
 * stays as it is, the result is cut to GRPC_MESSAGE_MAX_BYTES, and every
 * byte that is not printable ASCII (controls, decoded NULs, UTF-8) becomes
 * '?', so the result is safe to log. Returns 0 and a new string in *ret
 * (caller frees), -EINVAL (in is NULL) or -ENOMEM. */
int grpc_message_decode(const char *in, char **ret);

/* What grpc_parse_header_line() has seen of one response. Fixed-size,
 * bounded buffers: nothing to free, safe to fill from a callback. */
typedef struct GrpcHeaderInfo {
        int http_status;                /* 0 until a status line or :status */
        bool has_grpc_status;
        int grpc_status;
        bool has_grpc_message;
        char grpc_message[GRPC_MESSAGE_MAX_BYTES + 1];  /* decoded, safe to log */
        bool has_content_type;
        bool content_type_is_grpc;      /* application/grpc[+proto|;…] */
        char content_type[GRPC_CONTENT_TYPE_MAX_BYTES + 1];  /* cut, '?' for all but printable ASCII */
} GrpcHeaderInfo;

/* Zero info. */
void grpc_header_info_init(GrpcHeaderInfo *info);

/* Look at one header line in HTTP/1-style text, as libcurl's header
 * callback hands it over (not NUL-terminated, with CRLF; trailers come the
 * same way); grpc_parse_header() below does the work. Recognises the
 * status line ("HTTP/2 200", "HTTP/1.1 200 OK"), ":status", "grpc-status",
 * "grpc-message" and "content-type" (names case-insensitive, surrounding
 * spaces, tabs and CRLF trimmed); a later value replaces an earlier one. A
 * status line starts a new response and forgets everything seen before it.
 * Returns 1 when the line was stored, 0 when it is of no interest (other
 * headers, the empty line ending a block), or -EBADMSG for a malformed
 * status line or grpc-status value (info then untouched). */
int grpc_parse_header_line(const char *line, size_t n, GrpcHeaderInfo *info);

/* The same for one header as HTTP/2 hands it over, name and value apart
 * (neither NUL-terminated; the value as it is, nothing trimmed). */
int grpc_parse_header(const char *name, size_t name_len, const char *value, size_t value_len,
                      GrpcHeaderInfo *info);
