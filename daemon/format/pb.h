/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * pb.h — a bounded protobuf reader and decoders for the few etcd messages
 * the daemon reads (Maintenance.Status and Maintenance.Snapshot responses).
 *
 * Everything decoded here comes from etcd over the network and is treated as
 * untrusted: every varint is at most 10 bytes with overflow detection, every
 * length is checked against the bytes that are actually there before use,
 * groups (wire types 3 and 4) and field number 0 are rejected, and fields we
 * do not know are skipped so that newer etcd versions keep working. The
 * requests we send (StatusRequest, SnapshotRequest) are empty messages, so
 * their encoding is zero bytes and there is no encoder. Pure: no I/O, no
 * logging. Errors: -EBADMSG for malformed input, -E2BIG for a value over one
 * of our limits, -ENOMEM.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

/* A varint never takes more than this many bytes on the wire. */
#define PB_VARINT_MAX_BYTES 10
/* Largest field number protobuf allows (2^29 - 1). */
#define PB_FIELD_NUMBER_MAX UINT32_C(0x1fffffff)
/* Longest etcd version string kept ("3.5.12" is typical); a longer one is cut to this. */
#define PB_VERSION_MAX_BYTES 64
/* StatusResponse.errors[0] is kept up to this many bytes (longer is cut). */
#define PB_STATUS_ERROR_MAX_BYTES 256

typedef enum PbWireType {
        PB_WIRE_VARINT = 0,
        PB_WIRE_I64 = 1,
        PB_WIRE_LEN = 2,
        PB_WIRE_SGROUP = 3, /* deprecated groups: always rejected */
        PB_WIRE_EGROUP = 4,
        PB_WIRE_I32 = 5,
} PbWireType;

/* A cursor over one message's bytes. Holds no memory of its own. */
typedef struct PbReader {
        const uint8_t *p;
        const uint8_t *end;
} PbReader;

/* One decoded field. For PB_WIRE_LEN, data/size point into the reader's
 * buffer; for the other wire types the value is in `value` (fixed32 values
 * zero-extended). */
typedef struct PbField {
        uint32_t number;
        PbWireType wire_type;
        uint64_t value;
        const uint8_t *data;
        size_t size;
} PbField;

/* Start reading size bytes at data. data may be NULL when size is 0. The
 * buffer must outlive the reader and everything decoded from it. */
void pb_reader_init(PbReader *r, const void *data, size_t size);

/* Bytes not yet consumed. */
size_t pb_reader_remaining(const PbReader *r);

/* Read one varint. Returns 0, or -EBADMSG when it is truncated, longer than
 * 10 bytes or does not fit in 64 bits. On error the reader does not move. */
int pb_read_varint(PbReader *r, uint64_t *ret);

/* Read a little-endian fixed64 / fixed32. Returns 0 or -EBADMSG (truncated). */
int pb_read_fixed64(PbReader *r, uint64_t *ret);
int pb_read_fixed32(PbReader *r, uint32_t *ret);

/* Read a length-delimited payload: *ret points into the buffer (no copy).
 * Returns 0, or -EBADMSG when the length varint is malformed or the length
 * exceeds the bytes left. */
int pb_read_len(PbReader *r, const uint8_t **ret, size_t *ret_size);

/* Read the next field (tag and payload). Returns 1 and fills *ret, 0 at the
 * clean end of the buffer (*ret untouched), or -EBADMSG for a malformed tag
 * or payload, field number 0, a field number above 2^29-1, or a group wire
 * type (3, 4) or the unassigned wire types 6 and 7. */
int pb_next_field(PbReader *r, PbField *ret);

/* etcdserverpb.ResponseHeader. */
typedef struct PbResponseHeader {
        uint64_t cluster_id;
        uint64_t member_id;
        int64_t revision;
        uint64_t raft_term;
} PbResponseHeader;

/* Decode a ResponseHeader message. Unknown fields are skipped; a known field
 * with the wrong wire type is -EBADMSG. *ret is written only on success. */
int pb_response_header_decode(const void *data, size_t size, PbResponseHeader *ret);

/* etcdserverpb.StatusResponse (the fields the daemon uses). Owns its strings:
 * release with pb_status_response_clear(). */
