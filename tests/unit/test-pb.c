/* SPDX-License-Identifier: MIT */
/*
 * test-pb.c — the bounded protobuf reader and the etcd message decoders:
 * varint limits, every wire type skipped when unknown, nested headers,
 * truncation and absurd lengths, wrong wire types, and realistic
 * StatusResponse / SnapshotResponse messages built by a small local encoder.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/pb.h"
#include "util/str.h"
#include "test.h"

/* A minimal protobuf encoder, only for building test input. */
typedef struct Enc {
        uint8_t *data;
        size_t n;
        size_t alloc;
} Enc;

static void enc_free(Enc *e) {
        free(e->data);
        *e = (Enc) {};
}

static void enc_raw(Enc *e, const void *p, size_t n) {
        if (e->n + n > e->alloc) {
                size_t a = MAX(e->alloc * 2, e->n + n + 64);
                e->data = realloc(e->data, a);
                check(e->data);
                e->alloc = a;
        }
        if (n > 0)
                memcpy(e->data + e->n, p, n);
        e->n += n;
}

static void enc_byte(Enc *e, uint8_t b) {
        enc_raw(e, &b, 1);
}

static void enc_varint(Enc *e, uint64_t v) {
        while (v >= 0x80) {
                enc_byte(e, (uint8_t) (v | 0x80));
                v >>= 7;
        }
        enc_byte(e, (uint8_t) v);
}

static void enc_tag(Enc *e, uint32_t field, unsigned wt) {
        enc_varint(e, (uint64_t) field << 3 | wt);
}

static void enc_uint(Enc *e, uint32_t field, uint64_t v) {
        enc_tag(e, field, PB_WIRE_VARINT);
        enc_varint(e, v);
}

static void enc_bytes(Enc *e, uint32_t field, const void *p, size_t n) {
        enc_tag(e, field, PB_WIRE_LEN);
        enc_varint(e, n);
        enc_raw(e, p, n);
}

static void enc_str(Enc *e, uint32_t field, const char *s) {
        enc_bytes(e, field, s, strlen(s));
}

static void enc_fixed64(Enc *e, uint32_t field, uint64_t v) {
        enc_tag(e, field, PB_WIRE_I64);
        for (unsigned i = 0; i < 8; i++)
                enc_byte(e, (uint8_t) (v >> (8 * i)));
}

static void enc_fixed32(Enc *e, uint32_t field, uint32_t v) {
        enc_tag(e, field, PB_WIRE_I32);
        for (unsigned i = 0; i < 4; i++)
                enc_byte(e, (uint8_t) (v >> (8 * i)));
}

static void enc_header(Enc *e, uint32_t field, uint64_t cluster, uint64_t member, int64_t rev,
                       uint64_t term) {
        Enc h = {};

        enc_uint(&h, 1, cluster);
        enc_uint(&h, 2, member);
        enc_uint(&h, 3, (uint64_t) rev);
        enc_uint(&h, 4, term);
        enc_bytes(e, field, h.data, h.n);
        enc_free(&h);
}

static int varint_of(const uint8_t *p, size_t n, uint64_t *ret, size_t *ret_used) {
        PbReader r;
        int k;

        pb_reader_init(&r, p, n);
        k = pb_read_varint(&r, ret);
        *ret_used = n - pb_reader_remaining(&r);
        return k;
}

