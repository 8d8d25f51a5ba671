/* SPDX-License-Identifier: MIT */
/*
 * test-grpc.c — gRPC framing and status: the deframer fed whole, byte by
 * byte and in pseudo-random splits must produce the same messages; bad
 * prefixes, truncation and callback aborts are caught; grpc-status,
 * grpc-message and the header-line helper behave on good and hostile input.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/grpc.h"
#include "test.h"

#define MAX_MSG (64 * 1024)

/* xorshift64*: a fixed seed gives the same splits on every run. */
static uint64_t rng_next(uint64_t *s) {
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * UINT64_C(2685821657736338717);
}

typedef struct Stream {
        uint8_t *data;
        size_t n;
        /* Expected messages: offsets into data and sizes. */
        size_t off[32];
        size_t len[32];
        size_t count;
} Stream;

static void stream_add(Stream *s, const uint8_t *msg, size_t len) {
        uint8_t h[GRPC_FRAME_HEADER_BYTES];

        check(s->count < ELEMENTSOF(s->off));
        check_int_eq(grpc_frame_header(h, len), 0);
        s->data = realloc(s->data, s->n + sizeof h + len + 1);
        check(s->data);
        memcpy(s->data + s->n, h, sizeof h);
        s->n += sizeof h;
        if (len > 0)
                memcpy(s->data + s->n, msg, len);
        s->off[s->count] = s->n;
        s->len[s->count] = len;
        s->count++;
        s->n += len;
}

/* A body like etcd's Snapshot stream, plus the awkward sizes. */
static void stream_build(Stream *s) {
        static const size_t sizes[] = { 32768, 32768, 0, 1, 4, 5, 6, 32768 + 17, 100, 0, 0,
                                        MAX_MSG, 32 };
        uint8_t *msg = malloc(MAX_MSG);
        uint64_t seed = 1;

        check(msg);
        *s = (Stream) {};
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                for (size_t j = 0; j < sizes[i]; j++)
                        msg[j] = (uint8_t) rng_next(&seed);
                stream_add(s, msg, sizes[i]);
        }
        free(msg);
}

typedef struct Collect {
        const Stream *expect;
        size_t seen;
        size_t in_place;        /* delivered pointing into the fed chunk */
        const uint8_t *chunk;
        size_t chunk_size;
        size_t abort_at;        /* fail on this message (1-based); 0 = never */
} Collect;

static int on_message(const uint8_t *msg, size_t len, void *userdata) {
        Collect *c = userdata;

        check(msg);
        if (c->abort_at > 0 && c->seen + 1 == c->abort_at)
                return -ECANCELED;
        check(c->seen < c->expect->count);
        check_int_eq(len, c->expect->len[c->seen]);
        check(memcmp(msg, c->expect->data + c->expect->off[c->seen], len) == 0);
        if (len == 0 || (c->chunk && msg >= c->chunk && msg + len <= c->chunk + c->chunk_size))
                c->in_place++;
        c->seen++;
        return 0;
}

static int feed(GrpcDeframer *d, Collect *c, const uint8_t *p, size_t n) {
        c->chunk = p;
        c->chunk_size = n;
        return grpc_deframer_feed(d, p, n, on_message, c);
}

static void test_frame_header(void) {
        uint8_t h[GRPC_FRAME_HEADER_BYTES];

        check_int_eq(grpc_frame_header(h, 0), 0);
        check(memcmp(h, "\0\0\0\0\0", 5) == 0);
        check_int_eq(grpc_frame_header(h, 32768), 0);
        check(memcmp(h, "\0\0\0\x80\0", 5) == 0);
        check_int_eq(grpc_frame_header(h, 0x01020304), 0);
        check(memcmp(h, "\0\x01\x02\x03\x04", 5) == 0);
        check_int_eq(grpc_frame_header(h, UINT32_MAX), 0);
        check(memcmp(h, "\0\xff\xff\xff\xff", 5) == 0);
#if SIZE_MAX > UINT32_MAX
        memset(h, 0x77, sizeof h);
        check_int_eq(grpc_frame_header(h, (size_t) UINT32_MAX + 1), -E2BIG);
        check(memcmp(h, "\x77\x77\x77\x77\x77", 5) == 0);
#endif
}

