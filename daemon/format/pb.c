/* SPDX-License-Identifier: MIT */
/*
 * pb.c — bounded protobuf decoding for etcd's Maintenance responses.
 *
 * The daemon needs only two response messages from etcd, so instead of a
 * protobuf library this is a small reader over a byte range plus one
 * hand-written decoder per message. The reader never reads past its end,
 * never trusts a length before comparing it with what is left, and stops at
 * the first malformed byte; decoders skip unknown fields (etcd adds fields
 * in minor releases) and reject a known field carrying the wrong wire type,
 * since that means we are not talking to the message we think we are.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format/pb.h"
#include "util/str.h"

void pb_reader_init(PbReader *r, const void *data, size_t size) {
        static const uint8_t empty[1];

        /* Pointer arithmetic on NULL is undefined even with offset 0. */
        if (!data || size == 0) {
                r->p = r->end = empty;
                return;
        }
        r->p = data;
        r->end = r->p + size;
}

size_t pb_reader_remaining(const PbReader *r) {
        return (size_t) (r->end - r->p);
}

int pb_read_varint(PbReader *r, uint64_t *ret) {
        const uint8_t *p = r->p;
        uint64_t v = 0;

        for (unsigned i = 0; i < PB_VARINT_MAX_BYTES; i++) {
                uint8_t b;

                if (p >= r->end)
                        return -EBADMSG;
                b = *p++;
                /* The 10th byte carries bit 63 only: anything above 1 either
                 * overflows 64 bits or continues to an 11th byte. */
                if (i == PB_VARINT_MAX_BYTES - 1 && b > 1)
                        return -EBADMSG;
                v |= (uint64_t) (b & 0x7f) << (7 * i);
                if (!(b & 0x80)) {
                        r->p = p;
                        *ret = v;
                        return 0;
                }
        }
        return -EBADMSG;
}

int pb_read_fixed64(PbReader *r, uint64_t *ret) {
        uint64_t v = 0;

        if (pb_reader_remaining(r) < 8)
                return -EBADMSG;
        for (unsigned i = 0; i < 8; i++)
                v |= (uint64_t) r->p[i] << (8 * i);
        r->p += 8;
        *ret = v;
        return 0;
}

int pb_read_fixed32(PbReader *r, uint32_t *ret) {
        uint32_t v = 0;

        if (pb_reader_remaining(r) < 4)
                return -EBADMSG;
        for (unsigned i = 0; i < 4; i++)
                v |= (uint32_t) r->p[i] << (8 * i);
        r->p += 4;
        *ret = v;
        return 0;
}

int pb_read_len(PbReader *r, const uint8_t **ret, size_t *ret_size) {
        PbReader c = *r;
        uint64_t len;
        int k;

        k = pb_read_varint(&c, &len);
        if (k < 0)
                return k;
        if (len > pb_reader_remaining(&c))
                return -EBADMSG;
        *ret = c.p;
        *ret_size = (size_t) len;
        r->p = c.p + len;
        return 0;
}

int pb_next_field(PbReader *r, PbField *ret) {
        PbReader c = *r;
        PbField f = {};
        uint64_t tag;
        uint32_t v32;
        int k;

        if (pb_reader_remaining(&c) == 0)
                return 0;

        k = pb_read_varint(&c, &tag);
        if (k < 0)
                return k;
        if ((tag >> 3) == 0 || (tag >> 3) > PB_FIELD_NUMBER_MAX)
                return -EBADMSG;
        f.number = (uint32_t) (tag >> 3);
        f.wire_type = (PbWireType) (tag & 7);

        switch (f.wire_type) {
        case PB_WIRE_VARINT:
                k = pb_read_varint(&c, &f.value);
                break;
        case PB_WIRE_I64:
                k = pb_read_fixed64(&c, &f.value);
                break;
        case PB_WIRE_LEN:
                k = pb_read_len(&c, &f.data, &f.size);
                break;
        case PB_WIRE_I32:
                k = pb_read_fixed32(&c, &v32);
                f.value = v32;
                break;
        case PB_WIRE_SGROUP:
        case PB_WIRE_EGROUP:
        default:
                return -EBADMSG;
        }
        if (k < 0)
                return k;

        *r = c;
        *ret = f;
        return 1;
}

