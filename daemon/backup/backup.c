/* SPDX-License-Identifier: MIT */
/*
 * backup.c — one backup, and the retention policy over the directory (see
 * backup.h).
 *
 * The stream from etcd is written raw to an anonymous spool file in the
 * backup directory and hashed for etcd's SHA-256 trailer as it arrives. The
 * stream thread does nothing else, so etcd's read transaction stays open
 * only as long as the network needs. A compressor thread reads the spool in
 * whole MiB into the parallel codec: on more than two cores it follows the
 * stream with the cores beyond two, on two or fewer it starts when the
 * stream ends (see stream_threads()). When the stream ends, the spooled db
 * is read with the bbolt reader (meta pages, full structure, revision)
 * while the compressor finishes; then the trailer is checked.
 * Only then is the compressed file linked under its name, the sidecar
 * beside it, and the directory fsynced. Every intermediate file is
 * anonymous (O_TMPFILE), so a failure or a kill at any point leaves nothing
 * behind; where the file system has no O_TMPFILE (NFS) it has a hidden
 * name, removed on a failure and, after a kill, by the next backup.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "format/age.h"
#include "backup/backup.h"
#include "backup/k8s-secrets.h"
#include "format/bbolt.h"
#include "backup/codec.h"
#include "etcd/etcd.h"
#include "format/mvcc.h"
#include "format/retention.h"
#include "format/trailer.h"
#include "util/io.h"
#include "util/parse.h"
#include "util/str.h"
#include "util/time.h"

#define SPOOL_READ_BYTES (1024u * 1024)

const char *backup_phase_to_string(BackupPhase p) {
        static const char *const names[_BACKUP_PHASE_MAX] = {
                [BACKUP_PHASE_CONNECT] = "connect",
                [BACKUP_PHASE_STREAM] = "stream",
                [BACKUP_PHASE_VERIFY] = "verify",
                [BACKUP_PHASE_COMPRESS] = "compress",
                [BACKUP_PHASE_PUBLISH] = "publish",
                [BACKUP_PHASE_RETENTION] = "retention",
                [BACKUP_PHASE_UPLOAD] = "upload",
        };
        return p < _BACKUP_PHASE_MAX ? names[p] : "unknown";
}

void backup_result_done(BackupResult *r) {
        free(r->path);
        free(r->error);
        sidecar_done(&r->sidecar);
        strv_free(r->k8s_missing_keys);
        free(r->k8s_error);
        free(r->warning);
        *r = (BackupResult) {};
}

static int fail(BackupResult *result, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(BackupResult *result, int r, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        free(result->error);
        result->error = s;
        return r;
}

/* storage.min_free while writing. The start's estimate (check_room()) can
 * fall short: a db grown since etcd reported its size, an output much larger
 * than the previous backup. Each writer looks at the file system every
 * ROOM_CHECK_BYTES it writes and stops below storage.min_free, so that a
 * backup never takes the room etcd may need beside it. */
#define ROOM_CHECK_BYTES (UINT64_C(4) * 1024 * 1024)

typedef struct RoomWatch {
        uint64_t min_free;      /* 0: not watched */
        uint64_t unchecked;     /* bytes written since the last look */
        uint64_t avail;         /* what the look that stopped it found */
        bool below;
} RoomWatch;

static int room_watch(RoomWatch *w, int fd, size_t n) {
        struct statvfs sv;

        w->unchecked += n;
        if (w->min_free == 0 || w->unchecked < ROOM_CHECK_BYTES)
                return 0;
        w->unchecked = 0;
        if (fstatvfs(fd, &sv) < 0)
                return 0; /* the start's check stands; a write that fails says why */
        w->avail = (uint64_t) sv.f_bavail * (uint64_t) sv.f_frsize;
        if (w->avail >= w->min_free)
                return 0;
        w->below = true;
        return -ENOSPC;
}

static int fail_room(BackupResult *result, const Config *c, const RoomWatch *w, const char *while_what) {
        char avail[FORMAT_BYTES_MAX], min[FORMAT_BYTES_MAX], exact[48] = "";

        format_bytes(avail, sizeof avail, w->avail);
        format_bytes(min, sizeof min, c->storage.min_free_bytes);
        if (streq(avail, min)) /* rounded alike: the bytes tell them apart */
                snprintf(exact, sizeof exact, " (%" PRIu64 " bytes)", w->avail);
        return fail(result, -ENOSPC, "free space in %s fell to %s%s while %s, below storage.min_free %s: stopped, "
                    "so that the file system keeps that room", c->storage.directory, avail, exact, while_what, min);
}

/* The output chain: codec → SHA-256 of the file → the output file. */
typedef struct Output {
        int fd;
        EVP_MD_CTX *md;
        uint64_t size;
        uint64_t flushed;       /* bytes whose writeback has been started */
        bool writeback;         /* the stream has ended: start writeback as it is written */
        int write_error;        /* a write to fd failed: -errno */
        RoomWatch room;
} Output;