static void test_whole(void) {
        _cleanup_(grpc_deframer_done) GrpcDeframer d = {};
        Stream s;
        Collect c = { .expect = &s };

        stream_build(&s);
        grpc_deframer_init(&d, MAX_MSG);
        check(grpc_deframer_is_idle(&d));
        check_int_eq(feed(&d, &c, s.data, s.n), 0);
        check_int_eq(c.seen, s.count);
        /* Every message was contiguous: all handed over in place, nothing buffered. */
        check_int_eq(c.in_place, s.count);
        check(!d.buf);
        check(grpc_deframer_is_idle(&d));
        check_u64_eq(d.n_messages, s.count);

        /* Empty feeds, NULL included, change nothing. */
        check_int_eq(grpc_deframer_feed(&d, NULL, 0, on_message, &c), 0);
        check(grpc_deframer_is_idle(&d));
        free(s.data);
}

static void test_byte_by_byte(void) {
        _cleanup_(grpc_deframer_done) GrpcDeframer d = {};
        Stream s;
        Collect c = { .expect = &s };

        stream_build(&s);
        grpc_deframer_init(&d, MAX_MSG);
        for (size_t i = 0; i < s.n; i++) {
                check_int_eq(feed(&d, &c, s.data + i, 1), 0);
                /* Idle exactly at message boundaries. */
                if (i + 1 < s.n)
                        check(grpc_deframer_is_idle(&d) ==
                              (c.seen > 0 && s.off[c.seen - 1] + s.len[c.seen - 1] == i + 1));
        }
        check_int_eq(c.seen, s.count);
        check(grpc_deframer_is_idle(&d));
        check(d.buf_alloc <= MAX_MSG);
        free(s.data);
}

static void test_random_splits(void) {
        Stream s;

        stream_build(&s);
        for (uint64_t seed = 1; seed <= 200; seed++) {
                _cleanup_(grpc_deframer_done) GrpcDeframer d = {};
                Collect c = { .expect = &s };
                uint64_t st = seed * UINT64_C(0x9e3779b97f4a7c15);
                /* Small seeds favour tiny pieces, large ones big pieces. */
                size_t max_piece = seed % 4 == 0 ? 7 : seed % 4 == 1 ? 300 : seed % 4 == 2 ? 40000 : 200000;

                grpc_deframer_init(&d, MAX_MSG);
                for (size_t i = 0; i < s.n;) {
                        size_t piece = 1 + (size_t) (rng_next(&st) % max_piece);

                        piece = MIN(piece, s.n - i);
                        check_int_eq(feed(&d, &c, s.data + i, piece), 0);
                        i += piece;
                }
                check_int_eq(c.seen, s.count);
                check(grpc_deframer_is_idle(&d));
                check(d.buf_alloc <= MAX_MSG);
        }
        free(s.data);
}

static void test_many_in_one_chunk(void) {
        _cleanup_(grpc_deframer_done) GrpcDeframer d = {};
        Stream s = {};
        Collect c = { .expect = &s };

        for (unsigned i = 0; i < 20; i++)
                stream_add(&s, (const uint8_t *) "abcdefghij", 2 + i % 9);
        grpc_deframer_init(&d, 16);
        /* The first message split inside its body, the rest in one go. */
        check_int_eq(feed(&d, &c, s.data, 6), 0);
        check_int_eq(c.seen, 0);
        check_int_eq(feed(&d, &c, s.data + 6, s.n - 6), 0);
        check_int_eq(c.seen, 20);
        check_int_eq(c.in_place, 19);
        check(grpc_deframer_is_idle(&d));
        free(s.data);
}

