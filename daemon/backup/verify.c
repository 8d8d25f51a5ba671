/* SPDX-License-Identifier: MIT */
/*
 * verify.c — verify a backup end to end: every stage of the decode pipeline
 * as one check of the report, the db structure, and the sidecar's sizes,
 * hashes and revision against what the file holds.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/decode.h"
#include "backup/store.h"
#include "util/io.h"
#include "util/parse.h"
#include "util/path.h"
#include "util/str.h"

void inspect_report_done(InspectReport *r) {
        for (size_t i = 0; i < r->n_checks; i++) {
                free(r->checks[i].name);
                free(r->checks[i].detail);
        }
        free(r->checks);
        free(r->path);
        *r = (InspectReport) {};
}

_printf_(4, 5) static int report_add(InspectReport *rep, const char *name, bool ok, const char *fmt, ...) {
        InspectCheck *c, *n;
        va_list ap;
        int k;

        n = reallocarray(rep->checks, rep->n_checks + 1, sizeof *n);
        if (!n)
                return -ENOMEM;
        rep->checks = n;
        c = &rep->checks[rep->n_checks];
        *c = (InspectCheck) { .ok = ok };
        c->name = strdup(name);
        va_start(ap, fmt);
        k = vasprintf(&c->detail, fmt, ap);
        va_end(ap);
        if (k < 0)
                c->detail = NULL;
        if (!c->name || !c->detail) {
                free(c->name);
                free(c->detail);
                return -ENOMEM;
        }
        rep->n_checks++;
        return 0;
}

/* Where verify finds the sidecar: <path>.json, or a descriptor the caller
 * opened (by_fd; -EBADF when there is none). */
typedef struct SidecarSource {
        const char *path;
        bool by_fd;
        int fd;
        const char *refused;    /* by_fd: why there is no fd, or NULL */
} SidecarSource;

/* Read the sidecar. 0 and *ret; -ENOENT if there is none; -EBADMSG with
 * *ret_why for one that does not parse; other -errno. */
static int read_sidecar(const SidecarSource *src, Sidecar *ret, const char **ret_why) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        *ret_why = NULL;
        if (src->by_fd) {
                if (src->fd < 0 && src->refused) {
                        *ret_why = src->refused;
                        return -EPERM;
                }
                if (src->fd < 0)
                        return -ENOENT;
                if (lseek(src->fd, 0, SEEK_SET) < 0)
                        return -errno;
                r = sidecar_read_fd(src->fd, ret, ret_why);
                return r == -EFBIG ? -EBADMSG : r;
        }
        if (asprintf(&name, "%s" SIDECAR_SUFFIX, src->path) < 0)
                return -ENOMEM;
        fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        r = sidecar_read_fd(fd, ret, ret_why);
        return r == -EFBIG ? -EBADMSG : r;
}

static const char *stage_check_name(Stage s) {
        switch (s) {
        case STAGE_READ:
                return "read";
        case STAGE_DECRYPT:
                return "decrypt";
        case STAGE_DECOMPRESS:
                return "decompress";
        case STAGE_TRAILER:
                return "sha256 trailer";
        case STAGE_STRUCTURE:
        case STAGE_DONE:
        default:
                return "db structure";
        }
}

/* What the content is, in the words of a file name: "zstd, age-encrypted". */
static const char *format_words(CodecKind c, bool encrypted, char *buf, size_t n) {
        snprintf(buf, n, "%s%s", c == CODEC_NONE ? "not compressed" : codec_to_string(c),
                 encrypted ? ", age-encrypted" : "");
        return buf;
}

/* Whether the detected compression of b can be trusted: known from the
 * magic of a plain file, only after decryption for an encrypted one. */
static bool compression_known(const InspectBackup *b, const Decode *d) {
        return b->encrypted ? d->decompressed : b->file_size > 0 && d->failed != STAGE_READ;
}

/* The file name's extension (.db, .db.gz, .db.zst, each optionally .age)
 * against the content, and a backup's name's revision against the
 * snapshot's. A name with none of these says nothing (a file saved by
 * hand); one that says something else is refused. */