static int expect_wire(const PbField *f, PbWireType t) {
        return f->wire_type == t ? 0 : -EBADMSG;
}

/* Decode a ResponseHeader on top of *h: protobuf merges repeated occurrences
 * of an embedded message, so a second header field updates the first. */
static int response_header_merge(const uint8_t *data, size_t size, PbResponseHeader *h) {
        PbReader r;
        PbField f;
        int k;

        pb_reader_init(&r, data, size);
        while ((k = pb_next_field(&r, &f)) > 0) {
                switch (f.number) {
                case 1:
                case 2:
                case 3:
                case 4:
                        if (expect_wire(&f, PB_WIRE_VARINT) < 0)
                                return -EBADMSG;
                        if (f.number == 1)
                                h->cluster_id = f.value;
                        else if (f.number == 2)
                                h->member_id = f.value;
                        else if (f.number == 3)
                                h->revision = (int64_t) f.value;
                        else
                                h->raft_term = f.value;
                        break;
                default:
                        break; /* unknown: already skipped */
                }
        }
        return k;
}

int pb_response_header_decode(const void *data, size_t size, PbResponseHeader *ret) {
        PbResponseHeader h = {};
        int k;

        k = response_header_merge(data, size, &h);
        if (k < 0)
                return k;
        *ret = h;
        return 0;
}

/* A version string: no NUL, no control characters. */
static int check_version(const uint8_t *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] < 0x20 || s[i] == 0x7f)
                        return -EBADMSG;
        return 0;
}

/* A checked version string into buf, as it is when it fits; a longer one (a vendor's build may say more than
 * etcd) is cut to fit, as printable ASCII ending in "...". Returns buf. */
static const char *copy_version(char buf[static PB_VERSION_MAX_BYTES + 1], const uint8_t *s, size_t n) {
        if (n > PB_VERSION_MAX_BYTES)
                return str_printable(buf, PB_VERSION_MAX_BYTES + 1, s, n);
        if (n > 0)
                memcpy(buf, s, n);
        buf[n] = '\0';
        return buf;
}

/* etcd writes an alarm as its AlarmMember in protobuf's text form,
 * "memberID:14296064203266980629 alarm:NOSPACE ". */
static bool is_nospace_alarm(const uint8_t *s, size_t n) {
        static const char token[] = "alarm:NOSPACE";
        const uint8_t *p = memmem(s, n, token, sizeof token - 1);
        size_t after;

        if (!p)
                return false;
        after = (size_t) (p - s) + sizeof token - 1;
        return after == n || s[after] == ' ';
}

/* Copy of an untrusted string cut to max bytes (not inside a UTF-8
 * sequence), with NULs and control characters replaced by '?'. */
static char *sanitized_copy(const uint8_t *s, size_t n, size_t max) {
        char *c;

        if (n > max) {
                n = max;
                /* Back off over continuation bytes so a multi-byte character
                 * is not split; at most 3 of them belong to one character. */
                for (unsigned i = 0; i < 3 && n > 0 && (s[n] & 0xc0) == 0x80; i++)
                        n--;
        }
        c = malloc(n + 1);
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++)
                c[i] = (s[i] < 0x20 || s[i] >= 0x7f) ? '?' : (char) s[i];
        c[n] = '\0';
        return c;
}

static int set_version(char **dst, const uint8_t *s, size_t n) {
        char v[PB_VERSION_MAX_BYTES + 1];
        int k;

        k = check_version(s, n);
        if (k < 0)
                return k;
        *dst = mfree(*dst);
        if (n == 0)
                return 0;
        *dst = strdup(copy_version(v, s, n));
        return *dst ? 0 : -ENOMEM;
}

void pb_status_response_clear(PbStatusResponse *s) {
        if (!s)
                return;
        free(s->version);
        free(s->storage_version);
        free(s->first_error);
        *s = (PbStatusResponse) {};
}