static void test_varint_roundtrip(void) {
        static const struct {
                uint64_t v;
                size_t bytes;
        } cases[] = {
                { 0, 1 },
                { 1, 1 },
                { 127, 1 },
                { 128, 2 },
                { 300, 2 },
                { 16383, 2 },
                { 16384, 3 },
                { UINT32_MAX, 5 },
                { (uint64_t) INT64_MAX, 9 },
                { UINT64_C(1) << 63, 10 },
                { UINT64_MAX, 10 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Enc e = {};
                uint64_t v = 42;
                size_t used;

                enc_varint(&e, cases[i].v);
                check_int_eq(e.n, cases[i].bytes);
                check_int_eq(varint_of(e.data, e.n, &v, &used), 0);
                check_u64_eq(v, cases[i].v);
                check_int_eq(used, cases[i].bytes);
                enc_free(&e);
        }
}

static void test_varint_edges(void) {
        static const uint8_t max10[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
        static const uint8_t over10[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
        static const uint8_t eleven[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00 };
        static const uint8_t zero11[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
        static const uint8_t nonminimal[] = { 0x80, 0x80, 0x00 };
        static const uint8_t trunc1[] = { 0x80 };
        static const uint8_t trunc9[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        uint64_t v = 7;
        size_t used;

        check_int_eq(varint_of(max10, sizeof max10, &v, &used), 0);
        check_u64_eq(v, UINT64_MAX);
        check_int_eq(used, 10);

        /* Bit 64 set: overflow. */
        v = 7;
        check_int_eq(varint_of(over10, sizeof over10, &v, &used), -EBADMSG);
        check_u64_eq(v, 7);
        check_int_eq(used, 0);

        /* 11 bytes: rejected, even when the value would be 0. */
        check_int_eq(varint_of(eleven, sizeof eleven, &v, &used), -EBADMSG);
        check_int_eq(varint_of(zero11, sizeof zero11, &v, &used), -EBADMSG);
        check_int_eq(used, 0);

        /* Non-minimal but short encodings are valid protobuf. */
        check_int_eq(varint_of(nonminimal, sizeof nonminimal, &v, &used), 0);
        check_u64_eq(v, 0);
        check_int_eq(used, 3);

        v = 7;
        check_int_eq(varint_of(trunc1, sizeof trunc1, &v, &used), -EBADMSG);
        check_int_eq(varint_of(trunc9, sizeof trunc9, &v, &used), -EBADMSG);
        check_int_eq(varint_of(NULL, 0, &v, &used), -EBADMSG);
        check_u64_eq(v, 7);
}

static void test_fixed(void) {
        static const uint8_t b[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
        PbReader r;
        uint64_t v64 = 0;
        uint32_t v32 = 0;

        pb_reader_init(&r, b, 8);
        check_int_eq(pb_read_fixed64(&r, &v64), 0);
        check_u64_eq(v64, UINT64_C(0x0807060504030201));
        check_int_eq(pb_reader_remaining(&r), 0);

        pb_reader_init(&r, b, 7);
        check_int_eq(pb_read_fixed64(&r, &v64), -EBADMSG);
        check_int_eq(pb_reader_remaining(&r), 7);
        check_int_eq(pb_read_fixed32(&r, &v32), 0);
        check_u64_eq(v32, 0x04030201);
        check_int_eq(pb_read_fixed32(&r, &v32), -EBADMSG);
        check_int_eq(pb_reader_remaining(&r), 3);
}

static void test_read_len(void) {
        Enc e = {};
        PbReader r;
        const uint8_t *p = NULL;
        size_t n = 99;

        /* Fits exactly. */
        enc_varint(&e, 3);
        enc_raw(&e, "abc", 3);
        pb_reader_init(&r, e.data, e.n);
        check_int_eq(pb_read_len(&r, &p, &n), 0);
        check_int_eq(n, 3);
        check(p == e.data + 1);
        check_int_eq(pb_reader_remaining(&r), 0);
        enc_free(&e);

        /* One byte short. */
        enc_varint(&e, 4);
        enc_raw(&e, "abc", 3);
        pb_reader_init(&r, e.data, e.n);
        p = NULL;
        n = 99;
        check_int_eq(pb_read_len(&r, &p, &n), -EBADMSG);
        check(!p);
        check_int_eq(n, 99);
        check_int_eq(pb_reader_remaining(&r), 4);
        enc_free(&e);

        /* Absurd lengths must not wrap pointer arithmetic. */
        static const uint64_t huge[] = { UINT64_C(1) << 63, UINT64_MAX, (uint64_t) SIZE_MAX,
                                         (uint64_t) SIZE_MAX - 2, UINT64_C(1) << 32 };
        for (size_t i = 0; i < ELEMENTSOF(huge); i++) {
                enc_varint(&e, huge[i]);
                enc_raw(&e, "abc", 3);
                pb_reader_init(&r, e.data, e.n);
                check_int_eq(pb_read_len(&r, &p, &n), -EBADMSG);
                enc_free(&e);
        }
}

static int one_field(const Enc *e, PbField *f) {
        PbReader r;

        pb_reader_init(&r, e->data, e->n);
        return pb_next_field(&r, f);
}

static void test_next_field(void) {
        Enc e = {};
        PbField f = {};
        PbReader r;

        /* End of buffer. */
        pb_reader_init(&r, NULL, 0);
        check_int_eq(pb_next_field(&r, &f), 0);

        /* Field number 0. */
        enc_tag(&e, 0, PB_WIRE_VARINT);
        enc_varint(&e, 1);
        check_int_eq(one_field(&e, &f), -EBADMSG);
        enc_free(&e);

        /* Largest allowed field number, and one past it. */
        enc_uint(&e, PB_FIELD_NUMBER_MAX, 5);
        check_int_eq(one_field(&e, &f), 1);
        check_u64_eq(f.number, PB_FIELD_NUMBER_MAX);
        check_u64_eq(f.value, 5);
        enc_free(&e);
        enc_varint(&e, ((uint64_t) PB_FIELD_NUMBER_MAX + 1) << 3);
        enc_varint(&e, 5);
        check_int_eq(one_field(&e, &f), -EBADMSG);
        enc_free(&e);
        enc_varint(&e, UINT64_MAX & ~UINT64_C(7));
        enc_varint(&e, 5);
        check_int_eq(one_field(&e, &f), -EBADMSG);
        enc_free(&e);

        /* Groups and the unassigned wire types. */
        for (unsigned wt = 3; wt <= 7; wt++) {
                if (wt == PB_WIRE_I32)
                        continue;
                enc_tag(&e, 1, wt);
                enc_raw(&e, "\0\0\0\0\0\0\0\0", 8);
                check_int_eq(one_field(&e, &f), -EBADMSG);
                enc_free(&e);
        }

        /* Truncated tag, truncated payloads of every wire type. */
        enc_byte(&e, 0x88);
        check_int_eq(one_field(&e, &f), -EBADMSG);
        enc_free(&e);
        enc_tag(&e, 1, PB_WIRE_VARINT);
        check_int_eq(one_field(&e, &f), -EBADMSG);
        enc_free(&e);
        enc_tag(&e, 1, PB_WIRE_I64);
        enc_raw(&e, "1234567", 7);
        check_int_eq(one_field(&e, &f), -EBADMSG);
        enc_free(&e);
        enc_tag(&e, 1, PB_WIRE_I32);
        enc_raw(&e, "123", 3);
        check_int_eq(one_field(&e, &f), -EBADMSG);
        enc_free(&e);
        enc_tag(&e, 1, PB_WIRE_LEN);
        check_int_eq(one_field(&e, &f), -EBADMSG);
        enc_free(&e);

        /* Each wire type reads back. */
        enc_fixed32(&e, 7, 0xdeadbeef);
        enc_fixed64(&e, 8, UINT64_C(0x0123456789abcdef));
        enc_str(&e, 9, "xyz");
        pb_reader_init(&r, e.data, e.n);
        check_int_eq(pb_next_field(&r, &f), 1);
        check_int_eq(f.number, 7);
        check_int_eq(f.wire_type, PB_WIRE_I32);
        check_u64_eq(f.value, 0xdeadbeef);
        check_int_eq(pb_next_field(&r, &f), 1);
        check_int_eq(f.wire_type, PB_WIRE_I64);
        check_u64_eq(f.value, UINT64_C(0x0123456789abcdef));
        check_int_eq(pb_next_field(&r, &f), 1);
        check_int_eq(f.wire_type, PB_WIRE_LEN);
        check_int_eq(f.size, 3);
        check(memcmp(f.data, "xyz", 3) == 0);
        check_int_eq(pb_next_field(&r, &f), 0);
        enc_free(&e);
}

/* Unknown fields of every wire type around and between the known ones. */
static void add_unknowns(Enc *e, uint32_t base) {
        Enc nested = {};

        enc_uint(&nested, 1, 1);
        enc_str(&nested, 2, "inner");
        enc_uint(e, base, UINT64_MAX);
        enc_fixed64(e, base + 1, 1);
        enc_fixed32(e, base + 2, 2);
        enc_str(e, base + 3, "an unknown string");
        enc_bytes(e, base + 4, nested.data, nested.n);
        enc_bytes(e, base + 5, "", 0);
        enc_uint(e, PB_FIELD_NUMBER_MAX, 3);
        enc_free(&nested);
}

static void test_skip_unknown(void) {
        static const uint8_t blob[] = { 'b', 'o', 'l', 't' };
        Enc e = {};
        PbSnapshotResponse s = {};

        add_unknowns(&e, 100);
        enc_uint(&e, 2, 12345);
        add_unknowns(&e, 1000);
        enc_bytes(&e, 3, blob, sizeof blob);
        add_unknowns(&e, 5);
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), 0);
        check_u64_eq(s.remaining_bytes, 12345);
        check(s.has_blob);
        check_int_eq(s.blob_size, sizeof blob);
        check(memcmp(s.blob, blob, sizeof blob) == 0);
        check(!s.has_header);
        check_str_eq(s.version, "");
        enc_free(&e);

        /* An unknown field whose length runs past the end is still malformed. */
        enc_uint(&e, 2, 1);
        enc_tag(&e, 99, PB_WIRE_LEN);
        enc_varint(&e, 10);
        enc_raw(&e, "short", 5);
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), -EBADMSG);
        enc_free(&e);

        /* So is an unknown group. */
        enc_uint(&e, 2, 1);
        enc_tag(&e, 99, PB_WIRE_SGROUP);
        enc_tag(&e, 99, PB_WIRE_EGROUP);
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), -EBADMSG);
        enc_free(&e);
}

