/* SPDX-License-Identifier: MIT */
/*
 * test-codec.c — codec round trips for every kind at several levels and thread
 * counts, over sizes around the chunk boundary and fed in random-sized writes;
 * each result is decoded by our reader, by codec_decode_fd() and, when
 * installed, by stock gzip/zstd (-t and -dc). Also: identical output for 1 and
 * 4 threads, a failing sink, freeing unfinished writers, and truncated,
 * corrupted and trailing-garbage input (always -EBADMSG, never a crash).
 */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backup/codec.h"
#include "test.h"
#include "util/io.h"
#include "util/macro.h"

#define C CODEC_CHUNK_BYTES

/* ---- helpers --------------------------------------------------------------- */

typedef struct Buf {
        uint8_t *data;
        size_t size;
        size_t alloc;
} Buf;

static void buf_done(Buf *b) {
        free(b->data);
        *b = (Buf) {};
}

static void buf_append(Buf *b, const void *p, size_t n) {
        if (b->size + n > b->alloc) {
                size_t na = MAX(b->alloc * 2, b->size + n);
                uint8_t *d = realloc(b->data, MAX(na, (size_t) 1));
                check(d);
                b->data = d;
                b->alloc = na;
        }
        if (n > 0)
                memcpy(b->data + b->size, p, n);
        b->size += n;
}

static int on_buf(const void *data, size_t n, void *userdata) {
        check(n > 0);
        buf_append(userdata, data, n);
        return 0;
}

/* splitmix64: deterministic, seedable. */
static uint64_t rnd(uint64_t *state) {
        uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static size_t rnd_range(uint64_t *state, size_t lo, size_t hi) {
        return lo + (size_t) (rnd(state) % (hi - lo + 1));
}

/* etcd-like data: key/value records with repetition and some noise. */
static void gen_data(uint8_t *p, size_t n, uint64_t seed) {
        static const char *const prefixes[] = {
                "/registry/pods/default/", "/registry/services/specs/kube-system/",
                "/registry/configmaps/monitoring/", "/registry/leases/kube-node-lease/",
        };
        uint64_t s = seed;
        size_t i = 0;

        while (i < n) {
                char rec[512];
                int k = snprintf(rec, sizeof(rec),
                                 "{\"key\":\"%sobj-%05u\",\"mod_revision\":%llu,\"value\":"
                                 "{\"kind\":\"Pod\",\"status\":\"%s\",\"node\":\"node-%02u\","
                                 "\"uid\":\"%016llx\"}}\n",
                                 prefixes[rnd(&s) % ELEMENTSOF(prefixes)],
                                 (unsigned) (rnd(&s) % 5000),
                                 (unsigned long long) (rnd(&s) % 10000000),
                                 rnd(&s) % 3 ? "Running" : "Pending",
                                 (unsigned) (rnd(&s) % 16),
                                 (unsigned long long) rnd(&s));
                size_t m = MIN((size_t) k, n - i);
                memcpy(p + i, rec, m);
                i += m;
        }
}

static uint8_t *make_input(size_t n, uint64_t seed) {
        uint8_t *p = malloc(MAX(n, (size_t) 1));
        check(p);
        gen_data(p, n, seed);
        return p;
}

/* Compress in with random-sized writes. */
static void encode(CodecKind kind, int level, unsigned threads, const uint8_t *in, size_t n,
                   uint64_t seed, Buf *ret) {
        _cleanup_(codec_writer_freep) CodecWriter *w = NULL;
        uint64_t s = seed;
        size_t i = 0;

        *ret = (Buf) {};
        check_int_eq(codec_writer_new(kind, level, threads, on_buf, ret, &w), 0);
        while (i < n) {
                size_t k;
                switch (rnd(&s) % 4) {
                case 0:
                        k = rnd_range(&s, 1, 16);
                        break;
                case 1:
                        k = rnd_range(&s, 1, 70000);
                        break;
                case 2:
                        k = rnd_range(&s, 1, C + C / 2);
                        break;
                default:
                        k = rnd_range(&s, 1, 3 * C);
                        break;
                }
                k = MIN(k, n - i);
                check_int_eq(codec_writer_write(w, in + i, k), 0);
                i += k;
        }
        check_int_eq(codec_writer_write(w, in, 0), 0);
        check_int_eq(codec_writer_finish(w), 0);
        check_int_eq(codec_writer_finish(w), 0);
        check_int_eq(codec_writer_write(w, "x", 1), -EINVAL);
        check_u64_eq(codec_writer_bytes_in(w), n);
        check_u64_eq(codec_writer_bytes_out(w), ret->size);
}

/* Decode with a reader fed in random-sized pieces; returns the reader's result. */
static int decode(CodecKind kind, const uint8_t *in, size_t n, uint64_t seed, Buf *ret) {
        _cleanup_(codec_reader_freep) CodecReader *r = NULL;
        uint64_t s = seed;
        size_t i = 0;
        int k;

        *ret = (Buf) {};
        check_int_eq(codec_reader_new(kind, on_buf, ret, &r), 0);
        while (i < n) {
                size_t m = rnd(&s) % 3 == 0 ? rnd_range(&s, 1, 7) : rnd_range(&s, 1, 300000);
                m = MIN(m, n - i);
                k = codec_reader_write(r, in + i, m);
                if (k < 0) {
                        /* Errors are sticky. */
                        check_int_eq(codec_reader_write(r, in, 1), k);
                        check_int_eq(codec_reader_finish(r), k);
                        return k;
                }
                i += m;
        }
        return codec_reader_finish(r);
}

static char tmp_dir[] = "/tmp/test-codec-XXXXXX";

static void write_file(const char *path, const void *data, size_t n) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        check(fd >= 0);
        check_int_eq(loop_write(fd, data, n), 0);
}

