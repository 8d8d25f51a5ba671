/* SPDX-License-Identifier: MIT */
/*
 * bytesmap.c — the byte-string hash table (see bytesmap.h). A slot is a
 * header (key, size, hash) followed by the value, aligned for any type.
 */

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/bytesmap.h"

typedef struct Slot {
        const void *key;        /* NULL: empty slot */
        size_t key_size;
        uint64_t hash;
} Slot;

#define SLOT_HEADER ((sizeof(Slot) + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t))
#define CAPACITY_MIN 64

static uint64_t fnv1a(const uint8_t *p, size_t n) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

static Slot *slot_at(unsigned char *slots, size_t slot_size, size_t i) {
        return (Slot *) (void *) (slots + i * slot_size);
}

static Slot *find(unsigned char *slots, size_t slot_size, size_t capacity, const void *key, size_t key_size,
                  uint64_t hash) {
        size_t mask = capacity - 1;

        for (size_t i = (size_t) hash & mask;; i = (i + 1) & mask) {
                Slot *s = slot_at(slots, slot_size, i);
                if (!s->key || (s->hash == hash && s->key_size == key_size && memcmp(s->key, key, key_size) == 0))
                        return s;
        }
}

static int grow(BytesMap *m) {
        size_t capacity = m->capacity ? m->capacity * 2 : CAPACITY_MIN;
        unsigned char *slots;

        if (capacity < m->capacity || capacity > SIZE_MAX / m->slot_size)
                return -ENOMEM;
        slots = calloc(capacity, m->slot_size);
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < m->capacity; i++) {
                Slot *s = slot_at(m->slots, m->slot_size, i);
                if (s->key)
                        memcpy(find(slots, m->slot_size, capacity, s->key, s->key_size, s->hash), s, m->slot_size);
        }
        free(m->slots);
        m->slots = slots;
        m->capacity = capacity;
        return 0;
}

void bytesmap_init(BytesMap *m, size_t value_size) {
        *m = (BytesMap) { .value_size = value_size,
                          .slot_size = SLOT_HEADER + (value_size + alignof(max_align_t) - 1) /
                                                     alignof(max_align_t) * alignof(max_align_t) };
}

void bytesmap_done(BytesMap *m) {
        free(m->slots);
        bytesmap_init(m, m->value_size);
}

int bytesmap_put(BytesMap *m, const void *key, size_t key_size, void **ret_value) {
        uint64_t hash;
        Slot *s;
        int r;

        if ((m->n + 1) * 4 > m->capacity * 3) {
                r = grow(m);
                if (r < 0)
                        return r;
        }
        hash = fnv1a(key, key_size);
        s = find(m->slots, m->slot_size, m->capacity, key, key_size, hash);
        *ret_value = (unsigned char *) s + SLOT_HEADER;
        if (s->key)
                return 0;
        *s = (Slot) { .key = key, .key_size = key_size, .hash = hash };
        m->n++;
        return 1;
}

bool bytesmap_next(const BytesMap *m, size_t *i, const void **ret_key, size_t *ret_key_size, void **ret_value) {
        for (; *i < m->capacity; (*i)++) {
                Slot *s = slot_at(m->slots, m->slot_size, *i);
                if (!s->key)
                        continue;
                (*i)++;
                if (ret_key)
                        *ret_key = s->key;
                if (ret_key_size)
                        *ret_key_size = s->key_size;
                if (ret_value)
                        *ret_value = (unsigned char *) s + SLOT_HEADER;
                return true;
        }
        return false;
}
