/* SPDX-License-Identifier: MIT */
/*
 * test-trailer.c — the snapshot trailer check: a stream fed in any split
 * verifies; a tampered byte anywhere, a wrong trailer and a short stream
 * fail.
 */

#include <errno.h>
#include <openssl/sha.h>

#include "test.h"
#include "format/trailer.h"

static uint32_t rng = 12345;
static uint32_t next_rand(void) {
        rng = rng * 1103515245u + 12345u;
        return rng >> 8;
}

/* db of size n followed by its SHA-256. */
static uint8_t *make_stream(size_t n, size_t *ret_size) {
        uint8_t *s = malloc(n + 32);
        check(s);
        for (size_t i = 0; i < n; i++)
                s[i] = (uint8_t) next_rand();
        SHA256(s, n, s + n);
        *ret_size = n + 32;
        return s;
}

/* Feed s in pieces chosen by mode; return trailer_finish's result. The
 * stream's own hash, taken before, must be the SHA-256 of all of s. */
static int feed(const uint8_t *s, size_t size, int mode, uint64_t *ret_db_size) {
        _cleanup_(trailer_freep) Trailer *t = NULL;
        uint8_t sha[TRAILER_BYTES], whole[TRAILER_BYTES], expect[TRAILER_BYTES];
        size_t off = 0;

        check(trailer_new(&t) == 0);
        while (off < size) {
                size_t k = mode == 0 ? size : mode == 1 ? 1 : mode == 2 ? 31 : 1 + next_rand() % 70000;
                if (k > size - off)
                        k = size - off;
                check(trailer_feed(t, s + off, k) == 0);
                off += k;
        }
        check(trailer_stream_sha256(t, whole) == 0);
        SHA256(s, size, expect);
        check(memcmp(whole, expect, TRAILER_BYTES) == 0);
        return trailer_finish(t, sha, ret_db_size);
}

static void test_good_streams(void) {
        static const size_t sizes[] = { 0, 1, 31, 32, 33, 4096, 32768, 100000 };
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                for (int mode = 0; mode < 4; mode++) {
                        size_t size;
                        uint64_t db = 0;
                        _cleanup_free_ uint8_t *s = make_stream(sizes[i], &size);
                        if (mode == 1 && size > 5000)
                                continue;
                        check_int_eq(feed(s, size, mode, &db), 0);
                        check_u64_eq(db, sizes[i]);
                }
}

static void test_tampered(void) {
        size_t size;
        _cleanup_free_ uint8_t *s = make_stream(70000, &size);

        /* Flip one bit at many places: db bytes and trailer bytes. */
        for (size_t pos = 0; pos < size; pos += 997) {
                s[pos] ^= 0x10;
                check_int_eq(feed(s, size, 3, NULL), -EBADMSG);
                s[pos] ^= 0x10;
        }
        s[size - 1] ^= 1;
        check_int_eq(feed(s, size, 0, NULL), -EBADMSG);
        s[size - 1] ^= 1;
        check_int_eq(feed(s, size, 0, NULL), 0);
}

static void test_short(void) {
        size_t size;
        _cleanup_free_ uint8_t *s = make_stream(1000, &size);

        /* Cut off: the last 32 bytes are then db bytes, not the hash. */
        check_int_eq(feed(s, size - 1, 3, NULL), -EBADMSG);
        check_int_eq(feed(s, size - 32, 0, NULL), -EBADMSG);
        check_int_eq(feed(s, 31, 2, NULL), -EPIPE);
        check_int_eq(feed(s, 0, 0, NULL), -EPIPE);
}

int main(void) {
        TEST_RUN(test_good_streams);
        TEST_RUN(test_tampered);
        TEST_RUN(test_short);
        return 0;
}
