/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * store.h — the backup directory: backup names, sidecar JSON, temporary
 * files that become backups only when complete (O_TMPFILE + linkat, or a
 * hidden name where there is no O_TMPFILE), listing and removal. A crash at
 * any moment leaves either a complete backup or nothing that counts as one
 * (a hidden temporary file, removed at the next start); files are 0600 and
 * the directory 0700.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "backup/codec.h"
#include "util/io.h"
#include "util/macro.h"
#include "util/str.h"

#define SIDECAR_SUFFIX ".json"
#define SHA256_HEX_MAX 65

typedef struct Store {
        int dir_fd;
        char *path;
        /* Run as root in a directory of another user's (etcd-backupd --once
         * as root, in the service user's directory): what is created there
         * is given to that user, or the service could not take the lock
         * or read the sidecars afterwards. */
        bool adopt;
        uid_t owner;
        gid_t group;
} Store;

/* What a sidecar records about one backup. Strings are owned. */
typedef struct Sidecar {
        char *name;
        uint64_t created_usec;
        uint64_t cluster_id;
        uint64_t member_id;
        char *endpoint;
        char *etcd_version;
        int64_t revision;
        uint64_t db_size;
        char db_sha256[SHA256_HEX_MAX];
        uint64_t file_size;
        char file_sha256[SHA256_HEX_MAX];
        CodecKind compression;
        int level;
        bool encrypted;
        uint64_t duration_usec;
        uint64_t stream_duration_usec;
} Sidecar;

void sidecar_done(Sidecar *s);

/* JSON text of s (caller frees). */
int sidecar_to_json(const Sidecar *s, char **ret);

/* Parse sidecar JSON (untrusted: bounded, every field type-checked).
 * Returns 0, -EBADMSG with a reason in *ret_error (static string), -ENOMEM. */
int sidecar_from_json(const char *text, size_t size, Sidecar *ret, const char **ret_error);

/* Read a sidecar from fd (at most 64 KiB) and parse it with
 * sidecar_from_json(): the one reader of sidecars (the store's listing,
 * verify, the restore's plan). 0 and *ret; -EFBIG for a larger file and
 * -EBADMSG for one that does not parse, both with *ret_why (static); the
 * read's -errno (*ret_why NULL); -ENOMEM. */
int sidecar_read_fd(int fd, Sidecar *ret, const char **ret_why);

/* What a backup's name says: etcd-<cluster hex>-<YYYYmmddTHHMMSSZ>-r<rev>.db[.gz|.zst][.age] */
typedef struct StoreName {
        uint64_t cluster_id;
        uint64_t created_usec;
        int64_t revision;
        CodecKind compression;
        bool encrypted;
} StoreName;

/* Build a backup name (caller frees). */
int store_name_format(const StoreName *n, char **ret);
/* Parse a backup name; -EINVAL if it is not one (sidecars and other files). */
int store_name_parse(const char *name, StoreName *ret);

/* The order of the listing, newest first: by the time in the name, then
 * the revision (two backups in one second), then the name. */
int store_name_compare_newest_first(const char *a, const StoreName *x, const char *b, const StoreName *y);

/* Open the backup directory, creating it (0700, parents 0755) if create is
 * set. Refuses a directory that is group- or world-writable, or not a
 * directory. On failure *ret_error says why. */
int store_open(const char *path, bool create, Store **ret, char **ret_error);

/* The name of the lock file in the backup directory. */
#define STORE_LOCK_NAME ".lock"

/* Take the backup directory's lock: flock(LOCK_EX) on <directory>/.lock,
 * without waiting, and write our PID into it. Returns the lock's
 * descriptor (close-on-exec; the lock lasts while it or a copy of it is
 * open), or -EWOULDBLOCK with *ret_holder the PID written by the holder (0
 * when not known), or another -errno. */
int store_lock(Store *s, pid_t *ret_holder);

/* store_open(path, create) and store_lock() in one, for the daemon and
 * --once: the lock's descriptor, or -EWOULDBLOCK / another -errno with
 * *ret_error saying who holds the directory or what failed. */