static int run(const char *cmd) {
        int st = system(cmd);
        check(st != -1);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static bool have_tool(const char *name) {
        static int cache[_CODEC_KIND_MAX] = {};
        char cmd[128];
        int i = streq(name, "gzip") ? CODEC_GZIP : CODEC_ZSTD;

        if (cache[i] == 0) {
                snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
                cache[i] = run(cmd) == 0 ? 1 : -1;
                if (cache[i] < 0)
                        fprintf(stderr, "SKIP: %s not installed, stock %s checks skipped\n",
                                name, name);
        }
        return cache[i] > 0;
}

/* Decode data with codec_decode_fd() and, when installed, with the stock tool
 * (-t and -dc); each must reproduce expect. */
static void check_external(CodecKind kind, const Buf *data, const uint8_t *expect, size_t n) {
        char path[256], out[300], cmd[700];
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *got = NULL;
        const char *tool;
        size_t size;
        Buf dec = {};

        snprintf(path, sizeof(path), "%s/data%s", tmp_dir, codec_suffix(kind));
        write_file(path, data->data, data->size);

        fd = open(path, O_RDONLY | O_CLOEXEC);
        check(fd >= 0);
        check_int_eq(codec_decode_fd(kind, fd, on_buf, &dec), 0);
        check_u64_eq(dec.size, n);
        check(n == 0 || memcmp(dec.data, expect, n) == 0);
        buf_done(&dec);

        if (kind == CODEC_NONE) {
                unlink(path);
                return;
        }
        tool = kind == CODEC_GZIP ? "gzip" : "zstd";
        if (!have_tool(tool))
                return;

        snprintf(out, sizeof(out), "%s/out", tmp_dir);
        snprintf(cmd, sizeof(cmd), "%s -q -t '%s'", tool, path);
        check_int_eq(run(cmd), 0);
        snprintf(cmd, sizeof(cmd), "%s -q -dc '%s' > '%s'", tool, path, out);
        check_int_eq(run(cmd), 0);
        check_int_eq(read_full_file(out, 64 * C, &got, &size), 0);
        check_u64_eq(size, n);
        check(n == 0 || memcmp(got, expect, n) == 0);
        unlink(out);
        unlink(path);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_names(void) {
        CodecKind k;
        int lo, hi;

        check_int_eq(codec_from_string("none", &k), 0);
        check_int_eq(k, CODEC_NONE);
        check_int_eq(codec_from_string("gzip", &k), 0);
        check_int_eq(k, CODEC_GZIP);
        check_int_eq(codec_from_string("zstd", &k), 0);
        check_int_eq(k, CODEC_ZSTD);
        check_int_eq(codec_from_string("GZIP", &k), -EINVAL);
        check_int_eq(codec_from_string("", &k), -EINVAL);
        check_int_eq(codec_from_string(NULL, &k), -EINVAL);

        for (CodecKind i = 0; i < _CODEC_KIND_MAX; i++) {
                check_int_eq(codec_from_string(codec_to_string(i), &k), 0);
                check_int_eq(k, i);
        }
        check(!codec_to_string(_CODEC_KIND_MAX));

        check_str_eq(codec_suffix(CODEC_NONE), "");
        check_str_eq(codec_suffix(CODEC_GZIP), ".gz");
        check_str_eq(codec_suffix(CODEC_ZSTD), ".zst");
        check(!codec_suffix(_CODEC_KIND_MAX));

        check_int_eq(codec_level_range(CODEC_GZIP, &lo, &hi), 0);
        check_int_eq(lo, 1);
        check_int_eq(hi, 12);
        check_int_eq(codec_level_range(CODEC_ZSTD, &lo, &hi), 0);
        check_int_eq(lo, 1);
        check_int_eq(hi, 19);
        check_int_eq(codec_level_range(CODEC_NONE, &lo, &hi), 0);
        check_int_eq(lo, 0);
        check_int_eq(hi, 0);
        check_int_eq(codec_level_range(_CODEC_KIND_MAX, &lo, &hi), -EINVAL);
}

static void test_detect(void) {
        static const uint8_t gz[] = { 0x1f, 0x8b, 0x08, 0x00 };
        static const uint8_t zst[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x24 };
        static const uint8_t db[] = { 0x00, 0x00, 0x00, 0x00, 0xed, 0xda, 0x0c, 0xed };
        CodecKind k;

        check_int_eq(codec_detect(gz, sizeof(gz), &k), 0);
        check_int_eq(k, CODEC_GZIP);
        check_int_eq(codec_detect(gz, 2, &k), 0);
        check_int_eq(k, CODEC_GZIP);
        check_int_eq(codec_detect(gz, 1, &k), 0);
        check_int_eq(k, CODEC_NONE);
        check_int_eq(codec_detect(zst, sizeof(zst), &k), 0);
        check_int_eq(k, CODEC_ZSTD);
        check_int_eq(codec_detect(zst, 3, &k), 0);
        check_int_eq(k, CODEC_NONE);
        check_int_eq(codec_detect(db, sizeof(db), &k), 0);
        check_int_eq(k, CODEC_NONE);
        check_int_eq(codec_detect(NULL, 0, &k), 0);
        check_int_eq(k, CODEC_NONE);
        check_int_eq(codec_detect(NULL, 1, &k), -EINVAL);
}

static void test_invalid_args(void) {
        CodecWriter *w = NULL;
        CodecReader *r = NULL;
        Buf b = {};

        check_int_eq(codec_writer_new(CODEC_GZIP, 0, 1, on_buf, &b, &w), -EINVAL);
        check_int_eq(codec_writer_new(CODEC_GZIP, 13, 1, on_buf, &b, &w), -EINVAL);
        check_int_eq(codec_writer_new(CODEC_ZSTD, 0, 1, on_buf, &b, &w), -EINVAL);
        check_int_eq(codec_writer_new(CODEC_ZSTD, 20, 1, on_buf, &b, &w), -EINVAL);
        check_int_eq(codec_writer_new(CODEC_ZSTD, 3, CODEC_THREADS_MAX + 1, on_buf, &b, &w), -EINVAL);
        check_int_eq(codec_writer_new(CODEC_ZSTD, 3, 1, NULL, &b, &w), -EINVAL);
        check_int_eq(codec_writer_new(_CODEC_KIND_MAX, 3, 1, on_buf, &b, &w), -EINVAL);
        check(!w);
        check_int_eq(codec_reader_new(_CODEC_KIND_MAX, on_buf, &b, &r), -EINVAL);
        check_int_eq(codec_reader_new(CODEC_GZIP, NULL, &b, &r), -EINVAL);
        check(!r);
        check(!codec_writer_free(NULL));
        check(!codec_reader_free(NULL));
        check_int_eq(codec_decode_fd(CODEC_GZIP, -1, on_buf, &b), -EBADF);

        /* none ignores the level; 0 threads means one per CPU. */
        check_int_eq(codec_writer_new(CODEC_NONE, 99, 0, on_buf, &b, &w), 0);
        w = codec_writer_free(w);
        check_int_eq(codec_writer_new(CODEC_ZSTD, 1, 0, on_buf, &b, &w), 0);
        w = codec_writer_free(w);
}

/* One level: every size, threads 1, 2 and 4, results identical across thread
 * counts and decodable by everything. */
static void roundtrip_level(CodecKind kind, int level, const size_t *sizes, size_t n_sizes) {
        static const unsigned thread_counts[] = { 1, 2, 4 };

        for (size_t i = 0; i < n_sizes; i++) {
                size_t n = sizes[i];
                _cleanup_free_ uint8_t *in = make_input(n, 1000 + i);
                Buf first = {};

                for (size_t t = 0; t < ELEMENTSOF(thread_counts); t++) {
                        Buf enc, dec;

                        encode(kind, level, thread_counts[t], in, n, 77 * (t + 1) + i, &enc);
                        if (kind == CODEC_NONE) {
                                check_u64_eq(enc.size, n);
                        } else {
                                CodecKind k;
                                check(enc.size > 0);
                                check_int_eq(codec_detect(enc.data, enc.size, &k), 0);
                                check_int_eq(k, kind);
                        }

                        check_int_eq(decode(kind, enc.data, enc.size, 5 + t, &dec), 0);
                        check_u64_eq(dec.size, n);
                        check(n == 0 || memcmp(dec.data, in, n) == 0);
                        buf_done(&dec);

                        if (t == 0) {
                                check_external(kind, &enc, in, n);
                                first = enc;
                        } else {
                                /* Chunks are independent: thread count does not
                                 * change a single byte. */
                                check_u64_eq(enc.size, first.size);
                                check(enc.size == 0 || memcmp(enc.data, first.data, enc.size) == 0);
                                buf_done(&enc);
                        }
                }
                buf_done(&first);
        }
}

/* 9 chunks + a tail: more chunks than the ring has slots at 4 threads. */
static const size_t sizes_all[] = { 0, 1, C - 1, C, C + 1, 9 * C + 12345 };
static const size_t sizes_slow[] = { 0, 1, 100000, C + 1 };

static void test_roundtrip_none(void) {
        roundtrip_level(CODEC_NONE, 0, sizes_all, ELEMENTSOF(sizes_all));
}

static void test_roundtrip_gzip(void) {
        roundtrip_level(CODEC_GZIP, 1, sizes_all, ELEMENTSOF(sizes_all));
        roundtrip_level(CODEC_GZIP, 6, sizes_all, ELEMENTSOF(sizes_all));
        roundtrip_level(CODEC_GZIP, 9, sizes_slow, ELEMENTSOF(sizes_slow));
        roundtrip_level(CODEC_GZIP, 12, sizes_slow, ELEMENTSOF(sizes_slow));
}

static void test_roundtrip_zstd(void) {
        roundtrip_level(CODEC_ZSTD, 1, sizes_all, ELEMENTSOF(sizes_all));
        roundtrip_level(CODEC_ZSTD, 3, sizes_all, ELEMENTSOF(sizes_all));
        roundtrip_level(CODEC_ZSTD, 19, sizes_slow, ELEMENTSOF(sizes_slow));
}

/* A stream of stock gzip members / zstd frames (not made by us) decodes too. */
static void test_decode_stock(void) {
        static const CodecKind kinds[] = { CODEC_GZIP, CODEC_ZSTD };
        size_t n = 300000;
        _cleanup_free_ uint8_t *in = make_input(n, 4242);
        char path[256], cpath[300], cmd[1200];

        snprintf(path, sizeof(path), "%s/stock", tmp_dir);
        snprintf(cpath, sizeof(cpath), "%s.c", path);
        write_file(path, in, n);
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                _cleanup_free_ char *data = NULL;
                size_t size;
                Buf dec;

                if (!have_tool(codec_to_string(kinds[i])))
                        continue;
                /* Two members/frames made with different options. */
                if (kinds[i] == CODEC_GZIP)
                        snprintf(cmd, sizeof(cmd),
                                 "gzip -c -n -9 '%s' > '%s' && gzip -c -1 '%s' >> '%s'",
                                 path, cpath, path, cpath);
                else
                        snprintf(cmd, sizeof(cmd),
                                 "zstd -q -c -5 '%s' > '%s' && zstd -q -c --no-check '%s' >> '%s'",
                                 path, cpath, path, cpath);
                check_int_eq(run(cmd), 0);
                check_int_eq(read_full_file(cpath, 64 * C, &data, &size), 0);
                check_int_eq(decode(kinds[i], (const uint8_t *) data, size, 9, &dec), 0);
                check_u64_eq(dec.size, 2 * n);
                check(memcmp(dec.data, in, n) == 0);
                check(memcmp(dec.data + n, in, n) == 0);
                buf_done(&dec);
        }
        unlink(cpath);
        unlink(path);
}

typedef struct FailSink {
        unsigned calls;
        unsigned fail_at;      /* fail on this call (1-based) */
        Buf buf;
} FailSink;

static int on_fail_sink(const void *data, size_t n, void *userdata) {
        FailSink *f = userdata;

        if (++f->calls >= f->fail_at)
                return -ENOSPC;
        buf_append(&f->buf, data, n);
        return 0;
}

static void test_sink_failure(void) {
        static const CodecKind kinds[] = { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD };
        /* 11 chunks: the last sink call happens in codec_writer_finish(). */
        static const unsigned fail_ats[] = { 1, 4, 9, 11 };
        size_t n = 10 * C + 999;
        _cleanup_free_ uint8_t *in = make_input(n, 31);

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                for (unsigned threads = 1; threads <= 4; threads++)
                        for (size_t j = 0; j < ELEMENTSOF(fail_ats); j++) {
                                _cleanup_(codec_writer_freep) CodecWriter *w = NULL;
                                unsigned fail_at = fail_ats[j];
                                FailSink f = { .fail_at = fail_at };
                                int r = 0;

                                check_int_eq(codec_writer_new(kinds[i], 1, threads, on_fail_sink, &f, &w), 0);
                                for (size_t off = 0; off < n && r == 0; off += C / 3)
                                        r = codec_writer_write(w, in + off, MIN(C / 3, n - off));
                                if (r == 0)
                                        r = codec_writer_finish(w);
                                check_int_eq(r, -ENOSPC);
                                check_int_eq(f.calls, fail_at);
                                /* Sticky, and no more sink calls. */
                                check_int_eq(codec_writer_write(w, in, 10), -ENOSPC);
                                check_int_eq(codec_writer_finish(w), -ENOSPC);
                                check_int_eq(f.calls, fail_at);
                                buf_done(&f.buf);
                        }
}

/* Freeing a writer in the middle of work joins its threads without calling
 * the sink again (leaks and stray threads show up under ASan/TSan). */
static void test_free_unfinished(void) {
        size_t n = 11 * C + 17;
        _cleanup_free_ uint8_t *in = make_input(n, 32);

        for (unsigned threads = 1; threads <= 4; threads++) {
                CodecWriter *w = NULL;
                FailSink f = { .fail_at = UINT32_MAX };
                unsigned calls;

                check_int_eq(codec_writer_new(CODEC_GZIP, 6, threads, on_fail_sink, &f, &w), 0);
                check_int_eq(codec_writer_write(w, in, n), 0);
                calls = f.calls;
                w = codec_writer_free(w);
                check(!w);
                check_int_eq(f.calls, calls);
                buf_done(&f.buf);

                /* Freed before anything was written. */
                check_int_eq(codec_writer_new(CODEC_ZSTD, 3, threads, on_fail_sink, &f, &w), 0);
                w = codec_writer_free(w);
                check(!w);
        }
}

/* The reader stops on a failing sink and stays failed. */
static void test_reader_sink_failure(void) {
        static const CodecKind kinds[] = { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD };
        size_t n = 2 * C + 5;
        _cleanup_free_ uint8_t *in = make_input(n, 33);

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                _cleanup_(codec_reader_freep) CodecReader *r = NULL;
                FailSink f = { .fail_at = 3 };
                Buf enc;
                int k = 0;

                encode(kinds[i], 3, 2, in, n, 1, &enc);
                check_int_eq(codec_reader_new(kinds[i], on_fail_sink, &f, &r), 0);
                for (size_t off = 0; off < enc.size && k == 0; off += 1000)
                        k = codec_reader_write(r, enc.data + off, MIN((size_t) 1000, enc.size - off));
                check_int_eq(k, -ENOSPC);
                check_int_eq(codec_reader_finish(r), -ENOSPC);
                check_int_eq(f.calls, 3);
                buf_done(&enc);
                buf_done(&f.buf);
        }
}