/* Once etcd's stream has ended, start writing the output back every so many
 * bytes, so that the fsync before it is published has little left to wait
 * for. Not before: while the stream runs, the disk and the CPU its
 * interrupts take are the stream's (a backup without compression writes as
 * much as etcd sends). */
#define OUTPUT_FLUSH_BYTES (UINT64_C(8) * 1024 * 1024)

static int on_output(const void *data, size_t n, void *userdata) {
        Output *o = userdata;
        int r;

        if (EVP_DigestUpdate(o->md, data, n) != 1)
                return -EIO;
        r = loop_write(o->fd, data, n);
        if (r >= 0)
                r = room_watch(&o->room, o->fd, n);
        if (r < 0)
                return o->write_error = r;
        o->size += n;
        if (o->writeback && o->size - o->flushed >= OUTPUT_FLUSH_BYTES) {
                /* Only a head start: the fsync at publishing is what counts. */
                (void) sync_file_range(o->fd, (off_t) o->flushed, (off_t) (o->size - o->flushed),
                                       SYNC_FILE_RANGE_WRITE);
                o->flushed = o->size;
        }
        return 0;
}

/* codec → age (when encrypting) → on_output. */
static int on_encrypt(const void *data, size_t n, void *userdata) {
        return age_encryptor_write(userdata, data, n);
}

/* The spool: written by the stream, read behind it by the compressor. */
typedef struct Spool {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int fd;
        uint64_t written;       /* bytes in the file */
        uint64_t signaled;      /* written, when the compressor was last woken */
        bool done;              /* the stream has ended: written is final */
        bool cancel;            /* stop now */
        Trailer *trailer;       /* etcd's SHA-256 check, fed as the spool is read */
        /* The codec is made and used by the compressor thread alone. */
        CodecKind kind;
        int level;
        unsigned threads;       /* storage.threads (0: codec_usable_cpus()) */
        unsigned stream_threads; /* how many compress while the stream runs (0: none, nothing is read) */
        SinkFn sink;
        void *sink_data;
        Output *out;            /* at the end of the sink chain */
        CodecWriter *codec;
        bool codec_failed;      /* codec_writer_new() failed: error says why */
        int error;              /* compressor's result */
        bool read_failed;       /* error is reading the spool back */
        int nice_error;         /* errno of lowering the compressor's priority, or 0 */
} Spool;

/* The compressor thread and its codec pool run at this nice value: etcd, the
 * stream and the rest of the control plane come first. The worker process
 * exists for one backup, so nothing else inherits it. */
#define COMPRESS_NICE 19

/* While etcd's stream comes in, etcd and the stream thread keep two cores to
 * themselves: etcd's sender alone takes more than one (1.2 cores through a
 * plain download of the bench's 600 MB db), and on a virtual machine anything
 * running beside it slows it whatever its priority (one SCHED_IDLE busy loop
 * made the plain download 12-38% slower on the 2-core build machine; the
 * compressor following the stream at nice 19 made ours 25% slower). So the
 * compressor follows the stream with the cores beyond those two, and on two
 * cores or fewer waits for the stream to end: etcd's read transaction is then
 * as short as the network allows, and the whole compression runs on every
 * thread afterwards, from the spool in the page cache. Measured there: the
 * same total time, the stream 1.05x the plain download instead of 1.25x. */
static unsigned stream_threads(unsigned threads) {
        return codec_follow_threads(threads, codec_usable_cpus());
}

static void *compress_thread(void *userdata) {
        Spool *s = userdata;
        uint64_t offset = 0;
        bool all_threads = false;
        int r = 0;

        /* Nice values are per thread on Linux and inherited by the threads
         * this one creates: the codec's pool is made here, after this. */
        if (setpriority(PRIO_PROCESS, (id_t) gettid(), COMPRESS_NICE) < 0)
                s->nice_error = errno;
        r = codec_writer_new(s->kind, s->level, s->threads, s->sink, s->sink_data, &s->codec);
        if (r < 0) {
                s->codec_failed = true;
                goto finish;
        }
        if (s->stream_threads > 0)
                codec_writer_set_active_threads(s->codec, s->stream_threads);
        for (;;) {
                uint64_t avail;
                void *buf = NULL;
                size_t n, room = 0;
                bool done;
                ssize_t k;

                pthread_mutex_lock(&s->lock);
                /* Whole reads, not a wakeup per network packet; nothing at
                 * all before the stream ends when not following it. */
                while (!s->done && !s->cancel && (s->stream_threads == 0 || s->written - offset < SPOOL_READ_BYTES))
                        pthread_cond_wait(&s->cond, &s->lock);
                avail = s->written - offset;
                done = s->done;
                if (s->cancel)
                        r = -ECANCELED;
                pthread_mutex_unlock(&s->lock);
                if (r < 0)
                        break;
                if (done && !all_threads) {
                        codec_writer_set_active_threads(s->codec, 0);
                        s->out->writeback = true; /* the sink runs in this thread */
                        all_threads = true;
                }
                if (avail == 0 && done)
                        break;
                /* Read straight into the codec's chunk: no copy in between. */
                r = codec_writer_buffer(s->codec, &buf, &room);
                if (r < 0)
                        break;
                n = (size_t) MIN(avail, (uint64_t) room);
                k = pread(s->fd, buf, n, (off_t) offset);
                if (k < 0 || (size_t) k != n) {
                        r = k < 0 ? -errno : -EIO;
                        s->read_failed = true;
                        break;
                }
                r = codec_writer_commit(s->codec, n);
                if (r < 0)
                        break;
                offset += n;
        }
        if (r >= 0)
                r = codec_writer_finish(s->codec);
finish:
        s->error = r;
        return NULL;
}