static void test_limits(void) {
        static const uint8_t exact[] = { 0, 0, 0, 0, 4, 'a', 'b', 'c', 'd' };
        static const uint8_t over[] = { 0, 0, 0, 0, 5, 'a', 'b', 'c', 'd', 'e' };
        static const uint8_t huge[] = { 0, 0xff, 0xff, 0xff, 0xff };
        static const uint8_t compressed[] = { 1, 0, 0, 0, 1, 'x' };
        static const uint8_t badflag[] = { 2, 0, 0, 0, 1, 'x' };
        Stream s = { .count = 1, .off = { 5 }, .len = { 4 } };
        GrpcDeframer d;
        Collect c;

        s.data = (uint8_t *) exact;
        s.n = sizeof exact;

        /* Exactly max_message_bytes is allowed. */
        c = (Collect) { .expect = &s };
        grpc_deframer_init(&d, 4);
        check_int_eq(feed(&d, &c, exact, sizeof exact), 0);
        check_int_eq(c.seen, 1);
        grpc_deframer_done(&d);

        /* One more is not; the error is sticky and the stream not idle. */
        c = (Collect) { .expect = &s };
        grpc_deframer_init(&d, 4);
        check_int_eq(feed(&d, &c, over, 3), 0);
        check_int_eq(feed(&d, &c, over + 3, sizeof over - 3), -E2BIG);
        check_int_eq(feed(&d, &c, exact, sizeof exact), -E2BIG);
        check_int_eq(c.seen, 0);
        check(!grpc_deframer_is_idle(&d));
        check(!d.buf);
        grpc_deframer_done(&d);

        /* 4 GiB - 1 announced: rejected before anything is allocated. */
        c = (Collect) { .expect = &s };
        grpc_deframer_init(&d, MAX_MSG);
        check_int_eq(feed(&d, &c, huge, sizeof huge), -E2BIG);
        check(!d.buf);
        grpc_deframer_done(&d);

        c = (Collect) { .expect = &s };
        grpc_deframer_init(&d, MAX_MSG);
        check_int_eq(feed(&d, &c, compressed, sizeof compressed), -EPROTO);
        check_int_eq(c.seen, 0);
        check(!grpc_deframer_is_idle(&d));
        grpc_deframer_done(&d);

        c = (Collect) { .expect = &s };
        grpc_deframer_init(&d, MAX_MSG);
        check_int_eq(feed(&d, &c, badflag, sizeof badflag), -EBADMSG);
        grpc_deframer_done(&d);

        /* max 0: only empty messages. */
        c = (Collect) { .expect = &s };
        grpc_deframer_init(&d, 0);
        check_int_eq(feed(&d, &c, exact, sizeof exact), -E2BIG);
        grpc_deframer_done(&d);

        /* done on a zeroed deframer, and twice. */
        d = (GrpcDeframer) {};
        grpc_deframer_done(&d);
        grpc_deframer_done(&d);
        grpc_deframer_done(NULL);
}

static void test_truncated(void) {
        _cleanup_(grpc_deframer_done) GrpcDeframer d = {};
        Stream s;

        stream_build(&s);
        /* Cut the stream at every interesting place: inside a prefix, right
         * after one, inside a body. Only message ends leave it idle. */
        for (size_t cut = 1; cut < 200 && cut < s.n; cut++) {
                Collect c = { .expect = &s };
                bool boundary = false;

                grpc_deframer_init(&d, MAX_MSG);
                check_int_eq(feed(&d, &c, s.data, cut), 0);
                for (size_t i = 0; i < s.count; i++)
                        if (s.off[i] + s.len[i] == cut)
                                boundary = true;
                check(grpc_deframer_is_idle(&d) == boundary);
                grpc_deframer_done(&d);
        }
        for (size_t cut = s.off[1] - 4; cut < s.off[1] + 300; cut++) {
                Collect c = { .expect = &s };

                grpc_deframer_init(&d, MAX_MSG);
                check_int_eq(feed(&d, &c, s.data, cut), 0);
                check_int_eq(c.seen, 1);
                check(!grpc_deframer_is_idle(&d));
                grpc_deframer_done(&d);
        }
        free(s.data);
}