/* Decoding damaged data: -EBADMSG or, if the damage happens to be harmless,
 * exactly the original (a truncation exactly at a member/frame boundary is a
 * valid shorter file: with prefix_ok its output may be a prefix). Never
 * anything else. */
static int decode_damaged(CodecKind kind, const uint8_t *data, size_t size, const uint8_t *expect,
                          size_t n, uint64_t seed, bool prefix_ok) {
        Buf dec;
        int r = decode(kind, data, size, seed, &dec);

        if (r == 0) {
                check(prefix_ok ? dec.size <= n : dec.size == n);
                check(dec.size == 0 || memcmp(dec.data, expect, dec.size) == 0);
        } else
                check_int_eq(r, -EBADMSG);
        buf_done(&dec);
        return r;
}

static void test_damaged(void) {
        static const CodecKind kinds[] = { CODEC_GZIP, CODEC_ZSTD };
        size_t n = 2 * C + 4321;
        _cleanup_free_ uint8_t *in = make_input(n, 34);

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                CodecKind kind = kinds[i];
                _cleanup_free_ uint8_t *bad = NULL;
                Buf enc, one;
                size_t first;
                uint64_t s = 99;

                encode(kind, 3, 2, in, n, 2, &enc);
                /* Size of the first member/frame: the first chunk alone. */
                encode(kind, 3, 1, in, C, 3, &one);
                first = one.size;
                check(first > 64 && first < enc.size);
                check(memcmp(one.data, enc.data, first) == 0);
                buf_done(&one);

                bad = malloc(enc.size + 64);
                check(bad);

                /* Empty input is not a valid file. */
                check_int_eq(decode_damaged(kind, enc.data, 0, in, n, 1, false), -EBADMSG);

                /* Truncations inside a member/frame. */
                const size_t cuts[] = { 1, 2, 3, 9, 10, 17, first / 2, first - 1,
                                        first + 1, first + 11, enc.size - 1,
                                        enc.size - 4, enc.size - 9, enc.size - 100 };
                for (size_t j = 0; j < ELEMENTSOF(cuts); j++)
                        check_int_eq(decode_damaged(kind, enc.data, cuts[j], in, n, j, false), -EBADMSG);
                for (unsigned j = 0; j < 50; j++) {
                        size_t cut = rnd_range(&s, first + 1, enc.size - 1);
                        (void) decode_damaged(kind, enc.data, cut, in, n, j, true);
                }

                /* Flipped bytes where damage is always detectable: the magic,
                 * the compressed body, the checksum at the end. */
                const size_t flips[] = { 0, 1, 12, first / 3, first / 2, first - 2,
                                         enc.size / 2, enc.size - 1, enc.size - 6 };
                for (size_t j = 0; j < ELEMENTSOF(flips); j++) {
                        memcpy(bad, enc.data, enc.size);
                        bad[flips[j]] ^= 0x55;
                        check_int_eq(decode_damaged(kind, bad, enc.size, in, n, j, false), -EBADMSG);
                }
                /* Anywhere else: never a crash, never wrong output. */
                for (unsigned j = 0; j < 200; j++) {
                        memcpy(bad, enc.data, enc.size);
                        bad[rnd(&s) % enc.size] ^= (uint8_t) rnd_range(&s, 1, 255);
                        (void) decode_damaged(kind, bad, enc.size, in, n, j, false);
                }

                /* Trailing garbage after the last member/frame. */
                static const char *const tails[] = { "\n", "garbage", "\x1f", "\x1f\x8b",
                                                     "\x28\xb5\x2f\xfd" };
                for (size_t j = 0; j < ELEMENTSOF(tails); j++) {
                        size_t k = strlen(tails[j]);
                        memcpy(bad, enc.data, enc.size);
                        memcpy(bad + enc.size, tails[j], k);
                        check_int_eq(decode_damaged(kind, bad, enc.size + k, in, n, j, false), -EBADMSG);
                }
                memcpy(bad, enc.data, enc.size);
                memset(bad + enc.size, 0, 64);
                check_int_eq(decode_damaged(kind, bad, enc.size + 64, in, n, 0, false), -EBADMSG);

                /* Garbage instead of data. */
                memset(bad, 'A', 64);
                check_int_eq(decode_damaged(kind, bad, 64, in, n, 0, false), -EBADMSG);

                buf_done(&enc);
        }
}