static void test_header(void) {
        Enc e = {}, h = {};
        PbResponseHeader hdr = {};
        PbSnapshotResponse s = {};

        /* Negative revision: a 10-byte varint. */
        enc_uint(&h, 1, UINT64_C(0xcdef0123456789ab));
        enc_uint(&h, 2, 17);
        enc_uint(&h, 3, (uint64_t) INT64_C(-1));
        enc_uint(&h, 4, 9);
        add_unknowns(&h, 50);
        check_int_eq(pb_response_header_decode(h.data, h.n, &hdr), 0);
        check_u64_eq(hdr.cluster_id, UINT64_C(0xcdef0123456789ab));
        check_u64_eq(hdr.member_id, 17);
        check_int_eq(hdr.revision, -1);
        check_u64_eq(hdr.raft_term, 9);
        enc_free(&h);

        /* Nested, and two occurrences merge field by field. */
        enc_header(&e, 1, 11, 22, 33, 44);
        enc_uint(&h, 3, 1000);
        enc_bytes(&e, 1, h.data, h.n);
        enc_free(&h);
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), 0);
        check(s.has_header);
        check_u64_eq(s.header.cluster_id, 11);
        check_u64_eq(s.header.member_id, 22);
        check_int_eq(s.header.revision, 1000);
        check_u64_eq(s.header.raft_term, 44);
        check(!s.has_blob);
        enc_free(&e);

        /* Wrong wire type inside the nested header. */
        enc_fixed64(&h, 3, 5);
        check_int_eq(pb_response_header_decode(h.data, h.n, &hdr), -EBADMSG);
        enc_bytes(&e, 1, h.data, h.n);
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), -EBADMSG);
        enc_free(&h);
        enc_free(&e);

        /* Header bytes that are themselves truncated. */
        enc_byte(&h, 0x08);
        enc_byte(&h, 0x80);
        enc_bytes(&e, 1, h.data, h.n);
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), -EBADMSG);
        enc_free(&h);
        enc_free(&e);
}

