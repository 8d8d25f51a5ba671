/* SPDX-License-Identifier: MIT */
/*
 * inspect.c — reading a backup file offline (see inspect.h).
 *
 * A backup is read once, front to back, through a chain of push stages that
 * all have the SinkFn shape: raw file bytes → age decryption (when the
 * file starts with the age header) → decompression (kind detected from the
 * first bytes it sees) → the db sink, which hands the data to a thread of
 * its own that feeds the SHA-256 trailer check and writes an anonymous
 * temporary file beside the decompression. The age decryptor hands on only
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
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "format/age.h"
#include "backup/decode.h"
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

const char *decode_tmp_dir(void) {
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

/* The db stage hands what it gets on to a thread of its own, which feeds
 * the trailer's SHA-256 and writes the temporary file while the decoder's
 * thread reads, decrypts and decompresses what comes next: the hash and the
 * write then run beside the decompression instead of after it. PIPE_SLOTS
 * buffers of PIPE_SLOT_BYTES go round between the two. `etcd-backupctl
 * verify` of the bench's 600 MB zstd backup on the 2-core build machine:
 * 1.11-1.14 s before, 0.76-0.79 s with the thread (four alternating pairs).
 * Each slot is one write(2): 128 KiB, as the decompressor's own output; with
 * 512 KiB writes the same verify spent 1.0-1.3 s more in the kernel copying
 * into the page cache (ext4 then takes larger folios, Linux 6.18). */
#define PIPE_SLOTS 8
#define PIPE_SLOT_BYTES ((size_t) 128 * 1024)

typedef struct DbPipe {
        pthread_mutex_t lock;
        pthread_cond_t cond;    /* a slot was handed over, taken back, or the thread failed */
        pthread_t thread;
        bool started;
        uint8_t *slot[PIPE_SLOTS];
        size_t len[PIPE_SLOTS];
        uint64_t handed;        /* slots handed to the thread so far */
        uint64_t taken;         /* slots it has finished with */
        size_t fill;            /* bytes in slot[handed % PIPE_SLOTS], being filled */
        bool done;              /* nothing more comes: drain and end */
        bool cancel;            /* end now */
        int error;              /* the thread's failure */
        bool hash_failed;       /* error is the hash's, not the write's */
} DbPipe;

/* Last stage: the decompressed stream, db followed by its SHA-256. */
typedef struct DbSink {
        int fd;                 /* temporary file; -EBADF when the file is read in place */
        Trailer *trailer;
        uint64_t size;
        uint8_t head[BBOLT_MAGIC_OFFSET + sizeof(bbolt_magic)];
        size_t head_size;
        uint64_t limit;         /* the stream may not grow past this (db + trailer) */
        int limit_error;        /* what passing it means: -EFBIG (the db cap, the sidecar's db_size), -ENOSPC */
        bool over_limit;        /* error is limit_error, not a failed write */
        int error;              /* this stage's own failure, told apart from the decoder's */
        DbPipe pipe;            /* the trailer and s->fd are the pipe thread's while it runs */
} DbSink;