static void test_callback_abort(void) {
        _cleanup_(grpc_deframer_done) GrpcDeframer d = {};
        Stream s;
        Collect c;

        stream_build(&s);

        /* Abort on the third message, delivered in place. */
        c = (Collect) { .expect = &s, .abort_at = 3 };
        grpc_deframer_init(&d, MAX_MSG);
        check_int_eq(feed(&d, &c, s.data, s.n), -ECANCELED);
        check_int_eq(c.seen, 2);
        check(!grpc_deframer_is_idle(&d));
        c.abort_at = 0;
        check_int_eq(feed(&d, &c, s.data, s.n), -ECANCELED);
        check_int_eq(c.seen, 2);
        grpc_deframer_done(&d);

        /* Abort on a gathered message (fed byte by byte). */
        c = (Collect) { .expect = &s, .abort_at = 2 };
        grpc_deframer_init(&d, MAX_MSG);
        for (size_t i = 0; i < s.n; i++) {
                int k = feed(&d, &c, s.data + i, 1);
                if (k < 0) {
                        check_int_eq(k, -ECANCELED);
                        check_int_eq(i + 1, s.off[1] + s.len[1]);
                        break;
                }
        }
        check_int_eq(c.seen, 1);
        check(!grpc_deframer_is_idle(&d));
        free(s.data);
}

static void test_status(void) {
        static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "01", "00", "1a", "abc",
                                           "0x1", "1.0" };
        static const char *const range[] = { "17", "99", "100", "4294967296",
                                             "99999999999999999999999999" };
        char buf[4];
        int code = -1;

        for (int i = 0; i <= 16; i++) {
                snprintf(buf, sizeof buf, "%d", i);
                code = -1;
                check_int_eq(grpc_status_from_string(buf, &code), 0);
                check_int_eq(code, i);
        }
        code = 42;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                check_int_eq(grpc_status_from_string(bad[i], &code), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(range); i++)
                check_int_eq(grpc_status_from_string(range[i], &code), -ERANGE);
        check_int_eq(grpc_status_from_string(NULL, &code), -EINVAL);
        check_int_eq(code, 42);

        check_str_eq(grpc_status_to_name(0), "OK");
        check_str_eq(grpc_status_to_name(1), "CANCELLED");
        check_str_eq(grpc_status_to_name(2), "UNKNOWN");
        check_str_eq(grpc_status_to_name(3), "INVALID_ARGUMENT");
        check_str_eq(grpc_status_to_name(4), "DEADLINE_EXCEEDED");
        check_str_eq(grpc_status_to_name(5), "NOT_FOUND");
        check_str_eq(grpc_status_to_name(6), "ALREADY_EXISTS");
        check_str_eq(grpc_status_to_name(7), "PERMISSION_DENIED");
        check_str_eq(grpc_status_to_name(8), "RESOURCE_EXHAUSTED");
        check_str_eq(grpc_status_to_name(9), "FAILED_PRECONDITION");
        check_str_eq(grpc_status_to_name(10), "ABORTED");
        check_str_eq(grpc_status_to_name(11), "OUT_OF_RANGE");
        check_str_eq(grpc_status_to_name(12), "UNIMPLEMENTED");
        check_str_eq(grpc_status_to_name(13), "INTERNAL");
        check_str_eq(grpc_status_to_name(14), "UNAVAILABLE");
        check_str_eq(grpc_status_to_name(15), "DATA_LOSS");
        check_str_eq(grpc_status_to_name(16), "UNAUTHENTICATED");
        check_str_eq(grpc_status_to_name(17), "UNKNOWN_CODE");
        check_str_eq(grpc_status_to_name(-1), "UNKNOWN_CODE");
        check_str_eq(grpc_status_to_name(INT32_MIN), "UNKNOWN_CODE");
}

static void check_decode(const char *in, const char *want) {
        _cleanup_free_ char *out = NULL;

        check_int_eq(grpc_message_decode(in, &out), 0);
        check_str_eq(out, want);
}