static void test_truncated(void) {
        uint8_t blob[64];
        Enc e = {};
        PbSnapshotResponse s = {};

        memset(blob, 0xab, sizeof blob);
        enc_uint(&e, 2, 64);
        enc_bytes(&e, 3, blob, sizeof blob);
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), 0);

        /* Every proper prefix that cuts into the blob field fails. The first
         * two bytes (remaining_bytes) alone are a valid message. */
        for (size_t n = 3; n < e.n; n++)
                check_int_eq(pb_snapshot_response_decode(e.data, n, &s), -EBADMSG);
        check_int_eq(pb_snapshot_response_decode(e.data, 2, &s), 0);
        check(!s.has_blob);
        check_int_eq(pb_snapshot_response_decode(e.data, 1, &s), -EBADMSG);
        enc_free(&e);
}

static void test_oversize_length(void) {
        static const uint64_t lengths[] = { UINT64_C(1) << 63, UINT64_MAX, UINT64_C(1) << 40,
                                            (uint64_t) SIZE_MAX, 100 };
        PbStatusResponse st = {};
        PbSnapshotResponse s = {};

        for (size_t i = 0; i < ELEMENTSOF(lengths); i++) {
                Enc e = {};

                enc_tag(&e, 3, PB_WIRE_LEN);
                enc_varint(&e, lengths[i]);
                enc_raw(&e, "0123456789", 10);
                check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), -EBADMSG);
                enc_free(&e);

                enc_tag(&e, 2, PB_WIRE_LEN);
                enc_varint(&e, lengths[i]);
                enc_raw(&e, "0123456789", 10);
                check_int_eq(pb_status_response_decode(e.data, e.n, &st), -EBADMSG);
                enc_free(&e);
        }
}