int pb_status_response_decode(const void *data, size_t size, PbStatusResponse *ret) {
        _cleanup_(pb_status_response_clear) PbStatusResponse s = {};
        PbReader r;
        PbField f;
        int k;

        pb_reader_init(&r, data, size);
        while ((k = pb_next_field(&r, &f)) > 0) {
                switch (f.number) {
                case 1: /* header */
                        if (expect_wire(&f, PB_WIRE_LEN) < 0)
                                return -EBADMSG;
                        k = response_header_merge(f.data, f.size, &s.header);
                        if (k < 0)
                                return k;
                        s.has_header = true;
                        break;
                case 2: /* version */
                case 11: /* storageVersion */
                        if (expect_wire(&f, PB_WIRE_LEN) < 0)
                                return -EBADMSG;
                        k = set_version(f.number == 2 ? &s.version : &s.storage_version,
                                        f.data, f.size);
                        if (k < 0)
                                return k;
                        break;
                case 3: /* dbSize */
                case 4: /* leader */
                case 5: /* raftIndex */
                case 6: /* raftTerm */
                case 7: /* raftAppliedIndex */
                case 9: /* dbSizeInUse */
                case 10: /* isLearner */
                case 12: /* dbSizeQuota */
                        if (expect_wire(&f, PB_WIRE_VARINT) < 0)
                                return -EBADMSG;
                        switch (f.number) {
                        case 3:
                                s.db_size = (int64_t) f.value;
                                break;
                        case 4:
                                s.leader = f.value;
                                break;
                        case 5:
                                s.raft_index = f.value;
                                break;
                        case 6:
                                s.raft_term = f.value;
                                break;
                        case 7:
                                s.raft_applied_index = f.value;
                                break;
                        case 9:
                                s.db_size_in_use = (int64_t) f.value;
                                break;
                        case 10:
                                s.is_learner = f.value != 0;
                                break;
                        default:
                                s.db_size_quota = (int64_t) f.value;
                                break;
                        }
                        break;
                case 8: { /* errors (repeated string) */
                        bool nospace;

                        if (expect_wire(&f, PB_WIRE_LEN) < 0)
                                return -EBADMSG;
                        nospace = is_nospace_alarm(f.data, f.size);
                        /* The first, or the first that is more than NOSPACE. */
                        if (s.n_errors == 0 || (!nospace && s.n_errors == s.n_nospace_alarms)) {
                                free(s.first_error);
                                s.first_error = sanitized_copy(f.data, f.size,
                                                               PB_STATUS_ERROR_MAX_BYTES);
                                if (!s.first_error)
                                        return -ENOMEM;
                        }
                        s.n_errors++;
                        if (nospace)
                                s.n_nospace_alarms++;
                        break;
                }
                default:
                        break;
                }
        }
        if (k < 0)
                return k;

        *ret = s;
        s = (PbStatusResponse) {};
        return 0;
}

int pb_snapshot_response_decode(const void *data, size_t size, PbSnapshotResponse *ret) {
        PbSnapshotResponse s = {};
        PbReader r;
        PbField f;
        int k;

        pb_reader_init(&r, data, size);
        while ((k = pb_next_field(&r, &f)) > 0) {
                switch (f.number) {
                case 1: /* header */
                        if (expect_wire(&f, PB_WIRE_LEN) < 0)
                                return -EBADMSG;
                        k = response_header_merge(f.data, f.size, &s.header);
                        if (k < 0)
                                return k;
                        s.has_header = true;
                        break;
                case 2: /* remaining_bytes */
                        if (expect_wire(&f, PB_WIRE_VARINT) < 0)
                                return -EBADMSG;
                        s.remaining_bytes = f.value;
                        break;
                case 3: /* blob: the last occurrence wins, as for any bytes field */
                        if (expect_wire(&f, PB_WIRE_LEN) < 0)
                                return -EBADMSG;
                        s.blob = f.data;
                        s.blob_size = f.size;
                        s.has_blob = true;
                        break;
                case 4: /* version */
                        if (expect_wire(&f, PB_WIRE_LEN) < 0)
                                return -EBADMSG;
                        k = check_version(f.data, f.size);
                        if (k < 0)
                                return k;
                        copy_version(s.version, f.data, f.size);
                        break;
                default:
                        break;
                }
        }
        if (k < 0)
                return k;

        *ret = s;
        return 0;
}