static void *pipe_thread(void *userdata) {
        DbSink *s = userdata;
        DbPipe *p = &s->pipe;
        int r = 0;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                unsigned i;
                size_t n;

                while (p->taken == p->handed && !p->done && !p->cancel)
                        pthread_cond_wait(&p->cond, &p->lock);
                if (p->cancel || p->taken == p->handed)
                        break;
                i = (unsigned) (p->taken % PIPE_SLOTS);
                n = p->len[i];
                pthread_mutex_unlock(&p->lock);
                r = trailer_feed(s->trailer, p->slot[i], n);
                if (r < 0)
                        p->hash_failed = true;
                else if (s->fd >= 0)
                        r = loop_write(s->fd, p->slot[i], n);
                pthread_mutex_lock(&p->lock);
                if (r < 0) {
                        p->error = r;
                        pthread_cond_signal(&p->cond);
                        break;
                }
                p->taken++;
                pthread_cond_signal(&p->cond);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

static int pipe_start(DbSink *s) {
        DbPipe *p = &s->pipe;
        sigset_t all, saved;
        int r;

        for (unsigned i = 0; i < PIPE_SLOTS; i++) {
                p->slot[i] = malloc(PIPE_SLOT_BYTES);
                if (!p->slot[i])
                        return -ENOMEM;
        }
        /* Signals go to the caller's thread, as the codec's do; a write past
         * RLIMIT_FSIZE then fails with EFBIG here instead of SIGXFSZ ending
         * the process. */
        sigfillset(&all);
        r = -pthread_sigmask(SIG_SETMASK, &all, &saved);
        if (r < 0)
                return r;
        r = -pthread_create(&p->thread, NULL, pipe_thread, s);
        (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
        if (r < 0)
                return r;
        p->started = true;
        return 0;
}

/* Hand the slot being filled to the thread and wait for a free one. */
static int pipe_hand_over(DbPipe *p) {
        int r;

        pthread_mutex_lock(&p->lock);
        p->len[p->handed % PIPE_SLOTS] = p->fill;
        p->handed++;
        p->fill = 0;
        pthread_cond_signal(&p->cond);
        while (p->handed - p->taken == PIPE_SLOTS && p->error == 0)
                pthread_cond_wait(&p->cond, &p->lock);
        r = p->error;
        pthread_mutex_unlock(&p->lock);
        return r;
}

static int pipe_push(DbPipe *p, const uint8_t *data, size_t n) {
        while (n > 0) {
                size_t take = MIN(n, PIPE_SLOT_BYTES - p->fill);
                int r;

                memcpy(p->slot[p->handed % PIPE_SLOTS] + p->fill, data, take);
                p->fill += take;
                data += take;
                n -= take;
                if (p->fill == PIPE_SLOT_BYTES) {
                        r = pipe_hand_over(p);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Hand over what is left, wait for the thread to finish everything (cancel:
 * at once) and free the pipe. Returns the thread's failure, if any. */
static int pipe_end(DbPipe *p, bool cancel) {
        int r = 0;

        if (p->started) {
                if (!cancel && p->fill > 0)
                        (void) pipe_hand_over(p);
                pthread_mutex_lock(&p->lock);
                p->done = true;
                p->cancel = cancel;
                pthread_cond_signal(&p->cond);
                pthread_mutex_unlock(&p->lock);
                pthread_join(p->thread, NULL);
                p->started = false;
                r = p->error;
        }
        for (unsigned i = 0; i < PIPE_SLOTS; i++)
                p->slot[i] = mfree(p->slot[i]);
        return r;
}

static void db_sink_done(DbSink *s) {
        (void) pipe_end(&s->pipe, true);
        pthread_mutex_destroy(&s->pipe.lock);
        pthread_cond_destroy(&s->pipe.cond);
}

static int on_db(const void *data, size_t n, void *userdata) {
        DbSink *s = userdata;
        int r;

        if (s->error < 0)
                return s->error;
        if (n > s->limit - MIN(s->limit, s->size)) {
                s->over_limit = true;
                return s->error = s->limit_error;
        }
        if (s->head_size < sizeof s->head) {
                size_t take = MIN(n, sizeof s->head - s->head_size);
                memcpy(s->head + s->head_size, data, take);
                s->head_size += take;
                /* The first meta page's magic is in the first 4 KiB: a
                 * decompressed stream that is no database stops here, not
                 * after gigabytes (a plain file is only as large as it is). */
                if (s->fd >= 0 && s->head_size == sizeof s->head &&
                    memcmp(s->head + BBOLT_MAGIC_OFFSET, bbolt_magic, sizeof bbolt_magic) != 0)
                        return s->error = -EMEDIUMTYPE;
        }
        r = pipe_push(&s->pipe, data, n);
        if (r < 0)
                return s->error = r;
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
        SinkFn sink;
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


InspectBackup *decode_backup_new(const char *path) {
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

int decode_fail(Decode *d, Stage stage, int r, const char *fmt, ...) {
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
                return decode_fail(d, STAGE_DECRYPT, -EPROTONOSUPPORT, "%s", ARMORED_REASON);
        if (age_detect(head, n) > 0)
                return 1;
        if (has_prefix(head, n, AGE_MAGIC))
                return decode_fail(d, STAGE_DECRYPT, -EPROTONOSUPPORT,
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
                return decode_fail(d, STAGE_DECRYPT, r, "no age identity matches this backup (tried %s)", keys);
        case -EBADMSG:
                return decode_fail(d, STAGE_DECRYPT, r, "age decryption failed: the file is damaged or truncated");
        case -EPROTONOSUPPORT:
                return decode_fail(d, STAGE_DECRYPT, r, "%s", ARMORED_REASON);
        case -ENOMEM:
                return r;
        default:
                return decode_fail(d, STAGE_DECRYPT, r, "age decryption failed: %s", strerror(-r));
        }
}

/* Set up the chain for a file whose first n bytes are head: decryption
 * when it is encrypted, decompression when it is compressed or encrypted
 * (then into a temporary file), else the db sink on the file itself when
 * in_place, or copied into a temporary file. Returns 0 with the head of the
 * chain in *ret_fn and *ret_data, or the failure (d->failed set unless it is
 * -ENOMEM). */
static int chain_start(InspectBackup *b, Decode *d, const uint8_t *head, size_t n, bool in_place, DbSink *sink,
                       Decompress *dec, Decrypt *enc, int *tmp_fd, SinkFn *ret_fn, void **ret_data) {
        int r;

        /* A sidecar bounds the db, also read in place: a larger file is not its backup. */
        if (d->max_db_size > 0 && d->max_db_size < INSPECT_DB_MAX_BYTES)
                sink->limit = d->max_db_size + TRAILER_BYTES;
        r = detect_encrypted(d, head, n);
        if (r < 0)
                return r;
        b->encrypted = r > 0;
        if (b->encrypted) {
                if (d->n_ids == 0)
                        return decode_fail(d, STAGE_DECRYPT, -ENOKEY, "%s", NO_IDENTITY_REASON);
                *enc = (Decrypt) { .next = dec, .keep_going = d->hash_file };
                r = age_decryptor_new(d->ids, d->n_ids, on_plaintext, enc, &enc->age);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return decode_fail(d, STAGE_DECRYPT, r, "cannot start decryption: %s", strerror(-r));
        } else {
                r = codec_detect(head, n, &b->compression);
                if (r < 0)
                        return r;
                if (b->compression == CODEC_NONE && in_place) {
                        *ret_fn = on_db;
                        *ret_data = sink;
                        return 0;
                }
        }

        r = open_tmpfile(d->tmp_dir, tmp_fd);
        if (r < 0)
                return decode_fail(d, STAGE_DECOMPRESS, r, "cannot create a temporary file in %s: %s",
                            d->tmp_dir, strerror(-r));
        sink->fd = *tmp_fd;
        {
                /* Never spool the whole free space away: keep 1/16 of it (at
                 * most 64 MiB) for everyone else. */
                struct statvfs sv;
                if (fstatvfs(*tmp_fd, &sv) >= 0) {
                        uint64_t avail = (uint64_t) sv.f_bavail * sv.f_frsize;
                        uint64_t room = avail - MIN(avail / 16, UINT64_C(64) << 20);
                        if (room < sink->limit) {
                                sink->limit = room;
                                sink->limit_error = -ENOSPC;
                                d->spool_room = room;
                        }
                }
        }
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
/* After a stage failed, whether to read the file on for the sidecar's size
 * and SHA-256 checks: only when its size is the sidecar's. Otherwise both
 * fail anyway, and reading on would take as long as the file is (a huge
 * sparse file named like a backup). When not, b->file_size is its size. */
static bool hash_on(InspectBackup *b, Decode *d, EVP_MD_CTX **md, const struct stat *st) {
        if (*md && d->hash_on_size > 0 && (uint64_t) st->st_size == d->hash_on_size)
                return true;
        if (*md) {
                EVP_MD_CTX_free(*md);
                *md = NULL;
                b->file_size = (uint64_t) st->st_size;
                d->file_sized = true;
        }
        return false;
}

int decode_backup(InspectBackup *b, Decode *d) {
        _cleanup_(evp_md_ctx_freep) EVP_MD_CTX *md = NULL;
        _cleanup_(trailer_freep) Trailer *trailer = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_close_ int fd = -EBADF, tmp_fd = -EBADF;
        _cleanup_(db_sink_done) DbSink sink = { .fd = -EBADF, .limit = INSPECT_DB_MAX_BYTES + TRAILER_BYTES,
                                                .limit_error = -EFBIG,
                                                .pipe = { .lock = PTHREAD_MUTEX_INITIALIZER,
                                                          .cond = PTHREAD_COND_INITIALIZER } };
        _cleanup_(decompress_done) Decompress dec = {};
        _cleanup_(decrypt_done) Decrypt enc = {};
        SinkFn head_fn = NULL;
        void *head_data = NULL;
        bool direct, in_place, first = true, chain_failed = false;
        int chain_r = 0;
        struct stat st;
        unsigned len = 0;
        int r;

        d->failed = STAGE_DONE;
        d->reason[0] = '\0';

        if (d->source_fd >= 0) {
                fd = fcntl(d->source_fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0)
                        return decode_fail(d, STAGE_READ, -errno, "cannot read %s: %s", b->path, strerror(errno));
        } else {
                /* Not blocking: a FIFO named like a backup is refused below, not waited on. */
                fd = open(b->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0)
                        return decode_fail(d, STAGE_READ, -errno, "cannot open %s: %s", b->path, strerror(errno));
        }
        if (fstat(fd, &st) < 0)
                return decode_fail(d, STAGE_READ, -errno, "cannot stat %s: %s", b->path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return decode_fail(d, STAGE_READ, -EBADMSG, "not a backup: %s is not a regular file", b->path);
        /* Otherwise an uncompressed db is copied as it is read, like a decompressed one. */
        in_place = inspect_may_read_in_place(&st);

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
                        return decode_fail(d, STAGE_READ, (int) n, "cannot read %s: %s", b->path,
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
                        r = chain_start(b, d, buf, (size_t) n, in_place, &sink, &dec, &enc, &tmp_fd, &head_fn,
                                        &head_data);
                        if (r >= 0) {
                                r = pipe_start(&sink);
                                if (r < 0)
                                        return r;
                        }
                        if (r < 0) {
                                /* Without a way on, verify still hashes the
                                 * file for the sidecar's file checks. */
                                if (d->failed != STAGE_DECRYPT || !hash_on(b, d, &md, &st))
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
                        if (!hash_on(b, d, &md, &st))
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
                return decode_fail(d, STAGE_DECOMPRESS, -EBADMSG, "not a backup: the file is empty");

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
                        return decode_fail(d, STAGE_DECOMPRESS, chain_r, "truncated %s stream%s",
                                    codec_to_string(dec.kind),
                                    b->encrypted ? " inside the encryption" : "");
                chain_failed = chain_r < 0;
        }
        r = pipe_end(&sink.pipe, chain_failed);
        if (r < 0 && !chain_failed) {
                sink.error = chain_r = r;
                chain_failed = true;
        }
        if (chain_failed) {
                if (sink.error == -EMEDIUMTYPE)
                        return decode_fail(d, STAGE_TRAILER, -EBADMSG, "not a backup: no etcd database in %s%s%s",
                                           b->compression == CODEC_NONE && !b->encrypted ? "this file" :
                                           b->encrypted ? "the decrypted data" : "the decompressed ",
                                           b->compression == CODEC_NONE || b->encrypted ? "" :
                                           codec_to_string(b->compression),
                                           b->compression == CODEC_NONE || b->encrypted ? "" : " data");
                /* An uncompressed file is copied, not decompressed. */
                const char *grows = b->compression == CODEC_NONE && !b->encrypted ? "the file is" : "the data decompresses to";
                if (sink.over_limit && sink.error == -EFBIG && d->max_db_size > 0)
                        return decode_fail(d, STAGE_DECOMPRESS, -EFBIG,
                                    "%s more than the sidecar's db_size (%" PRIu64 " bytes) and the trailer", grows,
                                    d->max_db_size);
                if (sink.over_limit && sink.error == -ENOSPC)
                        return decode_fail(d, STAGE_DECOMPRESS, -ENOSPC,
                                    "cannot write the temporary file in %s: %s (%s more than the %" PRIu64
                                    " bytes it can take)", d->tmp_dir, strerror(ENOSPC), grows, d->spool_room);
                if (sink.over_limit)
                        return decode_fail(d, STAGE_DECOMPRESS, -EFBIG,
                                    "not a backup: %s more than %" PRIu64 " GiB", grows, INSPECT_DB_MAX_BYTES >> 30);
                if (sink.error < 0 && sink.pipe.hash_failed)
                        return decode_fail(d, STAGE_TRAILER, sink.error, "cannot hash the db: %s",
                                           strerror(-sink.error));
                if (sink.error < 0)
                        return decode_fail(d, STAGE_DECOMPRESS, sink.error,
                                    "cannot write the temporary file in %s: %s", d->tmp_dir,
                                    strerror(-sink.error));
                if (chain_r == -EBADMSG)
                        return decode_fail(d, STAGE_DECOMPRESS, chain_r,
                                    "corrupt %s stream: the file is damaged",
                                    codec_to_string(dec.kind));
                if (chain_r == -EMSGSIZE)
                        return decode_fail(d, STAGE_DECOMPRESS, chain_r,
                                    "a zstd frame asks for a window larger than %u MiB, more memory than is given "
                                    "to a backup's decoder: a damaged frame header, or a file made with zstd "
                                    "--long=28 or more (etcd-backupd never writes one)",
                                    (1u << CODEC_ZSTD_WINDOW_LOG_MAX) >> 20);
                return decode_fail(d, STAGE_DECOMPRESS, chain_r, "cannot decompress: %s",
                            strerror(-chain_r));
        }
        if (b->encrypted)
                b->compression = dec.kind;
        d->decompressed = true;
        d->stream_size = sink.size;
        d->has_magic = sink.head_size == sizeof sink.head &&
                       memcmp(sink.head + BBOLT_MAGIC_OFFSET, bbolt_magic, sizeof bbolt_magic) == 0;
        b->fd = direct ? TAKE_FD(fd) : TAKE_FD(tmp_fd);
        b->in_place = direct;

        r = trailer_finish(trailer, b->db_sha256, &b->db_size);
        if (r == -EPIPE || (r == -EBADMSG && !d->has_magic)) {
                if (b->encrypted && b->compression == CODEC_NONE)
                        return decode_fail(d, STAGE_TRAILER, -EBADMSG,
                                    "not a backup: no etcd database in the decrypted data");
                if (b->compression == CODEC_NONE)
                        return decode_fail(d, STAGE_TRAILER, -EBADMSG,
                                    "not a backup: no etcd database in this file");
                return decode_fail(d, STAGE_TRAILER, -EBADMSG,
                            "not a backup: no etcd database in the decompressed %s data",
                            codec_to_string(b->compression));
        }
        if (r == -EBADMSG)
                return decode_fail(d, STAGE_TRAILER, r, "SHA-256 trailer mismatch: the file is damaged");
        if (r < 0)
                return decode_fail(d, STAGE_TRAILER, r, "cannot check the SHA-256 trailer: %s", strerror(-r));
        return 0;
}

/* Map b->fd and validate the meta pages. */
int decode_map(InspectBackup *b, Decode *d) {
        char why[INSPECT_REASON_MAX - 64] = "";
        int r;

        r = bbolt_open_fd_reason(b->fd, &b->db, why, sizeof why);
        if (r == -EBADMSG)
                return decode_fail(d, STAGE_STRUCTURE, r, "database structure damaged: %s",
                            why[0] ? why : "no valid meta page");
        if (r < 0)
                return decode_fail(d, STAGE_STRUCTURE, r, "cannot map the database: %s", strerror(-r));
        return 0;
}

bool inspect_may_read_in_place(const struct stat *st) {
        return st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

int inspect_backup_open_fd(int fd, const char *path, const char *dir, const AgeIdentity *ids, size_t n_ids,
                           uint64_t max_db_size, InspectBackup **ret, char *reason, size_t reason_size) {
        _cleanup_(inspect_backup_freep) InspectBackup *b = NULL;
        _cleanup_free_ Decode *d = NULL;
        int r;

        if (!path || !ret || (!ids && n_ids > 0))
                return -EINVAL;
        b = decode_backup_new(path);
        d = calloc(1, sizeof *d);
        if (!b || !d)
                return -ENOMEM;
        d->source_fd = fd;
        d->ids = ids;
        d->n_ids = n_ids;
        d->tmp_dir = dir ? dir : decode_tmp_dir();
        d->max_db_size = max_db_size;

        r = decode_backup(b, d);
        if (r >= 0)
                r = decode_map(b, d);
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

int inspect_backup_open_in(const char *path, const char *dir, const AgeIdentity *ids, size_t n_ids,
                           InspectBackup **ret, char *reason, size_t reason_size) {
        return inspect_backup_open_fd(-EBADF, path, dir, ids, n_ids, 0, ret, reason, reason_size);
}

int inspect_backup_open_with_identities(const char *path, const AgeIdentity *ids, size_t n_ids,
                                        InspectBackup **ret, char *reason, size_t reason_size) {
        return inspect_backup_open_in(path, NULL, ids, n_ids, ret, reason, reason_size);
}

int inspect_backup_open(const char *path, InspectBackup **ret, char *reason, size_t reason_size) {
        return inspect_backup_open_in(path, NULL, NULL, 0, ret, reason, reason_size);
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