typedef struct Stream {
        Spool *spool;
        BackupProgressFn progress;
        void *userdata;
        uint64_t total;
        uint64_t next_report;
        int write_error;        /* a write to the spool failed: -errno */
        RoomWatch room;
} Stream;

static int on_stream_data(const void *data, size_t n, void *userdata) {
        Stream *st = userdata;
        uint64_t written;
        int r;

        r = loop_write(st->spool->fd, data, n);
        if (r >= 0)
                r = room_watch(&st->room, st->spool->fd, n);
        if (r < 0)
                return st->write_error = r;
        /* Hashed here, while the message is in the cache: the stream thread
         * has time to spare beside etcd (it waits for etcd about half the
         * time), where the compressor, after the stream, would not. */
        r = trailer_feed(st->spool->trailer, data, n);
        if (r < 0)
                return r;
        pthread_mutex_lock(&st->spool->lock);
        st->spool->written += n;
        written = st->spool->written;
        if (st->spool->stream_threads > 0 && written - st->spool->signaled >= SPOOL_READ_BYTES) {
                st->spool->signaled = written;
                pthread_cond_signal(&st->spool->cond);
        }
        pthread_mutex_unlock(&st->spool->lock);
        if (st->progress && written >= st->next_report) {
                st->progress(BACKUP_PHASE_STREAM, written, st->total, st->userdata);
                st->next_report = written + 4 * 1024 * 1024;
        }
        return 0;
}

static void spool_finish(Spool *s, bool cancel) {
        pthread_mutex_lock(&s->lock);
        s->done = true;
        s->cancel = cancel;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
}

static void report(BackupProgressFn progress, void *userdata, BackupPhase phase, uint64_t bytes, uint64_t total) {
        if (progress)
                progress(phase, bytes, total, userdata);
}

/* Check the snapshot's Secrets against kube-apiserver's EncryptionConfiguration.
 * Never fails the backup: a problem is kept in result->k8s_error. The key file
 * is read here, in the worker, and its content never leaves this function. */
static void check_secrets(const Config *c, BackupResult *result, Bbolt *db) {
        _cleanup_(encryption_config_freep) EncryptionConfig *enc = NULL;
        _cleanup_(k8s_secrets_check_done) K8sSecretsCheck check = {};
        char error[512] = "";
        int r;

        if (!c->kubernetes.encryption_config)
                return;
        r = k8s_secrets_load_config(c->kubernetes.encryption_config, false, &enc, error, sizeof error);
        if (r >= 0) {
                r = k8s_secrets_check(db, enc, &check);
                if (r < 0)
                        snprintf(error, sizeof error, "cannot read the Secrets of the snapshot: %s",
                                 r == -EBADMSG ? bbolt_last_error(db) : strerror(-r));
        }
        if (r < 0) {
                free(result->k8s_error);
                result->k8s_error = strdup(error[0] ? error : strerror(-r));
                return;
        }
        result->k8s_checked = true;
        result->k8s_unreadable = check.unreadable;
        result->k8s_missing_keys = TAKE_PTR(check.labels);
}

/* A backup needs room for the spool (the db), for its compressed output
 * (estimated by the previous backup's size, or the db's when there is none;
 * nothing when the spool is published as it is) and for storage.min_free
 * beside them. */
static int check_room(BackupResult *result, const Config *c, const StoreEntry *previous, bool direct,
                      uint64_t db_size, uint64_t avail) {
        char db[FORMAT_BYTES_MAX], prev[FORMAT_BYTES_MAX], min[FORMAT_BYTES_MAX], need[FORMAT_BYTES_MAX],
                have[FORMAT_BYTES_MAX];
        uint64_t output = direct ? 0 : previous ? previous->file_size : db_size, total;
        bool have_previous = previous;

        if (__builtin_add_overflow(db_size, output, &total) ||
            __builtin_add_overflow(total, c->storage.min_free_bytes, &total))
                total = UINT64_MAX;
        if (avail >= total)
                return 0;
        if (direct)
                return fail(result, -ENOSPC, "not enough free space in %s: %s available, %s needed (the %s database, "
                            "storage.min_free %s)", c->storage.directory, format_bytes(have, sizeof have, avail),
                            format_bytes(need, sizeof need, total), format_bytes(db, sizeof db, db_size),
                            format_bytes(min, sizeof min, c->storage.min_free_bytes));
        return fail(result, -ENOSPC,
                    "not enough free space in %s: %s available, %s needed (the %s database, %s for the output as %s, "
                    "storage.min_free %s)",
                    c->storage.directory, format_bytes(have, sizeof have, avail), format_bytes(need, sizeof need, total),
                    format_bytes(db, sizeof db, db_size), format_bytes(prev, sizeof prev, output),
                    have_previous ? "large as the previous backup" : "large as the database",
                    format_bytes(min, sizeof min, c->storage.min_free_bytes));
}