static int verify_name(InspectReport *rep, const InspectBackup *b, const Decode *d, bool have_revision,
                       int64_t revision) {
        StoreName parsed;
        _cleanup_free_ char *name = strdup(path_basename(b->path));
        char said[64], is[64];
        bool name_encrypted = false;
        CodecKind name_codec;
        size_t len;

        if (!name)
                return -ENOMEM;
        len = strlen(name);
        if (endswith(name, ".age")) {
                name_encrypted = true;
                name[len -= 4] = '\0';
        }
        if (endswith(name, ".gz"))
                name_codec = CODEC_GZIP;
        else if (endswith(name, ".zst"))
                name_codec = CODEC_ZSTD;
        else if (endswith(name, ".db"))
                name_codec = CODEC_NONE;
        else if (!name_encrypted)
                return 0;
        else
                name_codec = _CODEC_KIND_MAX;
        if (b->file_size == 0 || d->failed == STAGE_READ)
                return 0;
        if (have_revision && store_name_parse(path_basename(b->path), &parsed) >= 0 && parsed.revision != revision)
                return report_add(rep, "file name", false, "the name %s says revision %" PRId64 ", the snapshot's is "
                                  "%" PRId64, path_basename(b->path), parsed.revision, revision);
        if (name_encrypted != b->encrypted ||
            (name_codec != _CODEC_KIND_MAX && compression_known(b, d) && name_codec != b->compression))
                return report_add(rep, "file name", false, "the name %s says %s, the content is %s",
                                  path_basename(b->path),
                                  name_codec == _CODEC_KIND_MAX ? (name_encrypted ? "age-encrypted" : "?")
                                                               : format_words(name_codec, name_encrypted, said,
                                                                              sizeof said),
                                  compression_known(b, d) ? format_words(b->compression, b->encrypted, is, sizeof is)
                                                          : b->encrypted ? "age-encrypted" : "not encrypted");
        return report_add(rep, "file name", true, "%s", path_basename(b->path));
}