typedef struct PbStatusResponse {
        PbResponseHeader header;
        bool has_header;
        /* NUL-terminated, at most PB_VERSION_MAX_BYTES bytes, no control
         * characters; NULL when absent or empty. A longer one is cut: its
         * first bytes as printable ASCII (anything else '?'), then "...". */
        char *version;
        char *storage_version; /* etcd ≥ 3.6, same rules as version */
        int64_t db_size;
        uint64_t leader;
        uint64_t raft_index;
        uint64_t raft_term;
        uint64_t raft_applied_index;
        int64_t db_size_in_use;
        int64_t db_size_quota; /* etcd ≥ 3.6 */
        bool is_learner;
        /* errors[]: how many were sent, and a copy of the first one that is
         * not the NOSPACE alarm (of the first one when all are), cut to
         * PB_STATUS_ERROR_MAX_BYTES with control characters and NULs
         * replaced by '?' so it is safe to log; NULL when there is none. */
        size_t n_errors;
        char *first_error;
        /* How many of errors[] are the NOSPACE alarm ("memberID:… alarm:NOSPACE "
         * as etcd writes an alarm): the db reached its quota, etcd refuses
         * writes but serves reads and snapshots. */
        size_t n_nospace_alarms;
} PbStatusResponse;

/* Decode a StatusResponse. On success *ret is overwritten (not freed first:
 * pass a zeroed or cleared struct) and owns new strings. Returns 0,
 * -EBADMSG (malformed, wrong wire type for a known field, a version with a
 * NUL or control character) or -ENOMEM. *ret is untouched on failure. */
int pb_status_response_decode(const void *data, size_t size, PbStatusResponse *ret);

/* Free the strings of s and zero it. Accepts NULL and a zeroed struct, so it
 * also serves as a cleanup handler: _cleanup_(pb_status_response_clear). */
void pb_status_response_clear(PbStatusResponse *s);

/* etcdserverpb.SnapshotResponse. Zero-copy: blob points into the buffer
 * that was decoded and is valid only as long as that buffer is. Needs no
 * clearing. */
typedef struct PbSnapshotResponse {
        PbResponseHeader header;
        bool has_header;
        uint64_t remaining_bytes;
        const uint8_t *blob;
        size_t blob_size;
        bool has_blob;
        /* etcd ≥ 3.6: server version, NUL-terminated ("" when absent), same
         * rules as PbStatusResponse.version. Copied: it is small and rare. */
        char version[PB_VERSION_MAX_BYTES + 1];
} PbSnapshotResponse;

/* Decode one SnapshotResponse message. Returns 0 or -EBADMSG (see
 * pb_status_response_decode); *ret is written only on success. */
int pb_snapshot_response_decode(const void *data, size_t size, PbSnapshotResponse *ret);

/* Bounds of a MemberListResponse accepted. */
#define PB_MEMBERS_MAX 1024
#define PB_MEMBER_STRING_MAX_BYTES 4096

/* etcdserverpb.Member (the fields the restore uses). */
typedef struct PbMember {
        uint64_t id;
        char *name;             /* "" for a member added but not started yet */
        char *peer_urls;        /* peerURLs joined with ',' ("" when none) */
        bool is_learner;
} PbMember;

/* etcdserverpb.MemberListResponse: its members. Release with
 * pb_member_list_clear(). */
typedef struct PbMemberList {
        PbResponseHeader header;
        PbMember *members;
        size_t n_members;
} PbMemberList;

/* Decode a MemberListResponse. Strings are at most
 * PB_MEMBER_STRING_MAX_BYTES each, without NUL or control characters. On
 * success *ret is overwritten (pass a zeroed struct) and owns new strings.
 * Returns 0, -EBADMSG (malformed, a wrong wire type, a bad string), -E2BIG
 * (more than PB_MEMBERS_MAX members, a string too long) or -ENOMEM. */
int pb_member_list_decode(const void *data, size_t size, PbMemberList *ret);

/* Free what l owns and zero it. Accepts NULL and a zeroed struct. */
void pb_member_list_clear(PbMemberList *l);