static bool name_has_sidecar(Store *store, const char *name) {
        _cleanup_free_ char *sidecar = NULL;
        struct stat st;
        return asprintf(&sidecar, "%s" SIDECAR_SUFFIX, name) < 0 ||
               fstatat(store->dir_fd, sidecar, &st, AT_SYMLINK_NOFOLLOW) >= 0;
}

static int unlink_sidecar(Store *store, const char *name) {
        _cleanup_free_ char *sidecar = NULL;
        if (asprintf(&sidecar, "%s" SIDECAR_SUFFIX, name) < 0)
                return -ENOMEM;
        return unlinkat(store->dir_fd, sidecar, 0) < 0 ? -errno : 0;
}

/* Read the spooled db with the bbolt reader: structure and revision. */
static int check_db(const Config *c, BackupResult *result, int spool_fd, int64_t *ret_revision) {
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        char reason[256] = "";
        int64_t revision = 0;
        int r;

        r = bbolt_open_fd_reason(spool_fd, &db, reason, sizeof reason);
        if (r < 0)
                return fail(result, r == -EBADMSG ? -EBADMSG : r, "the snapshot is not a valid bbolt database: %s",
                            *reason ? reason : strerror(-r));
        r = bbolt_check(db, NULL);
        if (r < 0)
                return fail(result, r, "the snapshot's database structure is damaged: %s",
                            r == -EBADMSG ? bbolt_last_error(db) : strerror(-r));
        r = mvcc_revision(db, &revision);
        if (r == -ENOENT)
                revision = 0; /* no key was ever written */
        else if (r < 0)
                return fail(result, r, "cannot read the snapshot's revision: %s",
                            r == -EBADMSG ? bbolt_last_error(db) : strerror(-r));
        check_secrets(c, result, db);
        *ret_revision = revision;
        return 0;
}