/* codec_decode_fd() reports a truncated file too. */
/* The active-thread limit changes who compresses when, never the output:
 * limit 1 for the first part, then all threads, equals no limit at all. */
static void test_active_threads(void) {
        size_t n = 7 * C + 4321;
        _cleanup_free_ uint8_t *in = make_input(n, 77);
        _cleanup_(buf_done) Buf plain = {}, limited = {};

        for (CodecKind kind = CODEC_GZIP; kind <= CODEC_ZSTD; kind++) {
                _cleanup_(codec_writer_freep) CodecWriter *w = NULL;

                buf_done(&plain);
                buf_done(&limited);
                encode(kind, 3, 4, in, n, 5, &plain);
                check_int_eq(codec_writer_new(kind, 3, 4, on_buf, &limited, &w), 0);
                codec_writer_set_active_threads(w, 1);
                check_int_eq(codec_writer_write(w, in, 3 * C + 17), 0);
                codec_writer_set_active_threads(w, 2);
                check_int_eq(codec_writer_write(w, in + 3 * C + 17, C), 0);
                codec_writer_set_active_threads(w, 0);
                check_int_eq(codec_writer_write(w, in + 4 * C + 17, n - 4 * C - 17), 0);
                check_int_eq(codec_writer_finish(w), 0);
                check_u64_eq(limited.size, plain.size);
                check(memcmp(limited.data, plain.data, plain.size) == 0);
        }
}

