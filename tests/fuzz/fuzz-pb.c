/* SPDX-License-Identifier: MIT */
/*
 * fuzz-pb.c — libFuzzer target for the protobuf reader: the input is one
 * message from etcd, decoded as a SnapshotResponse, a StatusResponse, a
 * MemberListResponse, a ResponseHeader and as a raw field walk. Besides crashes it checks what
 * the decoders promise: blobs point inside the input, strings are bounded
 * and free of control characters, a field walk never runs past the end.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/pb.h"
#include "fuzz.h"

static void check_string(const char *s, size_t max) {
        size_t n;

        if (!s)
                return;
        n = strlen(s);
        require(n > 0 && n <= max);
        for (size_t i = 0; i < n; i++)
                require((uint8_t) s[i] >= 0x20 && (uint8_t) s[i] != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        PbSnapshotResponse snap;
        _cleanup_(pb_status_response_clear) PbStatusResponse st = {};
        PbResponseHeader h;
        PbReader r;
        PbField f;
        int k;

        if (pb_snapshot_response_decode(data, size, &snap) == 0) {
                volatile uint8_t sum = 0;

                if (snap.has_blob && snap.blob_size > 0) {
                        require(snap.blob >= data && snap.blob_size <= size &&
                                (size_t) (snap.blob - data) <= size - snap.blob_size);
                        /* Touch every byte so ASan sees any stray pointer. */
                        for (size_t i = 0; i < snap.blob_size; i++)
                                sum ^= snap.blob[i];
                }
                require(strlen(snap.version) <= PB_VERSION_MAX_BYTES);
                if (snap.version[0])
                        check_string(snap.version, PB_VERSION_MAX_BYTES);
                (void) sum;
        }

        if (pb_status_response_decode(data, size, &st) == 0) {
                check_string(st.version, PB_VERSION_MAX_BYTES);
                check_string(st.storage_version, PB_VERSION_MAX_BYTES);
                if (st.first_error) {
                        require(st.n_errors > 0);
                        require(strlen(st.first_error) <= PB_STATUS_ERROR_MAX_BYTES);
                        for (const char *c = st.first_error; *c; c++)
                                require((uint8_t) *c >= 0x20 && (uint8_t) *c != 0x7f);
                } else
                        require(st.n_errors == 0);
                require(st.n_nospace_alarms <= st.n_errors);
        }

        {
                _cleanup_(pb_member_list_clear) PbMemberList ml = {};
                if (pb_member_list_decode(data, size, &ml) == 0) {
                        require(ml.n_members <= PB_MEMBERS_MAX);
                        for (size_t i = 0; i < ml.n_members; i++) {
                                require(ml.members[i].name && ml.members[i].peer_urls);
                                if (*ml.members[i].name)
                                        check_string(ml.members[i].name, PB_MEMBER_STRING_MAX_BYTES);
                        }
                }
        }

        (void) pb_response_header_decode(data, size, &h);

        pb_reader_init(&r, data, size);
        while ((k = pb_next_field(&r, &f)) > 0) {
                require(f.number >= 1 && f.number <= PB_FIELD_NUMBER_MAX);
                if (f.wire_type == PB_WIRE_LEN && f.size > 0)
                        require(f.data >= data && (size_t) (f.data - data) + f.size <= size);
        }
        require(k == 0 || k == -EBADMSG);
        if (k == 0)
                require(pb_reader_remaining(&r) == 0);
        return 0;
}
