/* SPDX-License-Identifier: MIT */
/*
 * zone-tzif.c — making a Zone: decoding TZif bytes (RFC 8536; v1 with
 * 32-bit transitions, v2+ with 64-bit ones and the TZ string), a zone from
 * a TZ string alone, UTC; and what a zone says about itself (its name,
 * glibc's tzname[] and timezone/daylight for it). Every count, index and
 * offset is checked against the bytes before it is used.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format/zone-internal.h"

#define TZIF_HEADER_SIZE 44
/* Bounds far above any real zone (the largest has a few hundred
 * transitions and a few dozen types), low enough that no size overflows. */
#define TZIF_TIMECNT_MAX (1u << 20)
#define TZIF_TYPECNT_MAX 256u
#define TZIF_CHARCNT_MAX 4096u
#define TZIF_LEAPCNT_MAX (1u << 16)
/* RFC 8536: -25 h < utoff < 26 h. */
#define UTOFF_MIN (-89999)
#define UTOFF_MAX 93599

typedef struct Header {
        uint8_t version;
        uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} Header;

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p) {
        return (uint64_t) be32(p) << 32 | be32(p + 4);
}

bool zone_name_is_valid(const char *name) {
        bool slash = true; /* no '/' at the start */

        if (!name || !*name || strlen(name) > 255)
                return false;
        for (const char *p = name; *p; p++) {
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      *p == '-' || *p == '_' || *p == '+' || *p == '/'))
                        return false;
                if (*p == '/') {
                        if (slash)
                                return false;
                        slash = true;
                } else
                        slash = false;
        }
        return !slash;
}

