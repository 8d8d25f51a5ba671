/* SPDX-License-Identifier: MIT */
/*
 * inspect.c — reading a backup file offline (see inspect.h).
 *
 * A backup is read once, front to back, through a chain of push stages that
 * all have the CodecSinkFn shape: raw file bytes → age decryption (when the
 * file starts with the age header) → decompression (kind detected from the
 * first bytes it sees) → the db sink, which feeds the SHA-256 trailer check
 * and writes an anonymous temporary file. The age decryptor hands on only
 * authenticated plaintext, one 64 KiB chunk at a time. The result is mapped
 * with the bbolt reader. An uncompressed, unencrypted file needs no copy: it
 * is hashed and mapped in place. The file's own SHA-256 is taken on the way for the sidecar
 * check. Memory is constant for any file size; the key walk keeps one
 * entry per matching user key and points into the mapping.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/age.h"
#include "backup/inspect.h"
#include "format/mvcc.h"
#include "format/pb.h"
#include "backup/store.h"
#include "util/io.h"
#include "util/parse.h"
#include "util/str.h"

/* Read size of the raw file. */
#define READ_BYTES ((size_t) 128 * 1024)
/* Where bbolt's first meta page keeps its magic number 0xED0CDAED
 * (little-endian), after the 16-byte page header. */
#define BBOLT_MAGIC_OFFSET 16
static const uint8_t bbolt_magic[4] = { 0xed, 0xda, 0x0c, 0xed };
/* What age files start with: the binary header (any version; only v1 is
 * read) and the ASCII armor. */
#define AGE_MAGIC "age-encryption.org/"
#define AGE_ARMOR_MAGIC "-----BEGIN AGE ENCRYPTED FILE-----"
/* Public keys named in the reason when no identity matches. */
#define AGE_KEYS_NAMED_MAX 4U
#define NO_IDENTITY_REASON \
        "encrypted backup: an age identity is needed (encryption.identity_file in the config, " \
        "or --identity FILE)"
#define ARMORED_REASON \
        "armored age file (-----BEGIN AGE ENCRYPTED FILE-----): only the binary age format " \
        "is read; decrypt it with `age -d` and read the result"
/* Distinct audit labels kept; more (only a hostile backup has them) are
 * counted under one "other" label. */
#define AUDIT_LABELS_MAX 256

static void evp_md_ctx_freep(EVP_MD_CTX **p) {
        if (*p)
                EVP_MD_CTX_free(*p);
}

_printf_(3, 4) static int set_reason(char *reason, size_t size, const char *fmt, ...) {
        va_list ap;

        if (reason && size > 0) {
                va_start(ap, fmt);
                vsnprintf(reason, size, fmt, ap);
                va_end(ap);
        }
        return 0;
}

/* ---- the temporary file ------------------------------------------------------ */

static const char *tmp_dir(void) {
        const char *d = secure_getenv("TMPDIR");

        return d && d[0] == '/' ? d : "/var/tmp";
}