static void test_wrong_wire_type(void) {
        PbSnapshotResponse s = {};
        PbStatusResponse st = {};
        Enc e = {};

        enc_uint(&e, 3, 5); /* blob as varint */
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), -EBADMSG);
        enc_free(&e);
        enc_str(&e, 2, "x"); /* remaining_bytes as bytes */
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), -EBADMSG);
        enc_free(&e);
        enc_fixed64(&e, 2, 5); /* remaining_bytes as fixed64 */
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), -EBADMSG);
        enc_free(&e);
        enc_uint(&e, 1, 5); /* header as varint */
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), -EBADMSG);
        enc_free(&e);
        enc_fixed32(&e, 4, 5); /* version as fixed32 */
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), -EBADMSG);
        enc_free(&e);

        enc_uint(&e, 2, 5); /* version as varint */
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), -EBADMSG);
        enc_free(&e);
        enc_str(&e, 3, "big"); /* dbSize as bytes */
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), -EBADMSG);
        enc_free(&e);
        enc_uint(&e, 8, 1); /* errors as varint */
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), -EBADMSG);
        enc_free(&e);
        enc_fixed32(&e, 10, 1); /* isLearner as fixed32 */
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), -EBADMSG);
        enc_free(&e);
        enc_uint(&e, 1, 1); /* header as varint */
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), -EBADMSG);
        enc_free(&e);
        check(!st.version);
}

static void test_snapshot_realistic(void) {
        const size_t blob_size = 32 * 1024;
        uint8_t *blob = malloc(blob_size);
        uint8_t sha[32];
        Enc e = {};
        PbSnapshotResponse s = {};

        check(blob);
        for (size_t i = 0; i < blob_size; i++)
                blob[i] = (uint8_t) (i * 31 + 7);
        for (size_t i = 0; i < sizeof sha; i++)
                sha[i] = (uint8_t) (0xf0 ^ i);

        /* As etcd 3.4/3.5 sends it: no header, remaining_bytes, blob. */
        enc_uint(&e, 2, UINT64_C(642) * 1024 * 1024);
        enc_bytes(&e, 3, blob, blob_size);
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), 0);
        check(!s.has_header);
        check_u64_eq(s.remaining_bytes, UINT64_C(642) * 1024 * 1024);
        check(s.has_blob);
        check_int_eq(s.blob_size, blob_size);
        /* Zero-copy: the blob is the bytes at the end of the input. */
        check(s.blob == e.data + e.n - blob_size);
        check(memcmp(s.blob, blob, blob_size) == 0);
        check_str_eq(s.version, "");
        enc_free(&e);

        /* The final message carries the SHA-256 and remaining_bytes 0, which
         * proto3 leaves out; etcd 3.6 adds its version. */
        enc_header(&e, 1, 0x1234, 0x5678, 99, 3);
        enc_bytes(&e, 3, sha, sizeof sha);
        enc_str(&e, 4, "3.6.0");
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), 0);
        check(s.has_header);
        check_u64_eq(s.header.cluster_id, 0x1234);
        check_int_eq(s.header.revision, 99);
        check_u64_eq(s.remaining_bytes, 0);
        check_int_eq(s.blob_size, 32);
        check(memcmp(s.blob, sha, 32) == 0);
        check_str_eq(s.version, "3.6.0");
        enc_free(&e);

        /* Present but empty blob, and the last of two blob fields wins. */
        enc_bytes(&e, 3, "first", 5);
        enc_bytes(&e, 3, "", 0);
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), 0);
        check(s.has_blob);
        check_int_eq(s.blob_size, 0);
        enc_free(&e);

        /* Empty message. */
        check_int_eq(pb_snapshot_response_decode(NULL, 0, &s), 0);
        check(!s.has_blob);
        check(!s.has_header);

        free(blob);
}

