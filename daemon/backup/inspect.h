/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * inspect.h — reading a backup file offline, without etcd or the daemon:
 * open it (age encryption and compression detected by magic, streamed
 * through the decryptor and the decoder into an anonymous temporary file in
 * constant memory while the SHA-256 trailer is checked, then mapped with the
 * bbolt reader) and verify it end to end against its sidecar (verify.c).
 * Its keys are read with format/mvcc-kv.h, its Secrets audited with
 * format/secrets.h. The backup is untrusted: every failure is a
 * -errno plus a reason a user can act on ("truncated gzip stream", "SHA-256
 * trailer mismatch: the file is damaged"). No printing; the CLI lives in
 * ctl/offline.c.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "format/age.h"
#include "format/bbolt.h"
#include "backup/codec.h"
#include "format/trailer.h"
#include "util/macro.h"

/* Reasons fit in this many bytes (including the NUL). */
#define INSPECT_REASON_MAX 512
/* A backup that decompresses to more than this is refused: no etcd db is
 * that large (etcd's hard quota is 8 GiB), and a hostile file must not fill
 * the temporary directory. */
#define INSPECT_DB_MAX_BYTES (UINT64_C(64) * 1024 * 1024 * 1024)
/* Sidecars larger than this are not read. */
#define INSPECT_SIDECAR_MAX_BYTES ((size_t) 64 * 1024)

/* An opened backup. Plain data the caller may read; free with
 * inspect_backup_free(). */
typedef struct InspectBackup {
        char *path;
        CodecKind compression;          /* detected by magic, not by name */
        bool encrypted;                 /* age, detected by magic */
        uint64_t file_size;             /* bytes of the file as stored */
        uint64_t db_size;               /* decompressed bytes minus the trailer */
        uint8_t db_sha256[TRAILER_BYTES]; /* the verified trailer */
        int fd;                         /* db + trailer: the file itself when it is
                                         * neither compressed nor encrypted, else
                                         * an anonymous temporary file */
        bool in_place;                  /* fd is the backup file itself */
        Bbolt *db;
} InspectBackup;

/* Open the backup file at path: read it once, detect (by magic, not by
 * name) and undo age encryption and compression into an anonymous
 * temporary file ($TMPDIR, else /var/tmp) while checking the SHA-256
 * trailer, then map the result and validate its meta pages. An encrypted
 * file is decrypted with whichever of the n_ids identities ids opens it
 * (ids is only read during the call: the caller keeps and wipes it; NULL
 * with n_ids 0 for none). Memory use does not depend on the file's size.
 * Returns 0 and *ret (free with inspect_backup_free()); on failure a -errno
 * and, in reason (may be NULL, truncated to reason_size), why: -ENOENT and
 * other open/read errors ("cannot open …: …"), -EBADMSG for a damaged file
 * or one that is not a backup ("not a backup: …", "truncated gzip stream",
 * "corrupt zstd stream", "SHA-256 trailer mismatch: the file is damaged",
 * "database structure damaged: <reader's reason>", "age decryption failed:
 * the file is damaged or truncated"), -ENOKEY for an encrypted backup and
 * no identity ("encrypted backup: an age identity is needed …"), -EACCES
 * when none of the identities opens it ("no age identity matches this
 * backup (tried age1…)"), -EPROTONOSUPPORT for an armored age file or
 * another age version, -EFBIG for one that decompresses to more than
 * INSPECT_DB_MAX_BYTES, -ENOSPC and friends for the temporary file,
 * -ENOMEM, -EINVAL for NULL arguments. */
int inspect_backup_open_with_identities(const char *path, const AgeIdentity *ids, size_t n_ids,
                                        InspectBackup **ret, char *reason, size_t reason_size);

/* As inspect_backup_open_with_identities(), with the decompressed db in an
 * anonymous file in dir (NULL: $TMPDIR or /var/tmp) — restore keeps it on
 * the file system of the data dir. */
int inspect_backup_open_in(const char *path, const char *dir, const AgeIdentity *ids, size_t n_ids,
                           InspectBackup **ret, char *reason, size_t reason_size);

/* Whether an uncompressed, unencrypted backup file is read where it is (mapped), not copied: only when no one else
 * can write it, as a file cut short under a reader's mapping ends the reader with SIGBUS. */
bool inspect_may_read_in_place(const struct stat *st);

/* As inspect_backup_open_in(), reading the descriptor fd from its start
 * (a file opened with open_confined(), say); path names it in messages.
 * fd -EBADF: open path. max_db_size (the sidecar's db_size; 0: none) stops
 * a file that decompresses to more than that. */
int inspect_backup_open_fd(int fd, const char *path, const char *dir, const AgeIdentity *ids, size_t n_ids,
                           uint64_t max_db_size, InspectBackup **ret, char *reason, size_t reason_size);

/* inspect_backup_open_with_identities() without identities: an encrypted
 * backup is -ENOKEY. */
int inspect_backup_open(const char *path, InspectBackup **ret, char *reason, size_t reason_size);

/* Unmap, close and free; accepts NULL; returns NULL. */
InspectBackup *inspect_backup_free(InspectBackup *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(InspectBackup *, inspect_backup_free);

/* ---- verify ---------------------------------------------------------------- */

typedef struct InspectCheck {
        char *name;     /* "read", "decrypt", "decompress", "sha256 trailer",
                         * "db structure",
                         * "sidecar", "sidecar file_sha256", … */
        bool ok;
        char *detail;   /* never NULL after inspect_verify(); "" if nothing to add */
} InspectCheck;

typedef struct InspectReport {
        char *path;
        bool ok;                /* every check passed (and there was at least one) */
        InspectCheck *checks;   /* in the order they ran */
        size_t n_checks;
} InspectReport;

/* Verify the backup at path end to end: decryption with the identities ids
 * (n_ids of them, as for inspect_backup_open_with_identities(); a "decrypt"
 * check only for an encrypted file, which then is authenticated to its last
 * byte even when the decompression behind it fails), decompression, the
 * SHA-256 trailer, the db structure (bbolt_check()), and, when a sidecar
 * <path>.json exists, its file_size, file_sha256, db_size, db_sha256 and
 * revision against what the file holds. A check that cannot run because an
 * earlier one failed is left out, except that the sidecar's file checks
 * always run once the file could be read. Damage, a missing or a wrong
 * identity are reported in the report, not as an error. Returns 0 and
 * fills *ret (release with inspect_report_done()), -EINVAL for NULL
 * arguments, or -ENOMEM. */
int inspect_verify_with_identities(const char *path, const AgeIdentity *ids, size_t n_ids,
                                   InspectReport *ret);

/* As inspect_verify_with_identities(), reading the descriptor fd (from its
 * start) and taking the sidecar from sidecar_fd (-EBADF: there is none, or,
 * with sidecar_refused, why it was not opened: a failed sidecar check);
 * path names them in the report. fd -EBADF: open path and <path>.json. */
int inspect_verify_fd(int fd, int sidecar_fd, const char *sidecar_refused, const char *path,
                      const AgeIdentity *ids, size_t n_ids, InspectReport *ret);

/* inspect_verify_with_identities() without identities: an encrypted backup
 * fails the "decrypt" check. */
int inspect_verify(const char *path, InspectReport *ret);

/* Free what a report owns and zero it. Accepts a zeroed report. */
void inspect_report_done(InspectReport *r);

/* The snapshot's revision (0 for an etcd that never stored a key). 0 or
 * -EBADMSG (reason in bbolt_last_error(b->db)). */
int inspect_revision(InspectBackup *b, int64_t *ret);
