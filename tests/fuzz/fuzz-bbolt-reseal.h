/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * fuzz-bbolt-reseal.h — shared by the bbolt and mvcc fuzz targets. Most
 * mutations of a meta page only break its checksum. When the input's last
 * byte is odd, resealed_copy() recomputes the FNV-1a checksums of both meta
 * pages (at 0, and at the page size meta 0 names, else 4096) on a copy, so
 * the fuzzer reaches the fields behind them.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void reseal(uint8_t *p, size_t size, size_t off) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        if (off > size || size - off < 16 + 64)
                return;
        for (size_t i = 0; i < 56; i++) {
                h ^= p[off + 16 + i];
                h *= UINT64_C(0x100000001b3);
        }
        for (size_t i = 0; i < 8; i++)
                p[off + 16 + 56 + i] = (uint8_t) (h >> (8 * i));
}

/* A resealed copy of data (caller frees), or NULL when the input is used
 * as it is. */
static inline uint8_t *resealed_copy(const uint8_t *data, size_t size) {
        uint8_t *p;
        size_t ps = 4096;

        if (size == 0 || !(data[size - 1] & 1) || !(p = malloc(size)))
                return NULL;
        memcpy(p, data, size);
        if (size >= 16 + 12) {
                uint32_t v = (uint32_t) p[24] | (uint32_t) p[25] << 8 | (uint32_t) p[26] << 16 |
                             (uint32_t) p[27] << 24;
                if (v >= 512 && v <= 65536)
                        ps = v;
        }
        reseal(p, size, 0);
        reseal(p, size, ps);
        return p;
}