static void test_snapshot_version_limits(void) {
        char v[PB_VERSION_MAX_BYTES + 2];
        PbSnapshotResponse s = {}, sentinel;
        Enc e = {};

        memset(v, '7', sizeof v);
        v[PB_VERSION_MAX_BYTES] = '\0';
        enc_str(&e, 4, v);
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), 0);
        check_int_eq(strlen(s.version), PB_VERSION_MAX_BYTES);
        enc_free(&e);

        /* Longer is cut to 64 bytes, "..." at its end, UTF-8 as '?'. */
        v[0] = '\xc3';
        v[1] = '\xa9';
        v[PB_VERSION_MAX_BYTES] = '7';
        v[PB_VERSION_MAX_BYTES + 1] = '\0';
        enc_str(&e, 4, v);
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), 0);
        check_int_eq(strlen(s.version), PB_VERSION_MAX_BYTES);
        check(startswith(s.version, "??777"));
        check(endswith(s.version, "777..."));
        enc_free(&e);

        memset(&sentinel, 0x5a, sizeof sentinel);
        s = sentinel;

        enc_bytes(&e, 4, "3.6\0x", 5);
        check_int_eq(pb_snapshot_response_decode(e.data, e.n, &s), -EBADMSG);
        check(memcmp(&s, &sentinel, sizeof s) == 0);
        enc_free(&e);
}

static void test_status_realistic(void) {
        _cleanup_(pb_status_response_clear) PbStatusResponse st = {};
        Enc e = {}, dg = {};

        enc_header(&e, 1, UINT64_C(0xa1b2c3d4e5f60718), UINT64_C(0x8e9e05c52164694d), 123456, 7);
        enc_str(&e, 2, "3.5.9");
        enc_uint(&e, 3, UINT64_C(642) * 1024 * 1024);
        enc_uint(&e, 4, UINT64_C(0x8e9e05c52164694d));
        enc_uint(&e, 5, 200001);
        enc_uint(&e, 6, 7);
        enc_uint(&e, 7, 200000);
        enc_str(&e, 8, "memberID:10276657743932975437 alarm:NOSPACE ");
        enc_str(&e, 8, "a second error");
        enc_uint(&e, 9, UINT64_C(600) * 1024 * 1024);
        enc_uint(&e, 10, 1);
        enc_str(&e, 11, "3.6.0");
        enc_uint(&e, 12, UINT64_C(8) * 1024 * 1024 * 1024);
        enc_uint(&dg, 1, 1);
        enc_str(&dg, 2, "3.5.0");
        enc_bytes(&e, 13, dg.data, dg.n); /* downgradeInfo: skipped */
        add_unknowns(&e, 200);

        check_int_eq(pb_status_response_decode(e.data, e.n, &st), 0);
        check(st.has_header);
        check_u64_eq(st.header.cluster_id, UINT64_C(0xa1b2c3d4e5f60718));
        check_u64_eq(st.header.member_id, UINT64_C(0x8e9e05c52164694d));
        check_int_eq(st.header.revision, 123456);
        check_u64_eq(st.header.raft_term, 7);
        check_str_eq(st.version, "3.5.9");
        check_int_eq(st.db_size, INT64_C(642) * 1024 * 1024);
        check_u64_eq(st.leader, UINT64_C(0x8e9e05c52164694d));
        check_u64_eq(st.raft_index, 200001);
        check_u64_eq(st.raft_term, 7);
        check_u64_eq(st.raft_applied_index, 200000);
        check_int_eq(st.n_errors, 2);
        check_str_eq(st.first_error, "a second error"); /* more than NOSPACE */
        check_int_eq(st.n_nospace_alarms, 1);
        check_int_eq(st.db_size_in_use, INT64_C(600) * 1024 * 1024);
        check(st.is_learner);
        check_str_eq(st.storage_version, "3.6.0");
        check_int_eq(st.db_size_quota, INT64_C(8) * 1024 * 1024 * 1024);
        enc_free(&e);
        enc_free(&dg);

        /* Clearing frees and zeroes; decoding again into it works. */
        pb_status_response_clear(&st);
        check(!st.version);
        pb_status_response_clear(NULL);

        /* A minimal etcd 3.4-style answer: header and version only. Empty
         * strings read as absent; a repeated version keeps the last. */
        enc_header(&e, 1, 1, 2, 3, 4);
        enc_str(&e, 2, "3.4.0");
        enc_str(&e, 2, "3.4.23");
        enc_str(&e, 11, "");
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), 0);
        check_str_eq(st.version, "3.4.23");
        check(!st.storage_version);
        check(!st.first_error);
        check_int_eq(st.n_errors, 0);
        check_int_eq(st.n_nospace_alarms, 0);
        check(!st.is_learner);
        enc_free(&e);

        /* Only the NOSPACE alarm is counted as one: the token whole, ended
         * by a space or the string's end, anywhere in the error. */
        pb_status_response_clear(&st);
        enc_str(&e, 8, "memberID:1 alarm:NOSPACE");
        enc_str(&e, 8, "memberID:2 alarm:NOSPACE ");
        enc_str(&e, 8, "memberID:3 alarm:CORRUPT ");
        enc_str(&e, 8, "memberID:4 alarm:NOSPACEX ");
        enc_str(&e, 8, "etcdserver: no leader");
        enc_str(&e, 8, "alarm:NOSPAC");
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), 0);
        check_int_eq(st.n_errors, 6);
        check_int_eq(st.n_nospace_alarms, 2);
        check_str_eq(st.first_error, "memberID:3 alarm:CORRUPT ");
        enc_free(&e);

        /* Only NOSPACE alarms: the first of them. */
        pb_status_response_clear(&st);
        enc_str(&e, 8, "memberID:1 alarm:NOSPACE ");
        enc_str(&e, 8, "memberID:2 alarm:NOSPACE ");
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), 0);
        check_int_eq(st.n_nospace_alarms, 2);
        check_str_eq(st.first_error, "memberID:1 alarm:NOSPACE ");
        enc_free(&e);
}

