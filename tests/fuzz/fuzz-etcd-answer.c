/* SPDX-License-Identifier: MIT */
/*
 * fuzz-etcd-answer.c — libFuzzer target for the etcd client's HTTP/2 side:
 * what a server sends after TLS (its SETTINGS, HEADERS, DATA, trailers, any
 * other frame) through nghttp2 into the call's callbacks, the gRPC deframer
 * and the header parser, and the call's verdict.
 *
 * Input layout: byte 0 picks the size of the pieces the answer arrives in,
 * then the server's bytes. The answer is replayed once whole and once in
 * pieces: both succeed or both fail, and both successes deliver the same
 * messages.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/etcd.h"
#include "format/pb.h"
#include "util/macro.h"
#include "fuzz.h"

typedef struct Run {
        uint64_t hash;
        uint64_t count;
} Run;

static int on_message(const uint8_t *msg, size_t len, void *userdata) {
        Run *run = userdata;
        PbSnapshotResponse s;

        require(msg);
        run->count++;
        for (size_t i = 0; i < len; i++)
                run->hash = (run->hash ^ msg[i]) * UINT64_C(0x100000001b3);
        run->hash = (run->hash ^ len) * UINT64_C(0x100000001b3);
        if (pb_snapshot_response_decode(msg, len, &s) == 0 && s.has_blob && s.blob_size > 0)
                require(s.blob >= msg && (size_t) (s.blob - msg) + s.blob_size <= len);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const size_t pieces[8] = { 1, 2, 7, 9, 64, 1000, 16384, 1 << 20 };
        _cleanup_free_ char *error_whole = NULL, *error_split = NULL;
        Run whole = { .hash = 1 }, split = { .hash = 1 };
        int rw, rs;

        if (size < 1)
                return 0;
        rw = etcd_replay_answer("https://127.0.0.1:2379", data + 1, size - 1, size, on_message, &whole, &error_whole);
        rs = etcd_replay_answer("https://127.0.0.1:2379", data + 1, size - 1, pieces[data[0] & 7], on_message, &split,
                                &error_split);
        require(rw == 0 || rw == -EPIPE || rw == -ECONNRESET || rw == -EPROTO || rw == -EBADMSG || rw == -EACCES ||
                rw == -EIO || rw == -ENOMEM);
        require(rw == 0 || error_whole);
        if (rw == 0)
                require(!error_whole);
        /* How the answer is cut never makes a call succeed or fail, nor changes
         * what a successful one delivered. (Which error a broken answer gets
         * may differ: with small pieces the reset of a malformed stream goes
         * out before a later frame breaks the whole connection.) */
        require((rw == 0) == (rs == 0));
        if (rw == 0)
                require(whole.count == split.count && whole.hash == split.hash);
        return 0;
}