static void test_decode_fd_truncated(void) {
        size_t n = C + 100;
        _cleanup_free_ uint8_t *in = make_input(n, 35);
        char path[256];
        Buf enc, dec = {};

        snprintf(path, sizeof(path), "%s/trunc.zst", tmp_dir);
        encode(CODEC_ZSTD, 3, 2, in, n, 4, &enc);
        write_file(path, enc.data, enc.size - 3);
        {
                _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
                check(fd >= 0);
                check_int_eq(codec_decode_fd(CODEC_ZSTD, fd, on_buf, &dec), -EBADMSG);
        }
        unlink(path);
        buf_done(&dec);
        buf_done(&enc);
}

/* Input read in place (codec_writer_buffer/commit, as the backup fills it
 * from its spool) gives the same bytes as copied input. */
static void test_buffer_commit(void) {
        static const CodecKind kinds[] = { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD };
        size_t n = 3 * C + 777;
        _cleanup_free_ uint8_t *in = make_input(n, 7);

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                for (unsigned threads = 1; threads <= 3; threads += 2) {
                        _cleanup_(codec_writer_freep) CodecWriter *w = NULL;
                        Buf want = {}, got = {};
                        uint64_t s = 11;
                        size_t off = 0;

                        encode(kinds[i], 1, threads, in, n, 5, &want);
                        check_int_eq(codec_writer_new(kinds[i], 1, threads, on_buf, &got, &w), 0);
                        while (off < n) {
                                void *buf = NULL;
                                size_t room = 0, k = rnd_range(&s, 1, C);

                                check_int_eq(codec_writer_buffer(w, &buf, &room), 0);
                                check(room >= 1 && room <= C);
                                check_int_eq(codec_writer_commit(w, room + 1), -EINVAL);
                                k = MIN(MIN(room, k), n - off);
                                memcpy(buf, in + off, k);
                                check_int_eq(codec_writer_commit(w, k), 0);
                                off += k;
                        }
                        check_int_eq(codec_writer_commit(w, 0), 0);
                        check_int_eq(codec_writer_finish(w), 0);
                        check_u64_eq(codec_writer_bytes_in(w), n);
                        check_u64_eq(got.size, want.size);
                        check(memcmp(got.data, want.data, want.size) == 0);
                        buf_done(&want);
                        buf_done(&got);
                }
}