static void test_status_limits(void) {
        _cleanup_(pb_status_response_clear) PbStatusResponse st = {};
        PbStatusResponse sentinel;
        char v[PB_VERSION_MAX_BYTES + 2];
        uint8_t err[1000];
        Enc e = {};

        memset(&sentinel, 0x5a, sizeof sentinel);

        /* 64 bytes are kept, 65 are cut to 64 ending in "..."; a control character is refused in either. */
        memset(v, '1', sizeof v);
        v[PB_VERSION_MAX_BYTES] = '\0';
        enc_str(&e, 2, v);
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), 0);
        check_int_eq(strlen(st.version), PB_VERSION_MAX_BYTES);
        pb_status_response_clear(&st);
        enc_free(&e);

        v[PB_VERSION_MAX_BYTES] = '1';
        v[PB_VERSION_MAX_BYTES + 1] = '\0';
        enc_str(&e, 2, v);
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), 0);
        check_int_eq(strlen(st.version), PB_VERSION_MAX_BYTES);
        check(endswith(st.version, "111..."));
        pb_status_response_clear(&st);
        enc_free(&e);

        v[PB_VERSION_MAX_BYTES] = '\n';
        enc_str(&e, 2, v);
        st = sentinel;
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), -EBADMSG);
        check(memcmp(&st, &sentinel, sizeof st) == 0);
        enc_free(&e);

        /* Embedded NUL and control characters in version. */
        enc_bytes(&e, 2, "3.5\0.9", 6);
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), -EBADMSG);
        enc_free(&e);
        enc_str(&e, 2, "3.5.9\n");
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), -EBADMSG);
        enc_free(&e);
        enc_str(&e, 11, "3.6\x1b[31m");
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), -EBADMSG);
        check(memcmp(&st, &sentinel, sizeof st) == 0);
        enc_free(&e);

        /* A failure after strings were already copied frees them (ASan). */
        enc_str(&e, 2, "3.5.9");
        enc_str(&e, 8, "an error");
        enc_tag(&e, 3, PB_WIRE_LEN);
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), -EBADMSG);
        check(memcmp(&st, &sentinel, sizeof st) == 0);
        enc_free(&e);
        st = (PbStatusResponse) {};

        /* Long error: cut, sanitized, and not inside a UTF-8 character. */
        memset(err, 'e', sizeof err);
        err[0] = '\0';
        err[1] = '\n';
        err[2] = 0x7f;
        err[PB_STATUS_ERROR_MAX_BYTES - 1] = 0xc3; /* "é" straddles the cut */
        err[PB_STATUS_ERROR_MAX_BYTES] = 0xa9;
        enc_bytes(&e, 8, err, sizeof err);
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), 0);
        check_int_eq(st.n_errors, 1);
        check_int_eq(strlen(st.first_error), PB_STATUS_ERROR_MAX_BYTES - 1);
        check(memcmp(st.first_error, "???eee", 6) == 0);
        pb_status_response_clear(&st);
        enc_free(&e);

        /* "é" wholly inside the limit is kept. */
        err[PB_STATUS_ERROR_MAX_BYTES - 2] = 0xc3;
        err[PB_STATUS_ERROR_MAX_BYTES - 1] = 0xa9;
        err[PB_STATUS_ERROR_MAX_BYTES] = 'e';
        enc_bytes(&e, 8, err, sizeof err);
        check_int_eq(pb_status_response_decode(e.data, e.n, &st), 0);
        check_int_eq(strlen(st.first_error), PB_STATUS_ERROR_MAX_BYTES);
        enc_free(&e);
}