static int verify_sidecar(InspectReport *rep, const InspectBackup *b, const Decode *d, const SidecarSource *src,
                          bool trailer_ok, bool have_revision, int64_t revision) {
        _cleanup_(sidecar_done) Sidecar sc = {};
        char hex[SHA256_HEX_MAX];
        const char *why = NULL;
        int r;

        r = read_sidecar(src, &sc, &why);
        if (r == -ENOENT)
                return report_add(rep, "sidecar", true, "none beside the file: the file's size and SHA-256 are "
                                  "not compared with one");
        if (r == -ENOMEM)
                return r;
        if (r == -EPERM && src->refused)
                return report_add(rep, "sidecar", false, "%s", src->refused);
        if (r < 0)
                return report_add(rep, "sidecar", false, "%s" SIDECAR_SUFFIX ": %s", b->path,
                                  why ? why : strerror(-r));
        r = report_add(rep, "sidecar", true, "%s" SIDECAR_SUFFIX, b->path);
        if (r < 0)
                return r;

        /* The sidecar describes this file, or it is not this file's. Its text, quoted then, is whatever the
         * sidecar holds: printable ASCII only, so that it cannot draw lines of its own on a terminal. */
        if (streq(sc.name, path_basename(b->path)))
                r = report_add(rep, "sidecar name", true, "%s", sc.name);
        else {
                char quoted[300];

                r = report_add(rep, "sidecar name", false, "sidecar names \"%s\", the file is %s",
                               str_printable(quoted, sizeof quoted, sc.name, strlen(sc.name)), path_basename(b->path));
        }
        if (r < 0)
                return r;
        if (sc.encrypted == b->encrypted)
                r = report_add(rep, "sidecar encrypted", true, "%s", b->encrypted ? "yes" : "no");
        else
                r = report_add(rep, "sidecar encrypted", false, "sidecar says %s, the file is %s",
                               sc.encrypted ? "encrypted" : "not encrypted",
                               b->encrypted ? "age-encrypted" : "not encrypted");
        if (r < 0)
                return r;
        if (compression_known(b, d)) {
                if (sc.compression == b->compression)
                        r = report_add(rep, "sidecar compression", true, "%s", codec_to_string(b->compression));
                else
                        r = report_add(rep, "sidecar compression", false, "sidecar says %s, the file is %s",
                                       codec_to_string(sc.compression), codec_to_string(b->compression));
                if (r < 0)
                        return r;
        }

        if (d->file_read) {
                if (sc.file_size == b->file_size)
                        r = report_add(rep, "sidecar file_size", true, "%" PRIu64 " bytes", sc.file_size);
                else
                        r = report_add(rep, "sidecar file_size", false,
                                       "sidecar says %" PRIu64 " bytes, the file has %" PRIu64,
                                       sc.file_size, b->file_size);
                if (r < 0)
                        return r;
                hexencode(d->file_sha256, TRAILER_BYTES, hex);
                if (streq(hex, sc.file_sha256))
                        r = report_add(rep, "sidecar file_sha256", true, "%s", hex);
                else
                        r = report_add(rep, "sidecar file_sha256", false,
                                       "sidecar says %s, the file's is %s", sc.file_sha256, hex);
                if (r < 0)
                        return r;
        } else if (d->file_sized && sc.file_size != b->file_size) {
                /* Not read to its end after a stage failed: its size alone says it is not the sidecar's file. */
                r = report_add(rep, "sidecar file_size", false, "sidecar says %" PRIu64 " bytes, the file has %" PRIu64
                               " (its SHA-256 is not taken)", sc.file_size, b->file_size);
                if (r < 0)
                        return r;
        }
        if (d->decompressed && d->stream_size >= TRAILER_BYTES) {
                uint64_t db_size = d->stream_size - TRAILER_BYTES;

                if (sc.db_size == db_size)
                        r = report_add(rep, "sidecar db_size", true, "%" PRIu64 " bytes", db_size);
                else
                        r = report_add(rep, "sidecar db_size", false,
                                       "sidecar says %" PRIu64 " bytes, the db has %" PRIu64,
                                       sc.db_size, db_size);
                if (r < 0)
                        return r;
        }
        if (trailer_ok) {
                hexencode(b->db_sha256, TRAILER_BYTES, hex);
                if (streq(hex, sc.db_sha256))
                        r = report_add(rep, "sidecar db_sha256", true, "%s", hex);
                else
                        r = report_add(rep, "sidecar db_sha256", false,
                                       "sidecar says %s, the db's is %s", sc.db_sha256, hex);
                if (r < 0)
                        return r;
        }
        if (have_revision) {
                if (sc.revision == revision)
                        r = report_add(rep, "sidecar revision", true, "%" PRId64, revision);
                else
                        r = report_add(rep, "sidecar revision", false,
                                       "sidecar says %" PRId64 ", the snapshot's is %" PRId64,
                                       sc.revision, revision);
                if (r < 0)
                        return r;
        }
        return 0;
}

