/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * decode.h — the decode pipeline's state, shared by the two files of the
 * inspect module: inspect.c reads a backup (read → decrypt → decompress →
 * trailer → map), verify.c reports what each stage found. Not for other
 * modules.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup/inspect.h"

typedef enum Stage {
        STAGE_READ,
        STAGE_DECRYPT,
        STAGE_DECOMPRESS,
        STAGE_TRAILER,
        STAGE_STRUCTURE,
        STAGE_DONE,
} Stage;

/* What reading a backup found, stage by stage, for verify's report. */
typedef struct Decode {
        bool hash_file;                 /* in: take the file's SHA-256 */
        uint64_t hash_on_size;          /* in: once a stage failed, the file is read on for its SHA-256 only when
                                         * its size is this (the sidecar's file_size); 0: never */
        const AgeIdentity *ids;         /* in: identities for an encrypted file */
        size_t n_ids;
        const char *tmp_dir;            /* in: where the decompressed db goes */
        int source_fd;                  /* in: read this descriptor (from its start), not b->path;
                                         * -EBADF: open b->path */
        uint64_t max_db_size;           /* in: stop past this db size (the sidecar's db_size); 0 = the cap */
        uint64_t spool_room;            /* what tmp_dir could take, when that bounded the stream */
        Stage failed;                   /* the stage that failed, or STAGE_DONE */
        char reason[INSPECT_REASON_MAX];
        bool file_read;                 /* the whole file was read */
        bool file_sized;                /* not read to its end: b->file_size is its size as it was opened */
        uint8_t file_sha256[TRAILER_BYTES];
        bool decrypted;                 /* the whole file was authentic */
        uint64_t plain_size;            /* decrypted bytes (the compressed stream) */
        bool decompressed;              /* the decoder reached a clean end */
        uint64_t stream_size;           /* decompressed bytes (db + trailer) */
        bool has_magic;                 /* the decompressed data starts like a bbolt db */
} Decode;

/* $TMPDIR, else /var/tmp. */
const char *decode_tmp_dir(void);
/* A backup with only its path set (fd -EBADF); NULL on ENOMEM. */
InspectBackup *decode_backup_new(const char *path);
/* Record that stage failed with reason fmt; returns r. */
_printf_(4, 5) int decode_fail(Decode *d, Stage stage, int r, const char *fmt, ...);
/* Read d->source_fd, or b->path, through the stages into b->fd, filling b
 * and d. */
int decode_backup(InspectBackup *b, Decode *d);
/* Map b->fd with the bbolt reader. */
int decode_map(InspectBackup *b, Decode *d);
