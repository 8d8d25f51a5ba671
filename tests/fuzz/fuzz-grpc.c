/* SPDX-License-Identifier: MIT */
/*
 * fuzz-grpc.c — libFuzzer target for the gRPC deframer and status helpers.
 *
 * Input layout: byte 0 flags (low nibble: how large the pieces are; bit 4:
 * the callback aborts after a few messages), byte 1 the message size limit,
 * bytes 2-3 the seed that picks the split points, then the response body.
 * The body is fed once whole and once in pseudo-random pieces; both runs
 * must deliver the same messages and end with the same result, and every
 * message is decoded as a SnapshotResponse. The body is also fed line by
 * line to the header-line parser and as a string to grpc_message_decode.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/grpc.h"
#include "format/pb.h"
#include "fuzz.h"

typedef struct Run {
        uint64_t hash;
        uint64_t count;
        uint64_t abort_after; /* 0 = never */
} Run;

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

static int on_message(const uint8_t *msg, size_t len, void *userdata) {
        Run *run = userdata;
        PbSnapshotResponse s;
        uint8_t l[8];

        require(msg);
        if (run->abort_after > 0 && run->count == run->abort_after)
                return -ECANCELED;
        run->count++;
        for (unsigned i = 0; i < 8; i++)
                l[i] = (uint8_t) ((uint64_t) len >> (8 * i));
        run->hash = fnv1a(run->hash, l, sizeof l);
        run->hash = fnv1a(run->hash, msg, len);

        if (pb_snapshot_response_decode(msg, len, &s) == 0 && s.has_blob && s.blob_size > 0)
                require(s.blob >= msg && (size_t) (s.blob - msg) + s.blob_size <= len);
        return 0;
}

static uint64_t rng_next(uint64_t *s) {
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * UINT64_C(2685821657736338717);
}

static void fuzz_deframer(uint8_t flags, size_t max, uint64_t seed, const uint8_t *body,
                          size_t n) {
        static const size_t piece_max[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 16, 64, 255, 1024, 4096,
                                              16384, 65536, 1 << 20 };
        _cleanup_(grpc_deframer_done) GrpcDeframer whole = {}, split = {};
        Run a = { .hash = 1, .abort_after = (flags & 0x10) ? 1 + (seed & 3) : 0 };
        Run b = a;
        int ka, kb = 0;

        grpc_deframer_init(&whole, max);
        ka = grpc_deframer_feed(&whole, body, n, on_message, &a);

        grpc_deframer_init(&split, max);
        for (size_t i = 0; i < n && kb == 0;) {
                size_t piece = 1 + (size_t) (rng_next(&seed) % piece_max[flags & 0x0f]);

                piece = MIN(piece, n - i);
                kb = grpc_deframer_feed(&split, body + i, piece, on_message, &b);
                require(split.buf_alloc <= max);
                i += piece;
        }

        require(ka == kb);
        require(a.count == b.count && a.hash == b.hash);
        require(grpc_deframer_is_idle(&whole) == grpc_deframer_is_idle(&split));
        require(ka == 0 || ka == -EPROTO || ka == -EBADMSG || ka == -E2BIG || ka == -ECANCELED ||
                ka == -ENOMEM);
        if (ka < 0)
                require(grpc_deframer_feed(&whole, body, n, on_message, &a) == ka);
}

static void fuzz_headers(const uint8_t *body, size_t n) {
        GrpcHeaderInfo info;
        _cleanup_free_ char *str = NULL, *decoded = NULL;
        size_t start = 0;

        grpc_header_info_init(&info);
        for (size_t i = 0; i <= n; i++) {
                if (i < n && body[i] != '\n')
                        continue;
                (void) grpc_parse_header_line((const char *) body + start, MIN(i + 1, n) - start,
                                              &info);
                start = i + 1;
        }
        require(strlen(info.grpc_message) <= GRPC_MESSAGE_MAX_BYTES);
        require(strlen(info.content_type) <= GRPC_CONTENT_TYPE_MAX_BYTES);
        if (info.has_grpc_status)
                require(info.grpc_status >= 0 && info.grpc_status <= GRPC_STATUS_MAX);
        for (const char *c = info.grpc_message; *c; c++)
                require((uint8_t) *c >= 0x20 && (uint8_t) *c != 0x7f);

        /* The same bytes as one header value. */
        str = strndup((const char *) body, MIN(n, (size_t) 8192));
        if (!str)
                return;
        if (grpc_message_decode(str, &decoded) == 0) {
                require(strlen(decoded) <= GRPC_MESSAGE_MAX_BYTES);
                require(strlen(decoded) <= strlen(str));
                for (const char *c = decoded; *c; c++)
                        require((uint8_t) *c >= 0x20 && (uint8_t) *c != 0x7f);
        }
        {
                int code;
                if (grpc_status_from_string(str, &code) == 0)
                        require(code >= 0 && code <= GRPC_STATUS_MAX);
                (void) grpc_status_to_name((int) n - 8);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t flags;
        size_t max;
        uint64_t seed;

        if (size < 4)
                return 0;
        flags = data[0];
        max = data[1] == 0 ? 65536 : (size_t) data[1] * 64;
        /* xorshift must not start from 0. */
        seed = ((uint64_t) data[2] << 8 | data[3]) * UINT64_C(0x9e3779b97f4a7c15) + 1;

        fuzz_deframer(flags, max, seed, data + 4, size - 4);
        fuzz_headers(data + 4, size - 4);
        return 0;
}