/* An anonymous 0600 file in dir that vanishes with its last reference. */
static int open_tmpfile(const char *dir, int *ret_fd) {
        _cleanup_free_ char *path = NULL;
        int fd;

        fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        /* File systems without O_TMPFILE: a named file, unlinked at once. */
        path = path_join(dir, "etcd-backupctl.XXXXXX");
        if (!path)
                return -ENOMEM;
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (unlink(path) < 0) {
                int r = -errno;
                safe_close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

/* ---- the stages ---------------------------------------------------------------- */

/* Last stage: the decompressed stream, db followed by its SHA-256. */
typedef struct DbSink {
        int fd;                 /* temporary file; -EBADF when the file is read in place */
        Trailer *trailer;
        uint64_t size;
        uint8_t head[BBOLT_MAGIC_OFFSET + sizeof(bbolt_magic)];
        size_t head_size;
        int error;              /* this stage's own failure, told apart from the decoder's */
} DbSink;

static int on_db(const void *data, size_t n, void *userdata) {
        DbSink *s = userdata;
        int r;

        if (s->error < 0)
                return s->error;
        if (n > INSPECT_DB_MAX_BYTES + TRAILER_BYTES - s->size)
                return s->error = -EFBIG;
        if (s->head_size < sizeof s->head) {
                size_t take = MIN(n, sizeof s->head - s->head_size);
                memcpy(s->head + s->head_size, data, take);
                s->head_size += take;
        }
        r = trailer_feed(s->trailer, data, n);
        if (r < 0)
                return s->error = r;
        if (s->fd >= 0) {
                r = loop_write(s->fd, data, n);
                if (r < 0)
                        return s->error = r;
        }
        s->size += n;
        return 0;
}

/* The decompressor: waits for the first bytes, detects the kind by magic and
 * decodes into the next stage. */
typedef struct Decompress {
        CodecReader *reader;
        CodecKind kind;
        uint8_t magic[4];
        size_t magic_size;
        CodecSinkFn sink;
        void *userdata;
} Decompress;

static void decompress_done(Decompress *d) {
        d->reader = codec_reader_free(d->reader);
}

static int decompress_start(Decompress *d) {
        int r;

        r = codec_detect(d->magic, d->magic_size, &d->kind);
        if (r < 0)
                return r;
        r = codec_reader_new(d->kind, d->sink, d->userdata, &d->reader);
        if (r < 0)
                return r;
        return codec_reader_write(d->reader, d->magic, d->magic_size);
}

static int on_compressed(const void *data, size_t n, void *userdata) {
        Decompress *d = userdata;
        const uint8_t *p = data;
        int r;

        if (!d->reader) {
                size_t take = MIN(n, sizeof d->magic - d->magic_size);
                memcpy(d->magic + d->magic_size, p, take);
                d->magic_size += take;
                p += take;
                n -= take;
                if (d->magic_size < sizeof d->magic)
                        return 0;
                r = decompress_start(d);
                if (r < 0)
                        return r;
        }
        return codec_reader_write(d->reader, p, n);
}

static int decompress_finish(Decompress *d) {
        int r;

        if (!d->reader) {
                r = decompress_start(d);
                if (r < 0)
                        return r;
        }
        return codec_reader_finish(d->reader);
}

/* The decryptor, in front of the decompressor. A failure of the stages
 * behind it is kept in next_error so that it is not taken for the
 * decryptor's own. */
typedef struct Decrypt {
        AgeDecryptor *age;
        Decompress *next;
        bool keep_going;        /* after next fails, still authenticate the rest */
        int next_error;
        uint64_t size;          /* plaintext bytes handed on */
} Decrypt;

static void decrypt_done(Decrypt *e) {
        e->age = age_decryptor_free(e->age);
}

static int on_plaintext(const void *data, size_t n, void *userdata) {
        Decrypt *e = userdata;
        int r;

        if (e->next_error < 0)
                return e->keep_going ? 0 : e->next_error;
        e->size += n;
        r = on_compressed(data, n, e->next);
        if (r < 0) {
                e->next_error = r;
                return e->keep_going ? 0 : r;
        }
        return 0;
}

static int on_encrypted(const void *data, size_t n, void *userdata) {
        Decrypt *e = userdata;

        return age_decryptor_write(e->age, data, n);
}

/* ---- opening ------------------------------------------------------------------- */

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
        const AgeIdentity *ids;         /* in: identities for an encrypted file */
        size_t n_ids;
        const char *tmp_dir;            /* in: where the decompressed db goes */
        Stage failed;                   /* the stage that failed, or STAGE_DONE */
        char reason[INSPECT_REASON_MAX];
        bool file_read;                 /* the whole file was read */
        uint8_t file_sha256[TRAILER_BYTES];
        bool decrypted;                 /* the whole file was authentic */
        uint64_t plain_size;            /* decrypted bytes (the compressed stream) */
        bool decompressed;              /* the decoder reached a clean end */
        uint64_t stream_size;           /* decompressed bytes (db + trailer) */
        bool has_magic;                 /* the decompressed data starts like a bbolt db */
} Decode;

static InspectBackup *backup_new(const char *path) {
        InspectBackup *b = calloc(1, sizeof *b);

        if (!b)
                return NULL;
        b->fd = -EBADF;
        b->path = strdup(path);
        if (!b->path)
                return mfree(b);
        return b;
}

InspectBackup *inspect_backup_free(InspectBackup *b) {
        if (!b)
                return NULL;
        bbolt_free(b->db);
        safe_close(b->fd);
        free(b->path);
        return mfree(b);
}

static int fail(Decode *d, Stage stage, int r, const char *fmt, ...) _printf_(4, 5);
static int fail(Decode *d, Stage stage, int r, const char *fmt, ...) {
        va_list ap;

        d->failed = stage;
        va_start(ap, fmt);
        vsnprintf(d->reason, sizeof d->reason, fmt, ap);
        va_end(ap);
        return r;
}

static bool has_prefix(const uint8_t *head, size_t n, const char *prefix) {
        return n >= strlen(prefix) && memcmp(head, prefix, strlen(prefix)) == 0;
}

/* Whether the first n bytes of a file are an age file's, by magic (the name
 * says nothing): 1 for a binary age v1 header, -EPROTONOSUPPORT with the
 * reason set for age files this reader cannot read (armored, another
 * version), 0 for anything else. */
static int detect_encrypted(Decode *d, const uint8_t *head, size_t n) {
        if (has_prefix(head, n, AGE_ARMOR_MAGIC))
                return fail(d, STAGE_DECRYPT, -EPROTONOSUPPORT, "%s", ARMORED_REASON);
        if (age_detect(head, n) > 0)
                return 1;
        if (has_prefix(head, n, AGE_MAGIC))
                return fail(d, STAGE_DECRYPT, -EPROTONOSUPPORT,
                            "not an age v1 file: the header does not start with "
                            "\"age-encryption.org/v1\" (another age version, or damage)");
        return 0;
}

/* The age decryptor's own failure r (not a later stage's) as the decrypt
 * stage's, the reason naming the identities that were tried by their
 * public keys (never a secret). */
static int decrypt_fail(Decode *d, int r) {
        /* Room for AGE_KEYS_NAMED_MAX keys, their commas and the count. */
        char keys[AGE_KEYS_NAMED_MAX * (AGE_RECIPIENT_STRING_SIZE + 2) + 32] = "";
        size_t len = 0;

        switch (r) {
        case -EACCES:
                for (size_t i = 0; i < d->n_ids && i < AGE_KEYS_NAMED_MAX; i++) {
                        char s[AGE_RECIPIENT_STRING_SIZE];
                        AgeRecipient rcp;

                        if (age_identity_to_recipient(&d->ids[i], &rcp) < 0)
                                continue;
                        age_recipient_to_string(&rcp, s);
                        len += (size_t) snprintf(keys + len, sizeof keys - len, "%s%s",
                                                 len > 0 ? ", " : "", s);
                }
                if (d->n_ids > AGE_KEYS_NAMED_MAX)
                        snprintf(keys + len, sizeof keys - len, " and %zu more",
                                 d->n_ids - AGE_KEYS_NAMED_MAX);
                return fail(d, STAGE_DECRYPT, r, "no age identity matches this backup (tried %s)", keys);
        case -EBADMSG:
                return fail(d, STAGE_DECRYPT, r, "age decryption failed: the file is damaged or truncated");
        case -EPROTONOSUPPORT:
                return fail(d, STAGE_DECRYPT, r, "%s", ARMORED_REASON);
        case -ENOMEM:
                return r;
        default:
                return fail(d, STAGE_DECRYPT, r, "age decryption failed: %s", strerror(-r));
        }
}

/* Set up the chain for a file whose first n bytes are head: decryption
 * when it is encrypted, decompression when it is compressed or encrypted
 * (then into a temporary file), else the db sink on the file itself.
 * Returns 0 with the head of the chain in *ret_fn and *ret_data, or the
 * failure (d->failed set unless it is -ENOMEM). */
static int chain_start(InspectBackup *b, Decode *d, const uint8_t *head, size_t n, DbSink *sink,
                       Decompress *dec, Decrypt *enc, int *tmp_fd, CodecSinkFn *ret_fn,
                       void **ret_data) {
        int r;

        r = detect_encrypted(d, head, n);
        if (r < 0)
                return r;
        b->encrypted = r > 0;
        if (b->encrypted) {
                if (d->n_ids == 0)
                        return fail(d, STAGE_DECRYPT, -ENOKEY, "%s", NO_IDENTITY_REASON);
                *enc = (Decrypt) { .next = dec, .keep_going = d->hash_file };
                r = age_decryptor_new(d->ids, d->n_ids, on_plaintext, enc, &enc->age);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return fail(d, STAGE_DECRYPT, r, "cannot start decryption: %s", strerror(-r));
        } else {
                r = codec_detect(head, n, &b->compression);
                if (r < 0)
                        return r;
                if (b->compression == CODEC_NONE) {
                        *ret_fn = on_db;
                        *ret_data = sink;
                        return 0;
                }
        }

        r = open_tmpfile(d->tmp_dir, tmp_fd);
        if (r < 0)
                return fail(d, STAGE_DECOMPRESS, r, "cannot create a temporary file in %s: %s",
                            d->tmp_dir, strerror(-r));
        sink->fd = *tmp_fd;
        *dec = (Decompress) { .sink = on_db, .userdata = sink };
        *ret_fn = b->encrypted ? on_encrypted : on_compressed;
        *ret_data = b->encrypted ? (void *) enc : (void *) dec;
        return 0;
}

/* Read b->path through the stage chain up to and including the trailer
 * check. On return b->fd holds the decompressed stream whenever decoding
 * completed (also when the trailer check then failed), so that verify can
 * still look at the structure. Returns 0 or the failure's -errno, with
 * d->failed and d->reason set. */
static int backup_decode(InspectBackup *b, Decode *d) {
        _cleanup_(evp_md_ctx_freep) EVP_MD_CTX *md = NULL;
        _cleanup_(trailer_freep) Trailer *trailer = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_close_ int fd = -EBADF, tmp_fd = -EBADF;
        DbSink sink = { .fd = -EBADF };
        _cleanup_(decompress_done) Decompress dec = {};
        _cleanup_(decrypt_done) Decrypt enc = {};
        CodecSinkFn head_fn = NULL;
        void *head_data = NULL;
        bool direct, first = true, chain_failed = false;
        int chain_r = 0;
        struct stat st;
        unsigned len = 0;
        int r;

        d->failed = STAGE_DONE;
        d->reason[0] = '\0';

        fd = open(b->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return fail(d, STAGE_READ, -errno, "cannot open %s: %s", b->path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return fail(d, STAGE_READ, -errno, "cannot stat %s: %s", b->path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return fail(d, STAGE_READ, -EBADMSG, "not a backup: %s is not a regular file", b->path);

        buf = malloc(READ_BYTES);
        if (!buf)
                return -ENOMEM;
        r = trailer_new(&trailer);
        if (r < 0)
                return r;
        sink.trailer = trailer;
        if (d->hash_file) {
                md = EVP_MD_CTX_new();
                if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
                        return -ENOMEM;
        }

        b->file_size = 0;
        for (;;) {
                ssize_t n = loop_read(fd, buf, READ_BYTES);
                if (n < 0)
                        return fail(d, STAGE_READ, (int) n, "cannot read %s: %s", b->path,
                                    strerror((int) -n));
                if (n == 0)
                        break;
                b->file_size += (uint64_t) n;
                if (md && EVP_DigestUpdate(md, buf, (size_t) n) != 1)
                        return -EIO;

                if (first) {
                        first = false;
                        /* loop_read() fills buf unless the file ends: n covers
                         * every magic number there is. */
                        r = chain_start(b, d, buf, (size_t) n, &sink, &dec, &enc, &tmp_fd, &head_fn,
                                        &head_data);
                        if (r < 0) {
                                /* Without a way on, verify still hashes the
                                 * file for the sidecar's file checks. */
                                if (!md || d->failed != STAGE_DECRYPT)
                                        return r;
                                chain_r = r;
                                chain_failed = true;
                        }
                }
                if (chain_failed)
                        continue;
                r = head_fn(buf, (size_t) n, head_data);
                if (r < 0) {
                        chain_failed = true;
                        chain_r = r;
                        if (!md)
                                break;
                }
        }
        if (md) {
                if (EVP_DigestFinal_ex(md, d->file_sha256, &len) != 1 || len != TRAILER_BYTES)
                        return -EIO;
                d->file_read = true;
        }
        if (d->failed != STAGE_DONE)
                return chain_r;
        if (b->file_size == 0)
                return fail(d, STAGE_DECOMPRESS, -EBADMSG, "not a backup: the file is empty");

        direct = head_fn == on_db;
        if (b->encrypted) {
                if (!chain_failed)
                        chain_r = age_decryptor_finish(enc.age);
                /* Without keep_going the decryptor stops at the first
                 * failure behind it and returns that. */
                if (chain_r < 0 && (enc.keep_going || enc.next_error == 0))
                        return decrypt_fail(d, chain_r);
                d->decrypted = chain_r >= 0;
                d->plain_size = enc.size;
                chain_r = enc.next_error;
                chain_failed = chain_r < 0;
        }
        if (!chain_failed && !direct) {
                chain_r = decompress_finish(&dec);
                if (chain_r == -EBADMSG && sink.error == 0)
                        return fail(d, STAGE_DECOMPRESS, chain_r, "truncated %s stream%s",
                                    codec_to_string(dec.kind),
                                    b->encrypted ? " inside the encryption" : "");
                chain_failed = chain_r < 0;
        }
        if (chain_failed) {
                if (sink.error == -EFBIG)
                        return fail(d, STAGE_DECOMPRESS, -EFBIG,
                                    "not a backup: decompresses to more than %" PRIu64 " GiB",
                                    INSPECT_DB_MAX_BYTES >> 30);
                if (sink.error < 0)
                        return fail(d, STAGE_DECOMPRESS, sink.error,
                                    "cannot write the temporary file in %s: %s", d->tmp_dir,
                                    strerror(-sink.error));
                if (chain_r == -EBADMSG)
                        return fail(d, STAGE_DECOMPRESS, chain_r,
                                    "corrupt %s stream: the file is damaged",
                                    codec_to_string(dec.kind));
                return fail(d, STAGE_DECOMPRESS, chain_r, "cannot decompress: %s",
                            strerror(-chain_r));
        }
        if (b->encrypted)
                b->compression = dec.kind;
        d->decompressed = true;
        d->stream_size = sink.size;
        d->has_magic = sink.head_size == sizeof sink.head &&
                       memcmp(sink.head + BBOLT_MAGIC_OFFSET, bbolt_magic, sizeof bbolt_magic) == 0;
        b->fd = direct ? TAKE_FD(fd) : TAKE_FD(tmp_fd);

        r = trailer_finish(trailer, b->db_sha256, &b->db_size);
        if (r == -EPIPE || (r == -EBADMSG && !d->has_magic)) {
                if (b->encrypted && b->compression == CODEC_NONE)
                        return fail(d, STAGE_TRAILER, -EBADMSG,
                                    "not a backup: no etcd database in the decrypted data");
                if (b->compression == CODEC_NONE)
                        return fail(d, STAGE_TRAILER, -EBADMSG,
                                    "not a backup: no etcd database in this file");
                return fail(d, STAGE_TRAILER, -EBADMSG,
                            "not a backup: no etcd database in the decompressed %s data",
                            codec_to_string(b->compression));
        }
        if (r == -EBADMSG)
                return fail(d, STAGE_TRAILER, r, "SHA-256 trailer mismatch: the file is damaged");
        if (r < 0)
                return fail(d, STAGE_TRAILER, r, "cannot check the SHA-256 trailer: %s", strerror(-r));
        return 0;
}

/* Map b->fd and validate the meta pages. */
static int backup_map(InspectBackup *b, Decode *d) {
        char why[INSPECT_REASON_MAX - 64] = "";
        int r;

        r = bbolt_open_fd_reason(b->fd, &b->db, why, sizeof why);
        if (r == -EBADMSG)
                return fail(d, STAGE_STRUCTURE, r, "database structure damaged: %s",
                            why[0] ? why : "no valid meta page");
        if (r < 0)
                return fail(d, STAGE_STRUCTURE, r, "cannot map the database: %s", strerror(-r));
        return 0;
}

int inspect_backup_open_in(const char *path, const char *dir, const AgeIdentity *ids, size_t n_ids,
                           InspectBackup **ret, char *reason, size_t reason_size) {
        _cleanup_(inspect_backup_freep) InspectBackup *b = NULL;
        _cleanup_free_ Decode *d = NULL;
        int r;

        if (!path || !ret || (!ids && n_ids > 0))
                return -EINVAL;
        b = backup_new(path);
        d = calloc(1, sizeof *d);
        if (!b || !d)
                return -ENOMEM;
        d->ids = ids;
        d->n_ids = n_ids;
        d->tmp_dir = dir ? dir : tmp_dir();

        r = backup_decode(b, d);
        if (r >= 0)
                r = backup_map(b, d);
        if (r < 0) {
                if (d->failed != STAGE_DONE)
                        set_reason(reason, reason_size, "%s", d->reason);
                else
                        set_reason(reason, reason_size, "%s", strerror(-r));
                return r;
        }
        *ret = TAKE_PTR(b);
        return 0;
}

int inspect_backup_open_with_identities(const char *path, const AgeIdentity *ids, size_t n_ids,
                                        InspectBackup **ret, char *reason, size_t reason_size) {
        return inspect_backup_open_in(path, NULL, ids, n_ids, ret, reason, reason_size);
}

int inspect_backup_open(const char *path, InspectBackup **ret, char *reason, size_t reason_size) {
        return inspect_backup_open_in(path, NULL, NULL, 0, ret, reason, reason_size);
}

/* ---- verify -------------------------------------------------------------------- */

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

/* Read <path>.json. 0 and *ret; -ENOENT if there is none; -EBADMSG with
 * *ret_why for one that does not parse; other -errno. */
static int read_sidecar(const char *path, Sidecar *ret, const char **ret_why) {
        _cleanup_free_ char *name = NULL, *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        *ret_why = NULL;
        if (asprintf(&name, "%s" SIDECAR_SUFFIX, path) < 0)
                return -ENOMEM;
        fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        text = malloc(INSPECT_SIDECAR_MAX_BYTES + 1);
        if (!text)
                return -ENOMEM;
        n = loop_read(fd, text, INSPECT_SIDECAR_MAX_BYTES + 1);
        if (n < 0)
                return (int) n;
        if ((size_t) n > INSPECT_SIDECAR_MAX_BYTES) {
                *ret_why = "larger than 64 KiB";
                return -EBADMSG;
        }
        text[n] = '\0';
        return sidecar_from_json(text, (size_t) n, ret, ret_why);
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

static int verify_sidecar(InspectReport *rep, const InspectBackup *b, const Decode *d,
                          bool trailer_ok, bool have_revision, int64_t revision) {
        _cleanup_(sidecar_done) Sidecar sc = {};
        char hex[SHA256_HEX_MAX];
        const char *why = NULL;
        int r;

        r = read_sidecar(b->path, &sc, &why);
        if (r == -ENOENT)
                return 0;
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return report_add(rep, "sidecar", false, "%s" SIDECAR_SUFFIX ": %s", b->path,
                                  why ? why : strerror(-r));
        r = report_add(rep, "sidecar", true, "%s" SIDECAR_SUFFIX, b->path);
        if (r < 0)
                return r;

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

int inspect_verify_with_identities(const char *path, const AgeIdentity *ids, size_t n_ids,
                                   InspectReport *ret) {
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
        b = backup_new(path);
        d = calloc(1, sizeof *d);
        if (!rep.path || !b || !d)
                return -ENOMEM;
        d->hash_file = true;
        d->ids = ids;
        d->n_ids = n_ids;
        d->tmp_dir = tmp_dir();

        r = backup_decode(b, d);
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
                r = backup_map(b, d);
                if (r >= 0) {
                        r = bbolt_check(b->db, &stats);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                fail(d, STAGE_STRUCTURE, r, "database structure damaged: %s",
                                     bbolt_last_error(b->db));
                }
                if (r >= 0) {
                        r = inspect_revision(b, &revision);
                        if (r < 0)
                                fail(d, STAGE_STRUCTURE, r, "database structure damaged: %s",
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

        if (d->file_read) {
                r = verify_sidecar(&rep, b, d, trailer_ok, have_revision, revision);
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

int inspect_verify(const char *path, InspectReport *ret) {
        return inspect_verify_with_identities(path, NULL, 0, ret);
}

/* ---- KeyValue -------------------------------------------------------------------- */

int inspect_kv_decode(const void *data, size_t size, InspectKv *ret) {
        InspectKv kv = {};
        PbReader rd;
        PbField f;
        int r;

        if (!data && size > 0)
                return -EBADMSG;
        pb_reader_init(&rd, data, size);
        while ((r = pb_next_field(&rd, &f)) > 0) {
                switch (f.number) {
                case 1:
                case 5:
                        if (f.wire_type != PB_WIRE_LEN)
                                return -EBADMSG;
                        if (f.number == 1) {
                                kv.key = f.data;
                                kv.key_size = f.size;
                        } else {
                                kv.value = f.data;
                                kv.value_size = f.size;
                        }
                        break;
                case 2:
                case 3:
                case 4:
                case 6:
                        if (f.wire_type != PB_WIRE_VARINT)
                                return -EBADMSG;
                        /* int64: negative values arrive as two's complement. */
                        if (f.number == 2)
                                kv.create_revision = (int64_t) f.value;
                        else if (f.number == 3)
                                kv.mod_revision = (int64_t) f.value;
                        else if (f.number == 4)
                                kv.version = (int64_t) f.value;
                        else
                                kv.lease = (int64_t) f.value;
                        break;
                default:
                        break;
                }
        }
        if (r < 0)
                return r;
        if (kv.key_size == 0)
                return -EBADMSG;
        *ret = kv;
        return 0;
}

/* ---- the latest revision of each key --------------------------------------------- */

typedef struct Slot {
        const uint8_t *key;     /* NULL: empty slot */
        size_t key_size;
        uint64_t hash;
        MvccRevision rev;
        const uint8_t *kv;      /* the KeyValue of that revision */
        size_t kv_size;
} Slot;

typedef struct Walk {
        Bbolt *db;
        const uint8_t *match;
        size_t match_size;
        bool prefix;
        Slot *slots;
        size_t capacity;        /* a power of two, or 0 */
        size_t n;
} Walk;

static uint64_t fnv1a(const uint8_t *p, size_t n) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

static Slot *walk_find(Slot *slots, size_t capacity, const uint8_t *key, size_t key_size, uint64_t hash) {
        size_t mask = capacity - 1;

        for (size_t i = (size_t) hash & mask;; i = (i + 1) & mask) {
                Slot *s = &slots[i];
                if (!s->key || (s->hash == hash && s->key_size == key_size &&
                                memcmp(s->key, key, key_size) == 0))
                        return s;
        }
}

static int walk_grow(Walk *w) {
        size_t capacity = w->capacity ? w->capacity * 2 : 64;
        Slot *slots;

        if (capacity < w->capacity || capacity > SIZE_MAX / sizeof(Slot))
                return -ENOMEM;
        slots = calloc(capacity, sizeof(Slot));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < w->capacity; i++)
                if (w->slots[i].key)
                        *walk_find(slots, capacity, w->slots[i].key, w->slots[i].key_size,
                                   w->slots[i].hash) = w->slots[i];
        free(w->slots);
        w->slots = slots;
        w->capacity = capacity;
        return 0;
}

static bool rev_after(const MvccRevision *a, const MvccRevision *b) {
        return a->main > b->main || (a->main == b->main && a->sub > b->sub);
}

static int on_revision(const void *key, size_t klen, const void *value, size_t vlen, bool is_bucket,
                       void *userdata) {
        Walk *w = userdata;
        MvccRevision rev;
        InspectKv kv;
        uint64_t hash;
        Slot *s;
        int r;

        if (is_bucket)
                return bbolt_set_error(w->db, "bucket \"key\": holds a sub-bucket");
        if (mvcc_parse_key(key, klen, &rev) < 0)
                return bbolt_set_error(w->db, "bucket \"key\": a key of %zu bytes is not a revision", klen);
        if (inspect_kv_decode(value, vlen, &kv) < 0)
                return bbolt_set_error(w->db, "bucket \"key\": revision %" PRId64 "_%" PRId64
                                       ": malformed KeyValue", rev.main, rev.sub);

        if (w->prefix ? kv.key_size < w->match_size || memcmp(kv.key, w->match, w->match_size) != 0
                      : kv.key_size != w->match_size || memcmp(kv.key, w->match, w->match_size) != 0)
                return 0;

        if ((w->n + 1) * 4 > w->capacity * 3) {
                r = walk_grow(w);
                if (r < 0)
                        return r;
        }
        hash = fnv1a(kv.key, kv.key_size);
        s = walk_find(w->slots, w->capacity, kv.key, kv.key_size, hash);
        if (s->key && !rev_after(&rev, &s->rev))
                return 0;
        if (!s->key)
                w->n++;
        *s = (Slot) { .key = kv.key, .key_size = kv.key_size, .hash = hash, .rev = rev,
                      .kv = value, .kv_size = vlen };
        return 0;
}

static int kv_compare(const void *a, const void *b) {
        const InspectKv *x = a, *y = b;
        int c = memcmp(x->key, y->key, MIN(x->key_size, y->key_size));

        if (c != 0)
                return c;
        return x->key_size < y->key_size ? -1 : x->key_size > y->key_size;
}

int inspect_get(InspectBackup *b, const void *key, size_t key_size, bool prefix, InspectKv **ret,
                size_t *ret_n) {
        Walk w = { .db = b ? b->db : NULL, .match = key, .match_size = key_size, .prefix = prefix };
        _cleanup_free_ InspectKv *kvs = NULL;
        BboltBucket bucket;
        size_t n = 0;
        int r;

        if (!b || !b->db || (!key && key_size > 0) || !ret || !ret_n)
                return -EINVAL;

        r = bbolt_bucket_open(b->db, NULL, MVCC_KEY_BUCKET, strlen(MVCC_KEY_BUCKET), &bucket);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r == -ENOTDIR)
                return bbolt_set_error(b->db, "root bucket: \"key\" is not a bucket");
        if (r < 0)
                return r;
        r = bbolt_bucket_foreach(b->db, &bucket, on_revision, &w);
        if (r >= 0 && w.n > 0) {
                kvs = calloc(w.n, sizeof *kvs);
                if (!kvs)
                        r = -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < w.capacity; i++) {
                const Slot *s = &w.slots[i];
                if (!s->key || s->rev.tombstone)
                        continue;
                /* Decoded once already during the walk; cannot fail now. */
                r = inspect_kv_decode(s->kv, s->kv_size, &kvs[n]);
                if (r >= 0)
                        n++;
        }
        free(w.slots);
        if (r < 0)
                return r;
        if (n > 1)
                qsort(kvs, n, sizeof *kvs, kv_compare);
        if (n == 0)
                kvs = mfree(kvs);
        *ret = TAKE_PTR(kvs);
        *ret_n = n;
        return 0;
}

int inspect_revision(InspectBackup *b, int64_t *ret) {
        int r;

        if (!b || !b->db || !ret)
                return -EINVAL;
        r = mvcc_revision(b->db, ret);
        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        return r;
}

/* ---- Secrets audit --------------------------------------------------------------- */

/* The field of p (n bytes) up to the next ':'; -1 if there is none. */
static ssize_t field_len(const uint8_t *p, size_t n) {
        const uint8_t *c = memchr(p, ':', n);

        return c ? c - p : -1;
}

/* Append n bytes of p to label (size bytes, NUL-terminated), as printable
 * name characters, cut to fit. */
static void label_append(char *label, size_t size, const void *p, size_t n) {
        size_t len = strlen(label);
        const uint8_t *s = p;

        for (size_t i = 0; i < n && len + 1 < size; i++) {
                uint8_t c = s[i];
                bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
                label[len++] = safe ? (char) c : '?';
        }
        label[len] = '\0';
}

static void label_colon(char *label, size_t size) {
        size_t len = strlen(label);

        if (len + 1 < size) {
                label[len] = ':';
                label[len + 1] = '\0';
        }
}

InspectStorage inspect_audit_classify(const void *value, size_t size, char *label, size_t label_size) {
        static const char enc[] = "k8s:enc:";
        const uint8_t *p = value;
        ssize_t provider, version, name;
        size_t off;

        if (!label || label_size == 0)
                return INSPECT_STORAGE_UNKNOWN;
        label[0] = '\0';
        if (!p)
                size = 0;

        if (size >= strlen(enc) && memcmp(p, enc, strlen(enc)) == 0) {
                /* k8s:enc:<provider>:<version>:<key name>:<ciphertext> */
                off = strlen(enc);
                provider = field_len(p + off, size - off);
                if (provider <= 0)
                        goto unknown;
                off += (size_t) provider + 1;
                version = field_len(p + off, size - off);
                if (version <= 0)
                        goto unknown;
                name = field_len(p + off + (size_t) version + 1, size - off - (size_t) version - 1);
                if (name <= 0)
                        goto unknown;
                label_append(label, label_size, p + strlen(enc), (size_t) provider);
                /* v1 is every provider's format but KMS's second one, which
                 * is a different provider in all but name: "kmsv2". */
                if (!((size_t) version == 2 && memcmp(p + off, "v1", 2) == 0))
                        label_append(label, label_size, p + off, (size_t) version);
                label_colon(label, label_size);
                label_append(label, label_size, p + off + (size_t) version + 1, (size_t) name);
                return INSPECT_STORAGE_ENCRYPTED;
        }
        if ((size >= 4 && memcmp(p, "k8s\0", 4) == 0) || (size >= 1 && p[0] == '{')) {
                snprintf(label, label_size, "plaintext");
                return INSPECT_STORAGE_PLAINTEXT;
        }
unknown:
        snprintf(label, label_size, "unknown");
        return INSPECT_STORAGE_UNKNOWN;
}

void inspect_audit_done(InspectAudit *a) {
        for (size_t i = 0; i < a->n_entries; i++)
                free(a->entries[i].label);
        free(a->entries);
        *a = (InspectAudit) {};
}

static int audit_count(InspectAudit *a, const char *label) {
        InspectAuditEntry *e;

        for (size_t i = 0; i < a->n_entries; i++)
                if (streq(a->entries[i].label, label)) {
                        a->entries[i].count++;
                        return 0;
                }
        if (a->n_entries >= AUDIT_LABELS_MAX && !streq(label, "other"))
                return audit_count(a, "other");
        e = reallocarray(a->entries, a->n_entries + 1, sizeof *e);
        if (!e)
                return -ENOMEM;
        a->entries = e;
        e[a->n_entries] = (InspectAuditEntry) { .label = strdup(label), .count = 1 };
        if (!e[a->n_entries].label)
                return -ENOMEM;
        a->n_entries++;
        return 0;
}

static int audit_entry_compare(const void *a, const void *b) {
        const InspectAuditEntry *x = a, *y = b;

        return strcmp(x->label, y->label);
}

int inspect_audit(InspectBackup *b, InspectAudit *ret) {
        _cleanup_(inspect_audit_done) InspectAudit a = {};
        _cleanup_free_ InspectKv *kvs = NULL;
        char label[INSPECT_LABEL_MAX];
        size_t n = 0;
        int r;

        if (!b || !ret)
                return -EINVAL;
        r = inspect_get(b, INSPECT_SECRETS_PREFIX, strlen(INSPECT_SECRETS_PREFIX), true, &kvs, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                InspectStorage s = inspect_audit_classify(kvs[i].value, kvs[i].value_size, label,
                                                          sizeof label);
                a.secrets++;
                if (s == INSPECT_STORAGE_PLAINTEXT)
                        a.plaintext++;
                else if (s == INSPECT_STORAGE_UNKNOWN)
                        a.unknown++;
                r = audit_count(&a, label);
                if (r < 0)
                        return r;
        }
        if (a.n_entries > 1)
                qsort(a.entries, a.n_entries, sizeof *a.entries, audit_entry_compare);
        *ret = a;
        a = (InspectAudit) {};
        return 0;
}