/* threads = 0 is one per CPU this thread may run on: the affinity mask
 * (CPUAffinity=, a cpuset), not every CPU the machine has. */
static void test_usable_cpus(void) {
        cpu_set_t all, one;
        int first = -1;

        check_int_eq(unsetenv(CODEC_CPUS_ENV), 0);
        check_int_eq(sched_getaffinity(0, sizeof all, &all), 0);
        check_int_eq((int) codec_usable_cpus(), CPU_COUNT(&all));
        for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
                if (CPU_ISSET(i, &all))
                        first = i;
        check(first >= 0);
        CPU_ZERO(&one);
        CPU_SET(first, &one);
        check_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
        check_int_eq((int) codec_usable_cpus(), 1);
        for (CodecKind kind = CODEC_GZIP; kind <= CODEC_ZSTD; kind++) {
                _cleanup_(codec_writer_freep) CodecWriter *w = NULL;
                Buf out = {};

                check_int_eq(codec_writer_new(kind, 1, 0, on_buf, &out, &w), 0);
                check_int_eq((int) codec_writer_threads(w), 1);
                buf_done(&out);
        }
        check_int_eq(sched_setaffinity(0, sizeof all, &all), 0);
        check_int_eq((int) codec_usable_cpus(), CPU_COUNT(&all));
}

