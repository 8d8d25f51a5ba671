/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * fuzz.h — what every libFuzzer target in tests/fuzz/ shares: the entry
 * point's prototype and require(), which stops the run on a broken
 * invariant (a finding, also in the gcc build's corpus replay).
 */

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define require(x)                        \
        do {                              \
                if (!(x))                 \
                        __builtin_trap(); \
        } while (0)
