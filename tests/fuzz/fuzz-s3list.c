/* SPDX-License-Identifier: MIT */
/*
 * fuzz-s3list.c — libFuzzer target for the ListObjectsV2 and
 * ListMultipartUploads scanners and the error-element extraction of the S3
 * upload: object stores (or anything answering at the configured URL) are
 * untrusted.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/upload.h"
#include "format/s3-uri.h"
#include "format/s3-xml.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        S3Listing l = {};
        const char *xml = (const char *) data;
        char *s = NULL;

        /* Twice into the same listing: the second page appends. */
        if (s3_list_parse(xml, size, &l) == 0)
                (void) s3_list_parse(xml, size, &l);
        for (size_t i = 0; i < l.n; i++)
                if (!l.objects[i].key || strlen(l.objects[i].key) > S3_KEY_MAX)
                        abort();
        s3_listing_done(&l);
        {
                S3Uploads u = {};
                if (s3_uploads_parse(xml, size, &u) == 0)
                        (void) s3_uploads_parse(xml, size, &u);
                for (size_t i = 0; i < u.n; i++)
                        if (!u.uploads[i].key || strlen(u.uploads[i].key) > S3_KEY_MAX || !u.uploads[i].upload_id ||
                            !*u.uploads[i].upload_id || strlen(u.uploads[i].upload_id) > S3_TOKEN_MAX)
                                abort();
                s3_uploads_done(&u);
        }
        if (s3_xml_element(xml, size, "Code", 128, &s) == 0)
                free(s);
        s = NULL;
        if (s3_xml_element(xml, size, "Message", 512, &s) == 0)
                free(s);
        return 0;
}