/* A MemberListResponse as etcd 3.4 sends it: a header, three members (one
 * with two peer URLs), a learner added but not started (no name). */
static void test_member_list(void) {
        _cleanup_(pb_member_list_clear) PbMemberList l = {};
        Enc e = {}, m = {};

        enc_header(&e, 1, 0xfb90fc530d16abd9, 0x8e9e05c52164694d, 42, 3);
        enc_uint(&m, 1, 0x8e9e05c52164694d);
        enc_str(&m, 2, "m1");
        enc_str(&m, 3, "https://127.0.0.1:2380");
        enc_str(&m, 4, "https://127.0.0.1:2379");
        enc_bytes(&e, 2, m.data, m.n);
        enc_free(&m);
        enc_uint(&m, 1, 2);
        enc_str(&m, 2, "m2");
        enc_str(&m, 3, "https://127.0.0.2:2380");
        enc_str(&m, 3, "https://[::2]:2380");
        enc_uint(&m, 99, 7);    /* unknown: skipped */
        enc_bytes(&e, 2, m.data, m.n);
        enc_free(&m);
        enc_uint(&m, 1, 3);
        enc_str(&m, 3, "https://127.0.0.3:2380");
        enc_uint(&m, 5, 1);
        enc_bytes(&e, 2, m.data, m.n);
        enc_free(&m);

        check_int_eq(pb_member_list_decode(e.data, e.n, &l), 0);
        check_u64_eq(l.header.cluster_id, 0xfb90fc530d16abd9);
        check_int_eq(l.n_members, 3);
        check_u64_eq(l.members[0].id, 0x8e9e05c52164694d);
        check_str_eq(l.members[0].name, "m1");
        check_str_eq(l.members[0].peer_urls, "https://127.0.0.1:2380");
        check_str_eq(l.members[1].peer_urls, "https://127.0.0.2:2380,https://[::2]:2380");
        check(!l.members[1].is_learner);
        check_str_eq(l.members[2].name, "");
        check(l.members[2].is_learner);
        pb_member_list_clear(&l);

        /* a name with a control character, a member of the wrong wire type */
        enc_free(&e);
        enc_str(&m, 2, "bad\nname");
        enc_bytes(&e, 2, m.data, m.n);
        enc_free(&m);
        check_int_eq(pb_member_list_decode(e.data, e.n, &l), -EBADMSG);
        enc_free(&e);
        enc_uint(&e, 2, 5);
        check_int_eq(pb_member_list_decode(e.data, e.n, &l), -EBADMSG);
        enc_free(&e);
        /* truncated */
        enc_uint(&m, 1, 1);
        enc_str(&m, 2, "m1");
        enc_bytes(&e, 2, m.data, m.n);
        enc_free(&m);
        check(pb_member_list_decode(e.data, e.n - 1, &l) < 0);
        check_int_eq(l.n_members, 0);
        enc_free(&e);
}

int main(void) {
        TEST_RUN(test_varint_roundtrip);
        TEST_RUN(test_varint_edges);
        TEST_RUN(test_fixed);
        TEST_RUN(test_read_len);
        TEST_RUN(test_next_field);
        TEST_RUN(test_skip_unknown);
        TEST_RUN(test_header);
        TEST_RUN(test_truncated);
        TEST_RUN(test_oversize_length);
        TEST_RUN(test_wrong_wire_type);
        TEST_RUN(test_snapshot_realistic);
        TEST_RUN(test_snapshot_version_limits);
        TEST_RUN(test_status_realistic);
        TEST_RUN(test_status_limits);
        TEST_RUN(test_member_list);
        return 0;
}