static int header_parse(const uint8_t *p, size_t size, Header *h) {
        if (size < TZIF_HEADER_SIZE || memcmp(p, "TZif", 4) != 0)
                return -EBADMSG;
        h->version = p[4];
        if (h->version != 0 && (h->version < '2' || h->version > '9'))
                return -EBADMSG;
        h->isutcnt = be32(p + 20);
        h->isstdcnt = be32(p + 24);
        h->leapcnt = be32(p + 28);
        h->timecnt = be32(p + 32);
        h->typecnt = be32(p + 36);
        h->charcnt = be32(p + 40);
        if (h->typecnt == 0 || h->typecnt > TZIF_TYPECNT_MAX || h->charcnt == 0 ||
            h->charcnt > TZIF_CHARCNT_MAX || h->timecnt > TZIF_TIMECNT_MAX || h->leapcnt > TZIF_LEAPCNT_MAX ||
            (h->isutcnt != 0 && h->isutcnt != h->typecnt) || (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
                return -EBADMSG;
        return 0;
}

/* The size of the data block after a header; the bounds above keep it far
 * from overflowing. */
static size_t block_size(const Header *h, size_t timesize) {
        return (size_t) h->timecnt * timesize + h->timecnt + (size_t) h->typecnt * 6 + h->charcnt +
               (size_t) h->leapcnt * (timesize + 4) + h->isstdcnt + h->isutcnt;
}

/* Decodes the data block at p (its size checked by the caller). */
static int block_parse(const Header *h, const uint8_t *p, size_t timesize, Zone *z) {
        z->n_trans = h->timecnt;
        z->n_types = h->typecnt;
        z->n_abbrs = h->charcnt;
        z->trans = calloc(MAX(z->n_trans, 1u), sizeof *z->trans);
        z->trans_type = calloc(MAX(z->n_trans, 1u), 1);
        z->types = calloc(z->n_types, sizeof *z->types);
        z->abbrs = calloc(z->n_abbrs + 1, 1);
        if (!z->trans || !z->trans_type || !z->types || !z->abbrs)
                return -ENOMEM;

        for (size_t i = 0; i < z->n_trans; i++, p += timesize) {
                z->trans[i] = timesize == 8 ? (int64_t) be64(p) : (int64_t) (int32_t) be32(p);
                if (i > 0 && z->trans[i] <= z->trans[i - 1])
                        return -EBADMSG;
        }
        for (size_t i = 0; i < z->n_trans; i++, p++) {
                if (*p >= z->n_types)
                        return -EBADMSG;
                z->trans_type[i] = *p;
        }
        for (size_t i = 0; i < z->n_types; i++, p += 6) {
                int32_t utoff = (int32_t) be32(p);

                if (utoff < UTOFF_MIN || utoff > UTOFF_MAX || p[4] > 1 || p[5] >= z->n_abbrs)
                        return -EBADMSG;
                z->types[i] = (ZoneType) { .utoff = utoff, .isdst = p[4], .abbr = p[5] };
        }
        /* One NUL more than the file has: every index names a string. */
        memcpy(z->abbrs, p, z->n_abbrs);
        return 0;
}

/* glibc's tzname[], timezone and daylight right after it read the zone:
 * for each kind, the last transition to a type of that kind. */
static void zone_set_defaults(Zone *z) {
        bool std_set = false, dst_set = false;

        z->tzname[0] = z->tzname[1] = NULL;
        for (size_t i = z->n_trans; i > 0; i--) {
                const ZoneType *t = &z->types[z->trans_type[i - 1]];

                if (!z->tzname[t->isdst]) {
                        z->tzname[t->isdst] = z->abbrs + t->abbr;
                        if (z->tzname[!t->isdst])
                                break;
                }
        }
        if (!z->tzname[0])
                z->tzname[0] = z->abbrs;
        if (!z->tzname[1])
                z->tzname[1] = z->tzname[0];

        if (z->n_trans == 0) {
                z->std_offset = z->dst_offset = z->types[0].utoff;
                return;
        }
        z->std_offset = z->dst_offset = 0;
        for (size_t i = z->n_trans; i > 0 && !(std_set && dst_set); i--) {
                const ZoneType *t = &z->types[z->trans_type[i - 1]];

                if (!std_set && !t->isdst) {
                        std_set = true;
                        z->std_offset = t->utoff;
                } else if (!dst_set && t->isdst) {
                        dst_set = true;
                        z->dst_offset = t->utoff;
                }
        }
        if (!dst_set)
                z->dst_offset = z->std_offset;
}

static Zone *zone_alloc(const char *name) {
        Zone *z = calloc(1, sizeof *z);

        if (!z)
                return NULL;
        z->name = strdup(name ? name : "");
        if (!z->name)
                return mfree(z);
        return z;
}

int zone_from_tzif(const uint8_t *data, size_t size, const char *name, Zone **ret) {
        _cleanup_(zone_freep) Zone *z = NULL;
        const uint8_t *p = data, *end = data + size;
        size_t timesize = 4, n;
        Header h;
        int r;

        if (!data || !ret)
                return -EINVAL;
        r = header_parse(p, size, &h);
        if (r < 0)
                return r;
        n = block_size(&h, 4);
        if ((size_t) (end - p) - TZIF_HEADER_SIZE < n)
                return -EBADMSG;
        if (h.version >= '2') {
                /* Skip the v1 block: the v2+ block has it all in 64 bits. */
                p += TZIF_HEADER_SIZE + n;
                r = header_parse(p, (size_t) (end - p), &h);
                if (r < 0)
                        return r;
                timesize = 8;
                n = block_size(&h, 8);
                if ((size_t) (end - p) - TZIF_HEADER_SIZE < n)
                        return -EBADMSG;
        }
        if (h.leapcnt > 0)
                return -EOPNOTSUPP;

        z = zone_alloc(name);
        if (!z)
                return -ENOMEM;
        r = block_parse(&h, p + TZIF_HEADER_SIZE, timesize, z);
        if (r < 0)
                return r;
        p += TZIF_HEADER_SIZE + n;

        if (timesize == 8) {
                /* The footer: "\n" TZ string "\n"; an empty string means none. */
                const uint8_t *nl;

                if (p >= end || *p != '\n')
                        return -EBADMSG;
                p++;
                nl = memchr(p, '\n', (size_t) (end - p));
                if (!nl)
                        return -EBADMSG;
                if (nl > p) {
                        if (zone_rule_parse((const char *) p, (size_t) (nl - p), &z->rule) < 0)
                                return -EBADMSG;
                        z->has_rule = true;
                }
        }
        zone_set_defaults(z);
        *ret = TAKE_PTR(z);
        return 0;
}

int zone_from_rule(const char *rule, Zone **ret) {
        _cleanup_(zone_freep) Zone *z = NULL;
        int r;

        if (!rule || !ret)
                return -EINVAL;
        z = zone_alloc(rule);
        if (!z)
                return -ENOMEM;
        r = zone_rule_parse(rule, strlen(rule), &z->rule);
        if (r < 0)
                return r;
        z->has_rule = z->rule_only = true;
        z->tzname[0] = z->rule.name[0];
        z->tzname[1] = z->rule.name[1];
        z->std_offset = z->rule.offset[0];
        z->dst_offset = z->rule.offset[1];
        *ret = TAKE_PTR(z);
        return 0;
}

int zone_new_utc(Zone **ret) {
        _cleanup_(zone_freep) Zone *z = NULL;

        if (!ret)
                return -EINVAL;
        z = zone_alloc("UTC");
        if (!z)
                return -ENOMEM;
        z->n_types = 1;
        z->n_abbrs = 4;
        z->types = calloc(1, sizeof *z->types);
        z->abbrs = strdup("UTC");
        if (!z->types || !z->abbrs)
                return -ENOMEM;
        zone_set_defaults(z);
        *ret = TAKE_PTR(z);
        return 0;
}

Zone *zone_free(Zone *z) {
        if (!z)
                return NULL;
        free(z->name);
        free(z->trans);
        free(z->trans_type);
        free(z->types);
        free(z->abbrs);
        return mfree(z);
}

const char *zone_name(const Zone *z) {
        return z ? z->name : NULL;
}

const char *zone_abbreviation(const Zone *z, int isdst) {
        if (!z || isdst < 0 || isdst > 1)
                return NULL;
        return z->tzname[isdst];
}

const char *zone_abbreviation_at(const Zone *z, int isdst, int64_t t) {
        const char *name[2] = {};
        size_t i, n;

        if (!z || isdst < 0 || isdst > 1)
                return NULL;
        if (t == INT64_MIN || z->rule_only)
                return z->tzname[isdst];
        n = z->n_trans;
        if (n > 0 && t >= z->trans[n - 1] && z->has_rule)
                /* The TZ string's names (the standard one twice without DST). */
                return z->rule.name[isdst];
        if (n == 0 || t < z->trans[0]) {
                /* glibc: the first standard type (the first type if all are
                 * daylight), the daylight one before it or else after it. */
                for (i = 0; i < z->n_types && z->types[i].isdst; i++)
                        if (!name[1])
                                name[1] = z->abbrs + z->types[i].abbr;
                if (i == z->n_types)
                        i = 0;
                name[0] = z->abbrs + z->types[i].abbr;
                for (size_t j = i; !name[1] && j < z->n_types; j++)
                        if (z->types[j].isdst)
                                name[1] = z->abbrs + z->types[j].abbr;
                return name[isdst] ?: name[0];
        }
        /* The type in effect, and for the other kind the next transition
         * to one (i: the first transition after t, or n past the last). */
        for (i = 1; i < n && z->trans[i] <= t; i++)
                ;
        {
                const ZoneType *cur = &z->types[z->trans_type[i - 1]];

                name[cur->isdst] = z->abbrs + cur->abbr;
        }
        for (size_t j = i; j < n; j++) {
                const ZoneType *next = &z->types[z->trans_type[j]];

                if (!name[next->isdst]) {
                        name[next->isdst] = z->abbrs + next->abbr;
                        if (name[!next->isdst])
                                break;
                }
        }
        if (!name[0])
                name[0] = name[1];
        /* No daylight time ahead: glibc names the standard time twice. */
        return name[isdst] ?: name[0];
}

bool zone_is_utc_at(const Zone *z, int64_t t) {
        if (!z)
                return false;
        /* glibc parses the TZ string only for a time past the last
         * transition; before it (or in a file with none) it keeps the
         * offsets it read. A TZ string alone is parsed when read. */
        if (z->rule_only || (z->has_rule && z->n_trans > 0 && t >= z->trans[z->n_trans - 1]))
                return z->rule.offset[0] == 0 && z->rule.offset[1] == 0;
        return z->std_offset == 0 && z->dst_offset == 0;
}

static char utc_name[] = "UTC";
static ZoneType utc_types[1] = { { .utoff = 0, .isdst = false, .abbr = 0 } };
static const Zone utc_zone = {
        .name = utc_name,
        .types = utc_types,
        .n_types = 1,
        .abbrs = utc_name,
        .n_abbrs = sizeof utc_name,
        .tzname = { utc_name, utc_name },
};

const Zone *zone_utc(void) {
        return &utc_zone;
}