/* $ETCD_BACKUPD_CPUS counts that many CPUs instead of the mask, 1 to
 * CODEC_THREADS_MAX; anything else is ignored. */
static void test_cpus_env(void) {
        cpu_set_t all;
        int mask;
        char max[16];

        check_int_eq(sched_getaffinity(0, sizeof all, &all), 0);
        mask = MIN(CPU_COUNT(&all), (int) CODEC_THREADS_MAX);
        snprintf(max, sizeof max, "%u", CODEC_THREADS_MAX);
        check_int_eq(setenv(CODEC_CPUS_ENV, "4", 1), 0);
        check_int_eq((int) codec_usable_cpus(), 4);
        check_int_eq(setenv(CODEC_CPUS_ENV, "1", 1), 0);
        check_int_eq((int) codec_usable_cpus(), 1);
        check_int_eq(setenv(CODEC_CPUS_ENV, max, 1), 0);
        check_int_eq((int) codec_usable_cpus(), (int) CODEC_THREADS_MAX);
        {
                _cleanup_(codec_writer_freep) CodecWriter *w = NULL;
                Buf out = {};

                check_int_eq(setenv(CODEC_CPUS_ENV, "3", 1), 0);
                check_int_eq(codec_writer_new(CODEC_ZSTD, 1, 0, on_buf, &out, &w), 0);
                check_int_eq((int) codec_writer_threads(w), 3);
                buf_done(&out);
        }
        static const char *const bad[] = { "0", "-1", "", " 4", "4x", "0x4", "99999999999999999999" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                check_int_eq(setenv(CODEC_CPUS_ENV, bad[i], 1), 0);
                check_int_eq((int) codec_usable_cpus(), mask);
        }
        snprintf(max, sizeof max, "%u", CODEC_THREADS_MAX + 1);
        check_int_eq(setenv(CODEC_CPUS_ENV, max, 1), 0);
        check_int_eq((int) codec_usable_cpus(), mask);
        check_int_eq(unsetenv(CODEC_CPUS_ENV), 0);
        check_int_eq((int) codec_usable_cpus(), mask);
}