static void test_message_decode(void) {
        _cleanup_free_ char *big = NULL, *out = NULL;

        check_decode("", "");
        check_decode("etcdserver: no leader", "etcdserver: no leader");
        check_decode("etcdserver%3A%20request%20timed%20out", "etcdserver: request timed out");
        check_decode("100%", "100%");
        check_decode("%", "%");
        check_decode("%4", "%4");
        check_decode("%zz", "%zz");
        check_decode("%4g%41", "%4gA");
        check_decode("%%41", "%A");
        check_decode("a+b", "a+b");
        /* Printable ASCII only: UTF-8 carries C1 controls (U+009B is CSI) and bidi overrides (U+202E) too. */
        check_decode("%c3%A9t%C3%A9", "??t??");
        check_decode("x%C2%9B31mRED%E2%80%AE\xc3\x28", "x??31mRED????" "(");
        check_decode("nul%00byte", "nul?byte");
        check_decode("line%0Abreak%0d%7F%1b[31m", "line?break???[31m");
        check_decode("tab\there", "tab?here");
        check_int_eq(grpc_message_decode(NULL, &out), -EINVAL);
        check(!out);

        /* Cut to the limit. */
        big = malloc(5001);
        check(big);
        memset(big, 'a', 5000);
        big[5000] = '\0';
        check_int_eq(grpc_message_decode(big, &out), 0);
        check_int_eq(strlen(out), GRPC_MESSAGE_MAX_BYTES);
        out = mfree(out);

        /* Escapes count as one byte out; UTF-8 is '?' byte by byte, cut
         * anywhere. */
        free(big);
        big = malloc(3 * 2000 + 1);
        check(big);
        for (size_t i = 0; i < 2000; i++)
                memcpy(big + 3 * i, "%41", 3);
        big[3 * 2000] = '\0';
        check_int_eq(grpc_message_decode(big, &out), 0);
        check_int_eq(strlen(out), GRPC_MESSAGE_MAX_BYTES);
        check(out[0] == 'A');
        out = mfree(out);

        memset(big, 'a', 3 * 2000);
        memcpy(big + GRPC_MESSAGE_MAX_BYTES - 2, "\xe2\x82\xac", 3); /* "€" over the cut */
        check_int_eq(grpc_message_decode(big, &out), 0);
        check_int_eq(strlen(out), GRPC_MESSAGE_MAX_BYTES);
        check_str_eq(out + GRPC_MESSAGE_MAX_BYTES - 3, "a??");
        out = mfree(out);
        memcpy(big + GRPC_MESSAGE_MAX_BYTES - 3, "\xe2\x82\xac", 3); /* "€" ends at the cut */
        check_int_eq(grpc_message_decode(big, &out), 0);
        check_int_eq(strlen(out), GRPC_MESSAGE_MAX_BYTES);
}

static int line(const char *s, GrpcHeaderInfo *info) {
        return grpc_parse_header_line(s, strlen(s), info);
}