int inspect_verify_fd(int fd, int sidecar_fd, const char *sidecar_refused, const char *path,
                      const AgeIdentity *ids, size_t n_ids, InspectReport *ret) {
        _cleanup_(inspect_report_done) InspectReport rep = {};
        _cleanup_(inspect_backup_freep) InspectBackup *b = NULL;
        _cleanup_free_ Decode *d = NULL;
        char size_in[FORMAT_BYTES_MAX], size_out[FORMAT_BYTES_MAX];
        bool trailer_ok = false, have_revision = false;
        uint64_t compressed_size;
        int64_t revision = 0;
        int r;

        if (!path || !ret || (!ids && n_ids > 0))
                return -EINVAL;
        rep.path = strdup(path);
        b = decode_backup_new(path);
        d = calloc(1, sizeof *d);
        if (!rep.path || !b || !d)
                return -ENOMEM;
        const SidecarSource sidecar = { .path = path, .by_fd = fd >= 0, .fd = sidecar_fd,
                                        .refused = sidecar_refused };
        d->source_fd = fd;
        d->hash_file = true;
        d->ids = ids;
        d->n_ids = n_ids;
        d->tmp_dir = decode_tmp_dir();
        {
                /* This file's sidecar bounds the decompression: a bomb stops at its db_size. Another backup's
                 * says nothing of this one (verify_sidecar() refuses it by its name). */
                _cleanup_(sidecar_done) Sidecar sc = {};
                const char *why;
                if (read_sidecar(&sidecar, &sc, &why) >= 0 && streq(sc.name, path_basename(path))) {
                        d->max_db_size = sc.db_size;
                        d->hash_on_size = sc.file_size;
                }
        }

        r = decode_backup(b, d);
        if (r < 0 && d->failed == STAGE_DONE)
                return r; /* out of memory or a failure of the hash itself */
        /* The decompressor sees the decrypted stream: its size is the
         * plaintext's, not the file's. */
        compressed_size = b->encrypted ? d->plain_size : b->file_size;
        if (d->decrypted) {
                r = report_add(&rep, "decrypt", true, "age, %s to %s",
                               format_bytes(size_in, sizeof size_in, b->file_size),
                               format_bytes(size_out, sizeof size_out, d->plain_size));
                if (r < 0)
                        return r;
        }
        if (d->failed <= STAGE_DECOMPRESS) {
                r = report_add(&rep, stage_check_name(d->failed), false, "%s", d->reason);
        } else {
                if (b->compression == CODEC_NONE)
                        r = report_add(&rep, "decompress", true, "not compressed, %s",
                                       format_bytes(size_in, sizeof size_in, compressed_size));
                else
                        r = report_add(&rep, "decompress", true, "%s, %s to %s",
                                       codec_to_string(b->compression),
                                       format_bytes(size_in, sizeof size_in, compressed_size),
                                       format_bytes(size_out, sizeof size_out, d->stream_size));
                if (r >= 0) {
                        trailer_ok = d->failed == STAGE_DONE;
                        r = report_add(&rep, "sha256 trailer", trailer_ok, "%s", d->reason);
                }
        }
        if (r < 0)
                return r;

        /* The structure is worth a look even after a trailer mismatch: it
         * tells a damaged page from damage elsewhere. A good trailer on
         * something that is no db must not pass either. */
        if (d->decompressed && (d->has_magic || trailer_ok)) {
                BboltCheckStats stats = {};

                d->failed = STAGE_DONE;
                r = decode_map(b, d);
                if (r >= 0) {
                        r = bbolt_check(b->db, &stats);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                decode_fail(d, STAGE_STRUCTURE, r, "database structure damaged: %s",
                                     bbolt_last_error(b->db));
                }
                if (r >= 0) {
                        r = inspect_revision(b, &revision);
                        if (r < 0)
                                decode_fail(d, STAGE_STRUCTURE, r, "database structure damaged: %s",
                                     bbolt_last_error(b->db));
                        else
                                have_revision = true;
                }
                if (have_revision)
                        r = report_add(&rep, "db structure", true,
                                       "%" PRIu64 " pages, %" PRIu64 " entries, revision %" PRId64,
                                       stats.pages, stats.keys, revision);
                else
                        r = report_add(&rep, "db structure", false, "%s", d->reason);
                if (r < 0)
                        return r;
        }

        r = verify_name(&rep, b, d, have_revision, revision);
        if (r < 0)
                return r;
        if (d->file_read || d->file_sized) {
                r = verify_sidecar(&rep, b, d, &sidecar, trailer_ok, have_revision, revision);
                if (r < 0)
                        return r;
        }

        rep.ok = rep.n_checks > 0;
        for (size_t i = 0; i < rep.n_checks; i++)
                rep.ok = rep.ok && rep.checks[i].ok;
        *ret = rep;
        rep = (InspectReport) {};
        return 0;
}

int inspect_verify_with_identities(const char *path, const AgeIdentity *ids, size_t n_ids,
                                   InspectReport *ret) {
        return inspect_verify_fd(-EBADF, -EBADF, NULL, path, ids, n_ids, ret);
}

int inspect_verify(const char *path, InspectReport *ret) {
        return inspect_verify_with_identities(path, NULL, 0, ret);
}