/* Compression follows etcd's stream only with the CPUs beyond two, at most
 * the threads asked for. */
static void test_follow_threads(void) {
        static const struct {
                unsigned threads, cpus, want;
        } cases[] = {
                { 0, 1, 0 }, { 0, 2, 0 }, { 4, 2, 0 }, { 1, 2, 0 },
                { 0, 3, 1 }, { 0, 4, 2 }, { 0, 8, 6 }, { 0, 64, 62 },
                { 1, 4, 1 }, { 2, 4, 2 }, { 3, 4, 2 }, { 16, 4, 2 }, { 4, 8, 4 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_int_eq((int) codec_follow_threads(cases[i].threads, cases[i].cpus), (int) cases[i].want);
}

int main(void) {
        check(mkdtemp(tmp_dir));

        TEST_RUN(test_usable_cpus);
        TEST_RUN(test_cpus_env);
        TEST_RUN(test_follow_threads);
        TEST_RUN(test_names);
        TEST_RUN(test_active_threads);
        TEST_RUN(test_detect);
        TEST_RUN(test_invalid_args);
        TEST_RUN(test_roundtrip_none);
        TEST_RUN(test_roundtrip_gzip);
        TEST_RUN(test_roundtrip_zstd);
        TEST_RUN(test_buffer_commit);
        TEST_RUN(test_decode_stock);
        TEST_RUN(test_sink_failure);
        TEST_RUN(test_free_unfinished);
        TEST_RUN(test_reader_sink_failure);
        TEST_RUN(test_damaged);
        TEST_RUN(test_decode_fd_truncated);

        check_int_eq(rmdir(tmp_dir), 0);
        return 0;
}