int store_lock_directory(const char *path, char **ret_error);
Store *store_free(Store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_free);

/* Bytes available to us on the directory's file system. */
int store_available(Store *s, uint64_t *ret_bytes);

/* A temporary 0600 file in the directory (util/io's TmpFile: anonymous, or
 * on a file system without O_TMPFILE under a hidden name that store_tidy()
 * removes if we die before it is published). */
int store_tmpfile(Store *s, TmpFile *ret);

/* Remove the temporary files (regular files of TMPFILE_PREFIX's names) that
 * a backup killed on a file system without O_TMPFILE left, adding their
 * names to removed: at start (store_tidy) and before each backup (a worker
 * killed while the daemon runs leaves them, and the tidy at start is long
 * past). Only under the directory's lock. */
int store_remove_tmpfiles(Store *s, StrvBuilder *removed);

/* fsync the file and give it name in the directory; never replaces an
 * existing file (-EEXIST). On success the TmpFile is done (closed, its
 * hidden name removed). Does not fsync the directory (store_sync does). */
int store_publish(Store *s, TmpFile *t, const char *name);

/* Write sidecar JSON through a temporary file and publish it as
 * <name>.json. A backup is published after its sidecar (never a backup
 * without one); store_tidy() removes a sidecar whose backup never came. */
int store_publish_sidecar(Store *s, const Sidecar *sc);

/* fsync the directory, making published names durable. */
int store_sync(Store *s);

typedef struct StoreEntry {
        char *name;
        StoreName parsed;
        uint64_t file_size;
        bool has_sidecar;       /* a sidecar that parsed and matches the name */
        Sidecar sidecar;
        char *sidecar_problem;  /* why a sidecar file that is there was not taken, or NULL */
} StoreEntry;

/* Every backup in the directory, newest first (by created, then name).
 * Files that are not backups are ignored. Never a part of the directory:
 * -errno when reading it fails part-way, -E2BIG beyond 100000 backups. */
int store_list(Store *s, StoreEntry **ret, size_t *ret_n);

/* What a store_list() error r says, for "cannot list DIR: %s". */
const char *store_list_error(int r);
void store_entries_free(StoreEntry *e, size_t n);
/* Frees what one entry holds (not the entry itself). */
void store_entry_done(StoreEntry *e);

/* The sidecar as a JSON object (NULL on ENOMEM). */
struct json_object *sidecar_to_json_object(const Sidecar *s);

/* An entry as a JSON object: its sidecar, or what its name says with
 * "sidecar": false when it has none (and "sidecar_problem" when a sidecar
 * file is there but cannot be taken). NULL on ENOMEM. */
struct json_object *store_entry_to_json(const StoreEntry *e);

/* Remove a backup and its sidecar (the backup first); the caller syncs the
 * directory (store_sync()) once after all its removals. A missing sidecar is
 * not an error. On failure with the backup gone, *ret_after (when given)
 * says what failed after it ("remove its sidecar"); NULL when the backup
 * itself is there. */
int store_remove(Store *s, const char *name, const char **ret_after);

/* Tidy up after an interrupted publish: remove every sidecar whose backup
 * does not exist (publishing links the sidecar first, so a kill between the
 * two leaves one) and every regular file named TMPFILE_PREFIX… (what a
 * backup killed on a file system without O_TMPFILE leaves), then fsync the
 * directory. Fills *ret_removed with the files removed, *ret_unpaired with the backups that have no sidecar
 * (never left by a publish; worth a warning) and *ret_unusable with
 * "<sidecar>: <problem>" for each sidecar that is there but cannot be taken
 * (unreadable, not valid, another backup's). An entry named like the
 * sidecar of a backup that is not there, or like a backup, but which is no
 * regular file (a directory, a symbolic link) is no publish's leftover nor
 * a backup: it is left alone and described in *ret_strays ("<name>: is a
 * directory, named like …"). Any list may be NULL. */
int store_tidy(Store *s, char ***ret_removed, char ***ret_unpaired, char ***ret_unusable, char ***ret_strays);
