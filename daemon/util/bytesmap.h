/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * bytesmap.h — a hash table keyed by byte strings the caller keeps alive
 * (FNV-1a, open addressing, linear probing, grown at 3/4 load). Each entry
 * carries a value of a fixed size chosen at init, zeroed when the entry is
 * made. No removal: it serves walks that collect, then read everything.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct BytesMap {
        unsigned char *slots;
        size_t slot_size;       /* header + value, aligned */
        size_t value_size;
        size_t capacity;        /* a power of two, or 0 */
        size_t n;
} BytesMap;

/* An empty map whose values are value_size bytes. Allocates nothing. */
void bytesmap_init(BytesMap *m, size_t value_size);

/* Free the slots (not the keys) and zero the map. */
void bytesmap_done(BytesMap *m);

/* Find key (key_size bytes, not copied: it must outlive the map), making
 * an entry with a zeroed value when there is none. Returns 1 for a new
 * entry, 0 for an existing one, -ENOMEM; *ret_value points to the value
 * until the next bytesmap_put(). */
int bytesmap_put(BytesMap *m, const void *key, size_t key_size, void **ret_value);

/* Iterate: start with *i = 0; returns false at the end. Order unspecified. */
bool bytesmap_next(const BytesMap *m, size_t *i, const void **ret_key, size_t *ret_key_size, void **ret_value);