int backup_run(const Config *c, Store *store, const StoreEntry *previous, BackupProgressFn progress, void *userdata,
               BackupResult *result) {
        _cleanup_(etcd_status_done) EtcdStatus status = {};
        _cleanup_(trailer_freep) Trailer *trailer = NULL;
        _cleanup_(tmpfile_done) TmpFile spool_tmp = TMPFILE_NULL, out_tmp = TMPFILE_NULL;
        _cleanup_free_ char *error = NULL, *name = NULL;
        EtcdTls tls = etcd_tls_from_config(&c->etcd);
        uint8_t db_sha[TRAILER_BYTES], file_sha[EVP_MAX_MD_SIZE];
        uint64_t start = now_usec(CLOCK_MONOTONIC), created = now_usec(CLOCK_REALTIME);
        uint64_t avail = 0, stream_start, stream_usec, db_size = 0;
        char buf1[FORMAT_BYTES_MAX], buf2[FORMAT_BYTES_MAX];
        Output out = { .room.min_free = c->storage.min_free_bytes };
        Spool spool = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
        _cleanup_(age_encryptor_freep) AgeEncryptor *enc = NULL;
        _cleanup_free_ AgeRecipient *recipients = NULL;
        bool encrypted = c->encryption.enabled;
        /* Without compression or encryption the spool is the backup: it is
         * published as it is, not copied. */
        bool direct = c->storage.compression == CODEC_NONE && !encrypted;
        Stream stream = { .spool = &spool, .progress = progress, .userdata = userdata,
                          .room.min_free = c->storage.min_free_bytes };
        pthread_t thread;
        bool thread_started = false;
        int64_t revision = 0;
        unsigned md_len = 0;
        _cleanup_(strv_builder_done) StrvBuilder removed = {};
        int r, rs;

        *result = (BackupResult) {};

        /* What a killed attempt left where there is no O_TMPFILE: the
         * daemon's worker dies and the next one starts without a new tidy. */
        if (store_remove_tmpfiles(store, &removed) >= 0 && removed.n > 0)
                append_format(&result->warning, "removed %zu temporary file%s that an interrupted backup left in %s",
                              removed.n, removed.n == 1 ? "" : "s", c->storage.directory);
        r = store_available(store, &avail);
        if (r < 0)
                return fail(result, r, "cannot read free space of %s: %s", c->storage.directory, strerror(-r));
        if (avail < c->storage.min_free_bytes)
                return fail(result, -ENOSPC, "not enough free space in %s: %s available, storage.min_free is %s",
                            c->storage.directory, format_bytes(buf1, sizeof buf1, avail),
                            format_bytes(buf2, sizeof buf2, c->storage.min_free_bytes));

        report(progress, userdata, BACKUP_PHASE_CONNECT, 0, 0);
        r = etcd_find_endpoint(&tls, c->etcd.endpoints, c->etcd.connect_timeout_usec, &status, &error);
        if (r < 0)
                return fail(result, r, "%s", error ? error : strerror(-r));
        r = check_room(result, c, previous, direct, status.db_size > 0 ? (uint64_t) status.db_size : 0, avail);
        if (r < 0)
                return r;

        r = store_tmpfile(store, &spool_tmp);
        if (r >= 0 && !direct)
                r = store_tmpfile(store, &out_tmp);
        if (r < 0)
                return fail(result, r, "cannot create a temporary file in %s: %s", c->storage.directory,
                            strerror(-r));
        r = trailer_new(&trailer);
        if (r < 0)
                return fail(result, r, "out of memory");
        if (!direct) {
                out.fd = out_tmp.fd;
                out.md = EVP_MD_CTX_new();
                if (!out.md || EVP_DigestInit_ex(out.md, EVP_sha256(), NULL) != 1) {
                        EVP_MD_CTX_free(out.md);
                        return fail(result, -ENOMEM, "out of memory");
                }
        }
        spool.fd = spool_tmp.fd;
        spool.trailer = trailer;
        if (encrypted) {
                size_t n = strv_length(c->encryption.recipients);
                recipients = calloc(n ? n : 1, sizeof *recipients);
                if (!recipients) {
                        r = fail(result, -ENOMEM, "out of memory");
                        goto finish;
                }
                for (size_t i = 0; i < n; i++) {
                        r = age_recipient_parse(c->encryption.recipients[i], &recipients[i]);
                        if (r < 0) {
                                r = fail(result, r, "encryption.recipients: \"%s\" is not a valid age public key",
                                         c->encryption.recipients[i]);
                                goto finish;
                        }
                }
                r = age_encryptor_new(recipients, n, on_output, &out, &enc);
                if (r < 0) {
                        r = fail(result, r, "cannot set up age encryption: %s", strerror(-r));
                        goto finish;
                }
        }
        spool.kind = c->storage.compression;
        spool.level = (int) c->storage.level;
        spool.threads = c->storage.threads;
        spool.stream_threads = stream_threads(c->storage.threads);
        spool.sink = encrypted ? on_encrypt : on_output;
        spool.sink_data = encrypted ? (void *) enc : (void *) &out;
        spool.out = &out;
        if (!direct) {
                r = -pthread_create(&thread, NULL, compress_thread, &spool);
                if (r < 0) {
                        r = fail(result, r, "cannot start the compressor thread: %s", strerror(-r));
                        goto finish;
                }
                thread_started = true;
        }

        stream.total = status.db_size > 0 ? (uint64_t) status.db_size : 0;
        stream_start = now_usec(CLOCK_MONOTONIC);
        r = etcd_snapshot(&tls, status.endpoint, c->etcd.connect_timeout_usec, c->etcd.timeout_usec,
                          on_stream_data, &stream, &error);
        stream_usec = now_usec(CLOCK_MONOTONIC) - stream_start;
        if (r < 0) {
                if (stream.room.below)
                        r = fail_room(result, c, &stream.room, "receiving the snapshot");
                else if (r == -ENOSPC || r == -EDQUOT)
                        r = fail(result, r, "no space left in %s while receiving the snapshot", c->storage.directory);
                else if (stream.write_error < 0)
                        r = fail(result, r, "cannot write the snapshot into %s: %s", c->storage.directory,
                                 strerror(-r));
                else if (!error)
                        r = fail(result, r, "%s: snapshot failed: %s", status.endpoint, strerror(-r));
                else
                        r = fail(result, r, "%s", error);
                goto finish;
        }
        /* The compressor may still be working, now on every thread; check the db
         * meanwhile. Its verdict is reported after the trailer's, which says
         * more when both fail. */
        spool_finish(&spool, false);
        if (direct)
                /* Only a head start for the fsync at publishing. */
                (void) sync_file_range(spool_tmp.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        report(progress, userdata, BACKUP_PHASE_VERIFY, spool.written, spool.written);
        rs = check_db(c, result, spool_tmp.fd, &revision);

        report(progress, userdata, BACKUP_PHASE_COMPRESS, spool.written, spool.written);
        if (thread_started) {
                pthread_join(thread, NULL);
                thread_started = false;
        }
        if (spool.codec_failed) {
                r = fail(result, spool.error, "cannot set up %s compression: %s",
                         codec_to_string(c->storage.compression), strerror(-spool.error));
                goto finish;
        }
        if (spool.error < 0) {
                if (out.room.below)
                        r = fail_room(result, c, &out.room, "writing the backup");
                else if (spool.error == -ENOSPC || spool.error == -EDQUOT)
                        r = fail(result, spool.error, "no space left in %s while writing the backup",
                                 c->storage.directory);
                else if (out.write_error < 0 || spool.read_failed)
                        r = fail(result, spool.error, "cannot %s %s: %s",
                                 spool.read_failed ? "read back the snapshot spooled in" : "write the backup into",
                                 c->storage.directory, strerror(-spool.error));
                else
                        r = fail(result, spool.error, "compression failed: %s", strerror(-spool.error));
                goto finish;
        }
        if (direct) {
                r = trailer_stream_sha256(trailer, file_sha);
                if (r < 0) {
                        r = fail(result, r, "cannot hash the backup file: %s", strerror(-r));
                        goto finish;
                }
        }
        r = trailer_finish(trailer, db_sha, &db_size);
        if (r == -EPIPE) {
                r = fail(result, r, "%s: the snapshot stream was too short (%" PRIu64 " bytes)", status.endpoint,
                         spool.written);
                goto finish;
        }
        if (r == -EBADMSG) {
                r = fail(result, r, "%s: the snapshot's SHA-256 does not match its content (damaged in transit?)",
                         status.endpoint);
                goto finish;
        }
        if (r < 0) {
                r = fail(result, r, "cannot hash the snapshot: %s", strerror(-r));
                goto finish;
        }
        if (rs < 0) {
                r = rs; /* check_db() has said why */
                goto finish;
        }
        if (enc) {
                r = age_encryptor_finish(enc);
                if (r < 0) {
                        r = out.room.below ? fail_room(result, c, &out.room, "writing the backup")
                            : r == -ENOSPC || r == -EDQUOT
                                ? fail(result, r, "no space left in %s while writing the backup", c->storage.directory)
                                : fail(result, r, "encryption failed: %s", strerror(-r));
                        goto finish;
                }
        }
        if (!direct && EVP_DigestFinal_ex(out.md, file_sha, &md_len) != 1) {
                r = fail(result, -EIO, "cannot hash the backup file");
                goto finish;
        }

        report(progress, userdata, BACKUP_PHASE_PUBLISH, spool.written, spool.written);
        /* Names have one-second resolution: a second backup of the same revision
         * within the same second takes the next free second instead. */
        for (unsigned tries = 0;; tries++) {
                struct stat st;
                name = mfree(name);
                r = store_name_format(&(StoreName) { .cluster_id = status.cluster_id, .created_usec = created,
                                                     .revision = revision, .compression = c->storage.compression,
                                                     .encrypted = encrypted }, &name);
                if (r < 0) {
                        r = fail(result, r, "out of memory");
                        goto finish;
                }
                if (tries >= 5 || (fstatat(store->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
                                   !name_has_sidecar(store, name)))
                        break;
                created = (created / USEC_PER_SEC + 1) * USEC_PER_SEC;
        }
        result->sidecar = (Sidecar) {
                .name = strdup(name),
                .created_usec = created,
                .cluster_id = status.cluster_id,
                .member_id = status.member_id,
                .endpoint = strdup(status.endpoint),
                .etcd_version = strdup(status.version),
                .revision = revision,
                .db_size = db_size,
                .file_size = direct ? spool.written : out.size,
                .compression = c->storage.compression,
                .level = c->storage.compression == CODEC_NONE ? 0 : (int) c->storage.level,
                .encrypted = encrypted,
                .stream_duration_usec = stream_usec,
        };
        hexencode(db_sha, TRAILER_BYTES, result->sidecar.db_sha256);
        hexencode(file_sha, TRAILER_BYTES, result->sidecar.file_sha256);
        if (!result->sidecar.name || !result->sidecar.endpoint || !result->sidecar.etcd_version) {
                r = fail(result, -ENOMEM, "out of memory");
                goto finish;
        }

        /* The sidecar first, made durable before the backup is linked: a kill
         * or a power loss between the two links leaves a sidecar alone
         * (removed at the next start), never a backup without one (a file
         * system need not keep two links of one directory in order). */
        result->sidecar.duration_usec = now_usec(CLOCK_MONOTONIC) - start;
        r = store_publish_sidecar(store, &result->sidecar);
        if (r == -EEXIST) {
                r = fail(result, r, "%s/%s" SIDECAR_SUFFIX " exists already; not replacing it", c->storage.directory,
                         name);
                goto finish;
        }
        if (r < 0) {
                r = fail(result, r, "cannot write the sidecar of %s/%s: %s", c->storage.directory, name,
                         strerror(-r));
                goto finish;
        }
        r = store_sync(store);
        if (r < 0) {
                (void) unlink_sidecar(store, name);
                r = fail(result, r, "cannot publish %s/%s: %s", c->storage.directory, name, strerror(-r));
                goto finish;
        }
        r = store_publish(store, direct ? &spool_tmp : &out_tmp, name);
        if (r < 0) {
                /* Not ours to remove if it exists: only the sidecar just linked. */
                (void) unlink_sidecar(store, name);
                r = r == -EEXIST ? fail(result, r, "%s/%s exists already; not replacing it", c->storage.directory, name)
                                 : fail(result, r, "cannot publish %s/%s: %s", c->storage.directory, name, strerror(-r));
                goto finish;
        }
        r = store_sync(store);
        if (r < 0) {
                /* Never leave a backup that is not durable. */
                (void) store_remove(store, name, NULL);
                (void) store_sync(store);
                r = fail(result, r, "cannot publish %s/%s: %s", c->storage.directory, name, strerror(-r));
                goto finish;
        }
        result->path = path_join(c->storage.directory, name);
        if (!result->path) {
                r = fail(result, -ENOMEM, "out of memory");
                goto finish;
        }
        result->received = spool.written;
        result->follow_threads = direct ? 0 : spool.stream_threads;
        if (status.nospace_alarm)
                append_format(&result->warning, "etcd's NOSPACE alarm is raised at %s: its db reached "
                              "--quota-backend-bytes and etcd refuses writes until it is compacted, defragmented "
                              "and the alarm disarmed (etcdctl alarm disarm); this backup of it is good",
                              status.endpoint);
        if (spool.nice_error != 0)
                append_format(&result->warning, "could not lower the compressor's CPU priority to nice %d (%s): "
                              "compression competed with etcd for the CPU at full priority (a system call filter "
                              "denying setpriority?)", COMPRESS_NICE, strerror(spool.nice_error));
        r = 0;

finish:
        if (thread_started) {
                spool_finish(&spool, true);
                pthread_join(thread, NULL);
        }
        codec_writer_free(spool.codec);
        EVP_MD_CTX_free(out.md);
        if (r < 0 && !result->error)
                (void) fail(result, r, "%s", strerror(-r));
        return r;
}

int backup_tidy(const Config *c, char ***ret_removed, char ***ret_unpaired, char ***ret_unusable,
                char ***ret_strays, char **ret_error) {
        _cleanup_(store_freep) Store *store = NULL;
        int r;

        r = store_open(c->storage.directory, false, &store, ret_error);
        if (r == -ENOENT) {
                *ret_error = mfree(*ret_error);
                return 0;
        }
        if (r < 0)
                return r;
        r = store_tidy(store, ret_removed, ret_unpaired, ret_unusable, ret_strays);
        if (r < 0 && asprintf(ret_error, "cannot tidy %s: %s", c->storage.directory, strerror(-r)) < 0)
                *ret_error = NULL;
        return r;
}

int backup_prune(const Config *c, const char *just_made, bool dry_run, char ***ret_kept, char ***ret_deleted,
                 char **ret_error) {
        _cleanup_(store_freep) Store *store = NULL;
        StoreEntry *entries = NULL;
        size_t n = 0;
        int r;

        r = store_open(c->storage.directory, false, &store, ret_error);
        if (r < 0)
                return r;
        r = store_list(store, &entries, &n);
        if (r < 0) {
                if (asprintf(ret_error, "cannot list %s: %s", c->storage.directory, store_list_error(r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        r = backup_prune_entries(c, store, &entries, &n, just_made, dry_run, ret_kept, ret_deleted, NULL, ret_error);
        store_entries_free(entries, n);
        return r;
}

/* Drop the entries marked gone (removed from the directory) from the listing, in one pass. */
static void entries_drop_gone(StoreEntry *e, size_t *n, const bool *gone) {
        size_t k = 0;

        for (size_t i = 0; i < *n; i++)
                if (gone[i])
                        store_entry_done(&e[i]);
                else
                        e[k++] = e[i];
        *n = k;
}

/* The note of backup_prune_entries(): items planned, just_made first. */
static void note_earlier_history(const Config *c, const RetentionItem *items, size_t m, char **ret_note) {
        const RetentionItem *now = items, *before = items + 1;

        if (!ret_note || m < 2 || !now->just_made || retention_policy_is_disabled(&c->retention) ||
            (before->cluster_id == now->cluster_id && before->revision <= now->revision))
                return;
        for (size_t i = 1; i < m; i++) {
                if (!(items[i].reasons & RETENTION_KEEP_EARLIER_HISTORY))
                        continue;
                if (before->cluster_id != now->cluster_id)
                        append_format(ret_note, "%s/%s kept: the last backup of etcd cluster %016" PRIx64 ", before "
                                      "this directory's backups became cluster %016" PRIx64 "'s; retention keeps "
                                      "it and this backup, the first after, for the newest three such breaks "
                                      "(remove them by hand when no longer needed)", c->storage.directory,
                                      items[i].name, before->cluster_id, now->cluster_id);
                else
                        append_format(ret_note, "%s/%s kept: the last backup before etcd's revision went down (from "
                                      "%" PRId64 " to %" PRId64 ": etcd was restored, or began anew on an empty data "
                                      "dir); retention keeps it and this backup, the first after, for the newest "
                                      "three such breaks (remove them by hand when no longer needed)",
                                      c->storage.directory, items[i].name, before->revision, now->revision);
                return;
        }
}

int backup_prune_entries(const Config *c, Store *store, StoreEntry **entries, size_t *n, const char *just_made,
                         bool dry_run, char ***ret_kept, char ***ret_deleted, char **ret_note, char **ret_error) {
        _cleanup_(strv_builder_done) StrvBuilder kept = {}, deleted = {};
        _cleanup_free_ RetentionItem *items = NULL;
        _cleanup_free_ size_t *deleted_at = NULL;       /* the entry of each deleted name */
        _cleanup_free_ bool *gone = NULL;
        size_t m = 0, planned;
        int r;

        items = calloc(*n ? *n : 1, sizeof *items);
        deleted_at = calloc(*n ? *n : 1, sizeof *deleted_at);
        gone = calloc(*n ? *n : 1, sizeof *gone);
        if (!items || !deleted_at || !gone)
                return -ENOMEM;
        for (size_t i = 0; i < *n; i++) {
                const StoreEntry *e = *entries + i;

                /* Only backups published here have a sidecar (it is linked
                 * first); any other file is not ours to delete (kept, below). */
                if (!e->has_sidecar)
                        continue;
                /* Verified: its sidecar says the size it has. A file cut short or replaced is no newest backup
                 * to keep at the expense of the last good one (fetch and the upload call it unusable too). */
                items[m++] = (RetentionItem) {
                        .name = e->name,
                        .created_usec = e->parsed.created_usec,
                        .revision = e->parsed.revision,
                        .cluster_id = e->parsed.cluster_id,
                        .verified = e->sidecar.file_size == e->file_size,
                        .just_made = just_made && streq(e->name, just_made),
                        .tag = i,
                };
        }
        /* Those named later than now are kept, and the plan is over the others. */
        planned = retention_policy_is_disabled(&c->retention) ? m :
                  retention_set_aside_future(items, m, now_usec(CLOCK_REALTIME), RETENTION_FUTURE_SLACK_USEC);
        if (planned < m && ret_note) {
                char when[FORMAT_COMPACT_MAX], now[FORMAT_COMPACT_MAX], more[64] = "";

                if (m - planned > 1)
                        snprintf(more, sizeof more, " (and %zu more)", m - planned - 1);
                append_format(ret_note, "%s/%s%s is named %s, later than now (%s): the clock was set back since, or "
                              "was ahead when it was taken. Kept, and retention applied to the others, until the clock "
                              "passes that time", c->storage.directory, items[planned].name, more,
                              format_compact_utc(when, sizeof when, items[planned].created_usec),
                              format_compact_utc(now, sizeof now, now_usec(CLOCK_REALTIME)));
        }
        r = retention_plan(&c->retention, c->zone, items, planned);
        if (r < 0)
                return r;
        note_earlier_history(c, items, planned, ret_note);
        for (size_t i = 0; i < m; i++) {
                if (!items[i].keep)
                        deleted_at[deleted.n] = items[i].tag;   /* the plan sorted the items */
                r = items[i].keep ? strv_builder_extend(&kept, items[i].name) :
                                    strv_builder_extend(&deleted, items[i].name);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < *n; i++)
                if (!(*entries)[i].has_sidecar) {
                        r = strv_builder_extend(&kept, (*entries)[i].name);
                        if (r < 0)
                                return r;
                }
        items = mfree(items); /* it points into the entries dropped below */
        /* The directory is synced once after the removals, not after each: a prune of many (retention made
         * smaller) is one journal commit, and a crash before it only leaves some to be removed again. */
        for (size_t i = 0; !dry_run && i < deleted.n; i++) {
                const char *after = NULL;

                r = store_remove(store, deleted.v[i], &after);
                if (r >= 0 || after)
                        gone[deleted_at[i]] = true;
                if (r >= 0)
                        continue;
                entries_drop_gone(*entries, n, gone);
                (void) store_sync(store);
                if (after ? asprintf(ret_error, "removed %s/%s, but cannot %s: %s", c->storage.directory,
                                     deleted.v[i], after, strerror(-r)) < 0
                          : asprintf(ret_error, "cannot remove %s/%s: %s", c->storage.directory, deleted.v[i],
                                     strerror(-r)) < 0)
                        *ret_error = NULL;
                /* What is gone is said all the same: the journal's Pruned lines, the daemon's listing. */
                for (size_t j = i + (after ? 1 : 0); j < deleted.n; j++)
                        deleted.v[j] = mfree(deleted.v[j]);
                *ret_deleted = TAKE_PTR(deleted.v);
                return r;
        }
        if (!dry_run)
                entries_drop_gone(*entries, n, gone);
        r = !dry_run && deleted.n > 0 ? store_sync(store) : 0;
        if (r < 0 && asprintf(ret_error, "removed %zu backup%s from %s, but cannot sync the directory: %s",
                              deleted.n, deleted.n == 1 ? "" : "s", c->storage.directory, strerror(-r)) < 0)
                *ret_error = NULL;
        *ret_kept = TAKE_PTR(kept.v);
        *ret_deleted = TAKE_PTR(deleted.v);
        return r;
}