void pb_member_list_clear(PbMemberList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n_members; i++) {
                free(l->members[i].name);
                free(l->members[i].peer_urls);
        }
        free(l->members);
        *l = (PbMemberList) {};
}

/* A member string: bounded, no NUL or control character. */
static int check_member_string(const uint8_t *s, size_t n) {
        if (n > PB_MEMBER_STRING_MAX_BYTES)
                return -E2BIG;
        for (size_t i = 0; i < n; i++)
                if (s[i] < 0x20 || s[i] == 0x7f)
                        return -EBADMSG;
        return 0;
}

static int member_decode(const uint8_t *data, size_t size, PbMember *m) {
        PbReader r;
        PbField f;
        int k;

        pb_reader_init(&r, data, size);
        while ((k = pb_next_field(&r, &f)) > 0) {
                switch (f.number) {
                case 1: /* ID */
                case 5: /* isLearner */
                        if (expect_wire(&f, PB_WIRE_VARINT) < 0)
                                return -EBADMSG;
                        if (f.number == 1)
                                m->id = f.value;
                        else
                                m->is_learner = f.value != 0;
                        break;
                case 2: /* name */
                case 3: /* peerURLs (repeated) */ {
                        size_t old;
                        char *grown;

                        if (expect_wire(&f, PB_WIRE_LEN) < 0)
                                return -EBADMSG;
                        k = check_member_string(f.data, f.size);
                        if (k < 0)
                                return k;
                        if (f.number == 2) {
                                free(m->name);
                                m->name = strndup((const char *) f.data, f.size);
                                if (!m->name)
                                        return -ENOMEM;
                                break;
                        }
                        old = m->peer_urls ? strlen(m->peer_urls) : 0;
                        if (old + f.size > PB_MEMBER_STRING_MAX_BYTES)
                                return -E2BIG;
                        grown = realloc(m->peer_urls, old + f.size + 2);
                        if (!grown)
                                return -ENOMEM;
                        m->peer_urls = grown;
                        if (old > 0)
                                m->peer_urls[old++] = ',';
                        memcpy(m->peer_urls + old, f.data, f.size);
                        m->peer_urls[old + f.size] = '\0';
                        break;
                }
                default:
                        break;
                }
        }
        if (k < 0)
                return k;
        if (!m->name && !(m->name = strdup("")))
                return -ENOMEM;
        if (!m->peer_urls && !(m->peer_urls = strdup("")))
                return -ENOMEM;
        return 0;
}

int pb_member_list_decode(const void *data, size_t size, PbMemberList *ret) {
        _cleanup_(pb_member_list_clear) PbMemberList l = {};
        PbReader r;
        PbField f;
        int k;

        pb_reader_init(&r, data, size);
        while ((k = pb_next_field(&r, &f)) > 0) {
                switch (f.number) {
                case 1: /* header */
                        if (expect_wire(&f, PB_WIRE_LEN) < 0)
                                return -EBADMSG;
                        k = response_header_merge(f.data, f.size, &l.header);
                        if (k < 0)
                                return k;
                        break;
                case 2: { /* members */
                        PbMember *grown;

                        if (expect_wire(&f, PB_WIRE_LEN) < 0)
                                return -EBADMSG;
                        if (l.n_members >= PB_MEMBERS_MAX)
                                return -E2BIG;
                        grown = realloc(l.members, (l.n_members + 1) * sizeof *grown);
                        if (!grown)
                                return -ENOMEM;
                        l.members = grown;
                        l.members[l.n_members] = (PbMember) {};
                        l.n_members++;
                        k = member_decode(f.data, f.size, &l.members[l.n_members - 1]);
                        if (k < 0)
                                return k;
                        break;
                }
                default:
                        break;
                }
        }
        if (k < 0)
                return k;
        *ret = l;
        l = (PbMemberList) {};
        return 0;
}
