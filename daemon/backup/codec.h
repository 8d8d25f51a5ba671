/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * codec.h — compression of backups (gzip, zstd or none) and the matching
 * decoders. The writer is a push API in constant memory: the input is cut into
 * fixed chunks that a pool of threads compresses independently, and the
 * results reach the caller's sink in order as independent gzip members or zstd
 * frames, so the output is one ordinary .gz/.zst file that stock gzip and zstd
 * read. The reader is the push-style streaming decoder used by verify and
 * restore; codec_decode_fd() runs it over a file descriptor.
 */

#include <stddef.h>
#include <stdint.h>

#include "format/codec-kind.h"
#include "util/sink.h"

/* Input is compressed in independent chunks of this size: one gzip member or
 * zstd frame each. Chosen by measurement (see codec.c). */
#define CODEC_CHUNK_BYTES ((size_t) 1024 * 1024)

/* Upper bound for the threads argument of codec_writer_new(). */
#define CODEC_THREADS_MAX 256U

typedef struct CodecWriter CodecWriter;
typedef struct CodecReader CodecReader;

/* Create a writer that compresses with kind at level and passes the output to
 * sink(…, userdata). threads is the number of compression threads, 0 meaning
 * codec_usable_cpus(); with 1 the writer
 * compresses inline in the caller's thread. The sink is only ever called from
 * the caller's thread, inside codec_writer_write() and codec_writer_finish().
 * Memory stays bounded however much is written: threads + 1 chunk slots
 * of about 2 × CODEC_CHUNK_BYTES each (input plus output), plus one compressor
 * context per thread. Returns 0 and the writer in *ret, -EINVAL for a bad kind,
 * level (ignored for none), thread count or NULL sink, -ENOMEM, or the -errno
 * of a failed thread creation. */
int codec_writer_new(CodecKind kind, int level, unsigned threads, SinkFn sink,
                     void *userdata, CodecWriter **ret);

/* Feed n bytes. May call the sink with earlier output and blocks while all
 * chunk slots are busy. Returns 0, the sink's negative return, -EIO when the
 * compressor fails, -ENOMEM, or -EINVAL after codec_writer_finish(). After an
 * error the writer is dead: every later call returns the same error. */
int codec_writer_write(CodecWriter *w, const void *data, size_t n);

/* Input without a copy: *ret receives room for *ret_size (at least 1) bytes
 * inside the writer, to be filled in place and handed over with
 * codec_writer_commit(w, n), n ≤ *ret_size, before any other call on w. May
 * call the sink with earlier output and block while all chunk slots are
 * busy, as codec_writer_write() does. Returns 0, or the errors of
 * codec_writer_write(). */
int codec_writer_buffer(CodecWriter *w, void **ret, size_t *ret_size);

/* The first n bytes of the room codec_writer_buffer() gave are input.
 * Returns 0, the errors of codec_writer_write(), or -EINVAL when n exceeds
 * that room. */
int codec_writer_commit(CodecWriter *w, size_t n);

/* Compress what is buffered, hand all remaining output to the sink in order
 * and stop the threads. An empty input still yields one valid (empty) member
 * or frame. Returns 0 or the error as for codec_writer_write(); calling it
 * again returns the same result. */
int codec_writer_finish(CodecWriter *w);

/* Stop and join the threads (also of an unfinished or failed writer, without
 * calling the sink) and free everything. Accepts NULL; returns NULL. */
CodecWriter *codec_writer_free(CodecWriter *w);

/* Let at most n of the writer's threads compress at once (0 = all). The
 * backup lowers it while etcd's stream is still coming in, so compression
 * does not take the CPU the stream needs, and raises it afterwards. Output
 * is the same whatever the limit. */
void codec_writer_set_active_threads(CodecWriter *w, unsigned n);

/* The threads it compresses with: the threads asked for, 0 resolved to
 * codec_usable_cpus(). */
unsigned codec_writer_threads(const CodecWriter *w);

/* The CPUs the calling thread may run on (its affinity mask: CPUAffinity=,
 * a cpuset), or the online CPUs when the mask cannot be read; 1 to
 * CODEC_THREADS_MAX. What threads = 0 means. $ETCD_BACKUPD_CPUS (1 to
 * CODEC_THREADS_MAX) counts that many instead: planning for a machine of
 * another size than the mask shows (the tests take a larger machine's path
 * on a small one with it); any other value is ignored. */
#define CODEC_CPUS_ENV "ETCD_BACKUPD_CPUS"
unsigned codec_usable_cpus(void);

/* How many of threads (0: one per CPU) may compress while the input is still
 * arriving from etcd, on a machine of cpus CPUs: the CPUs beyond two, since
 * etcd's sender and the stream keep two busy (see backup.c); 0 on two CPUs
 * or fewer, where compression waits for the stream's end. */
unsigned codec_follow_threads(unsigned threads, unsigned cpus);

/* Bytes accepted by codec_writer_write() / bytes handed to the sink so far. */
uint64_t codec_writer_bytes_in(const CodecWriter *w);
uint64_t codec_writer_bytes_out(const CodecWriter *w);

/* Create a streaming decoder for kind that passes decompressed bytes to
 * sink(…, userdata). It accepts any number of concatenated gzip members or zstd
 * frames (at least one) and uses constant memory. Returns 0, -EINVAL, -ENOMEM. */
int codec_reader_new(CodecKind kind, SinkFn sink, void *userdata, CodecReader **ret);

/* Largest zstd window the decoder accepts (128 MiB, zstd's own default limit):
 * bounds the decoder's memory for hostile input. */
#define CODEC_ZSTD_WINDOW_LOG_MAX 27

/* Feed n compressed bytes. Returns 0, -EBADMSG for corrupt data (bad header,
 * checksum mismatch, trailing garbage after a gzip member), -EMSGSIZE for a
 * zstd frame whose window is above 2^CODEC_ZSTD_WINDOW_LOG_MAX (made with zstd
 * --long=28 or more, or a damaged header), the sink's negative return, or
 * -ENOMEM. After an error every later call fails the same. */
int codec_reader_write(CodecReader *r, const void *data, size_t n);

/* Declare the end of the input. -EBADMSG when it ended inside a member or
 * frame or when there was no member or frame at all; 0 otherwise. */
int codec_reader_finish(CodecReader *r);

/* Free the reader. Accepts NULL; returns NULL. */
CodecReader *codec_reader_free(CodecReader *r);

/* Read in_fd to EOF, decode it as kind and pass the result to sink. Returns 0,
 * -EBADMSG (corrupt or truncated input), a read error as -errno, the sink's
 * negative return, -EBADF for in_fd < 0, -EINVAL or -ENOMEM. */
int codec_decode_fd(CodecKind kind, int in_fd, SinkFn sink, void *userdata);

/* Guess the kind from the first n bytes of a file by magic number: 1f 8b is
 * gzip, 28 b5 2f fd is zstd, anything else (including too short) is none.
 * Returns 0, or -EINVAL for head == NULL with n > 0. */
int codec_detect(const void *head, size_t n, CodecKind *ret);

static inline void codec_writer_freep(CodecWriter **w) {
        if (*w)
                codec_writer_free(*w);
}

static inline void codec_reader_freep(CodecReader **r) {
        if (*r)
                codec_reader_free(*r);
}