static void test_header_lines(void) {
        GrpcHeaderInfo info, copy;
        char big[4096];

        grpc_header_info_init(&info);
        check_int_eq(info.http_status, 0);
        check(!info.has_grpc_status);

        check_int_eq(line("HTTP/2 200\r\n", &info), 1);
        check_int_eq(info.http_status, 200);
        check_int_eq(line("content-type: application/grpc\r\n", &info), 1);
        check(info.has_content_type);
        check(info.content_type_is_grpc);
        check_str_eq(info.content_type, "application/grpc");
        check_int_eq(line("date: Mon, 01 Jan 2024 00:00:00 GMT\r\n", &info), 0);
        check_int_eq(line("\r\n", &info), 0);
        check_int_eq(line("", &info), 0);
        check(!info.has_grpc_status);

        /* Trailers. */
        check_int_eq(line("grpc-status: 0\r\n", &info), 1);
        check(info.has_grpc_status);
        check_int_eq(info.grpc_status, 0);
        check_int_eq(line("Grpc-Message: \r\n", &info), 1);
        check(info.has_grpc_message);
        check_str_eq(info.grpc_message, "");

        /* Case, missing space, tabs and trailing blanks. */
        check_int_eq(line("GRPC-STATUS:\t14 \t\r\n", &info), 1);
        check_int_eq(info.grpc_status, 14);
        check_int_eq(line("grpc-message:   etcdserver%3A%20no%20leader  \r\n", &info), 1);
        check_str_eq(info.grpc_message, "etcdserver: no leader");
        check_int_eq(line("grpc-message: a%0Ab\n", &info), 1);
        check_str_eq(info.grpc_message, "a?b");

        /* Names that only look alike are ignored. */
        check_int_eq(line("grpc-status-details-bin: AAAA\r\n", &info), 0);
        check_int_eq(line("x-grpc-status: 3\r\n", &info), 0);
        check_int_eq(line("grpc-status : 3\r\n", &info), 0);
        check_int_eq(line("no colon here\r\n", &info), 0);
        check_int_eq(line(":\r\n", &info), 0);
        check_int_eq(info.grpc_status, 14);

        /* Bad values: error, info untouched. */
        copy = info;
        check_int_eq(line("grpc-status: 17\r\n", &info), -EBADMSG);
        check_int_eq(line("grpc-status: -1\r\n", &info), -EBADMSG);
        check_int_eq(line("grpc-status: \r\n", &info), -EBADMSG);
        check_int_eq(line("grpc-status: 1 2\r\n", &info), -EBADMSG);
        check_int_eq(line("HTTP/2 2000\r\n", &info), -EBADMSG);
        check_int_eq(line("HTTP/2 20\r\n", &info), -EBADMSG);
        check_int_eq(line("HTTP/2 099\r\n", &info), -EBADMSG);
        check_int_eq(line("HTTP/2\r\n", &info), -EBADMSG);
        check_int_eq(line("HTTP/ 200\r\n", &info), -EBADMSG);
        check_int_eq(line(":status: abc\r\n", &info), -EBADMSG);
        check(memcmp(&info, &copy, sizeof info) == 0);

        /* :status as a pseudo-header. */
        check_int_eq(line(":status: 503\r\n", &info), 1);
        check_int_eq(info.http_status, 503);

        /* A status line starts a new response. */
        check_int_eq(line("HTTP/1.1 100 Continue\r\n", &info), 1);
        check_int_eq(info.http_status, 100);
        check(!info.has_grpc_status);
        check(!info.has_grpc_message);
        check(!info.has_content_type);
        check_int_eq(line("HTTP/2 415\r\n", &info), 1);
        check_int_eq(info.http_status, 415);

        /* Other content types. */
        check_int_eq(line("Content-Type: application/grpc+proto\r\n", &info), 1);
        check(info.content_type_is_grpc);
        check_int_eq(line("content-type: application/grpc; charset=utf-8", &info), 1);
        check(info.content_type_is_grpc);
        check_int_eq(line("content-type: text/html; charset=utf-8\r\n", &info), 1);
        check(!info.content_type_is_grpc);
        check_str_eq(info.content_type, "text/html; charset=utf-8");
        check_int_eq(line("content-type: application/grpcx\r\n", &info), 1);
        check(!info.content_type_is_grpc);
        check_int_eq(line("content-type: application/grpc\x01\r\n", &info), 1);
        check(!info.content_type_is_grpc);
        check_str_eq(info.content_type, "application/grpc?");

        /* Long values are cut to the buffers. */
        memcpy(big, "content-type: ", 14);
        memset(big + 14, 'x', sizeof big - 14);
        check_int_eq(grpc_parse_header_line(big, sizeof big, &info), 1);
        check_int_eq(strlen(info.content_type), GRPC_CONTENT_TYPE_MAX_BYTES);
        memcpy(big, "grpc-message: ", 14);
        check_int_eq(grpc_parse_header_line(big, sizeof big, &info), 1);
        check_int_eq(strlen(info.grpc_message), GRPC_MESSAGE_MAX_BYTES);

        /* Not NUL-terminated: only n bytes are looked at. */
        memcpy(big, "grpc-status: 4", 14);
        memset(big + 14, '9', 10);
        check_int_eq(grpc_parse_header_line(big, 14, &info), 1);
        check_int_eq(info.grpc_status, 4);
        check_int_eq(grpc_parse_header_line(NULL, 0, &info), 0);
}

int main(void) {
        TEST_RUN(test_frame_header);
        TEST_RUN(test_whole);
        TEST_RUN(test_byte_by_byte);
        TEST_RUN(test_random_splits);
        TEST_RUN(test_many_in_one_chunk);
        TEST_RUN(test_limits);
        TEST_RUN(test_truncated);
        TEST_RUN(test_callback_abort);
        TEST_RUN(test_status);
        TEST_RUN(test_message_decode);
        TEST_RUN(test_header_lines);
        return 0;
}
