/* SPDX-License-Identifier: MIT */
/*
 * ctl/offline.c — `etcd-backupctl verify|inspect|get|audit NAME|FILE`: the
 * commands that read a backup file directly, with no daemon and no etcd.
 * An argument that contains a '/' or names a file in the current directory
 * is a file; anything else that looks like a backup name is looked up in
 * the configured storage directory. An encrypted backup (age, told by its
 * first bytes) is opened with the identities of each --identity FILE, else
 * with encryption.identity_file of the configuration. Those are the only
 * cases in which the configuration is loaded. Human output follows etcdctl
 * where there is an etcdctl equivalent (`snapshot status -w table`, `get`);
 * --json output uses etcdctl's key names. CLI output: this file prints; inspect.c does the work.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/age-keyfile.h"
#include "ctl/json-print.h"
#include "format/age.h"
#include "config/config.h"
#include "ctl/offline.h"
#include "backup/inspect.h"
#include "format/mvcc-kv.h"
#include "format/secrets.h"
#include "format/mvcc.h"
#include "backup/store.h"
#include "ctl/k8s.h"
#include "util/io.h"
#include "util/macro.h"
#include "util/path.h"
#include "util/str.h"

/* Bytes base64-encoded per call: a multiple of 3, so chunks join cleanly. */
#define BASE64_CHUNK_BYTES ((size_t) 3 * 1024)
/* --identity may be given this many times. */
#define IDENTITY_FILES_MAX 16U
/* Bytes read to tell an encrypted backup: more than the age version line. */
#define PEEK_BYTES 64U

typedef struct Options {
        bool json;
        bool prefix;
        bool help;
        CtlK8sOutput output;
        const char *encryption_config;  /* points into argv */
        bool insecure_key_file;
        const char *resource, *namespace;
        const char *identity_files[IDENTITY_FILES_MAX];        /* point into argv */
        size_t n_identity_files;
} Options;

/* The age identities for an encrypted backup and where they came from. */
typedef struct Keys {
        AgeIdentity *ids;
        size_t n;
        char *source;           /* "--identity FILE" or "encryption.identity_file FILE in CONFIG" */
} Keys;

/* Wipe the secrets as soon as the backup is read; the source stays for
 * messages. */
static void keys_wipe(Keys *k) {
        k->ids = age_identities_free(k->ids, k->n);
        k->n = 0;
}

static void keys_done(Keys *k) {
        keys_wipe(k);
        k->source = mfree(k->source);
}

/* ---- JSON out ------------------------------------------------------------------ */

/* s as a JSON string; bytes that are not UTF-8 become U+FFFD (json-c copies
 * bytes as they are, and the output must stay valid JSON). NULL on ENOMEM. */
static struct json_object *json_utf8(const char *s) {
        _cleanup_free_ char *valid = utf8_sanitize(s);

        return valid ? json_object_new_string(valid) : NULL;
}

/* data as a JSON string holding its base64 (as etcdctl prints bytes). NULL
 * on ENOMEM. */
static struct json_object *json_base64(const uint8_t *data, size_t n) {
        _cleanup_free_ char *out = NULL;
        size_t len = 0;

        if (n > SIZE_MAX / 4 - 4)
                return NULL;
        out = malloc((n + 2) / 3 * 4 + 1);
        if (!out)
                return NULL;
        for (size_t off = 0; off < n; off += BASE64_CHUNK_BYTES) {
                int k = EVP_EncodeBlock((unsigned char *) out + len, data + off,
                                        (int) MIN(BASE64_CHUNK_BYTES, n - off));
                if (k > 0)
                        len += (size_t) k;
        }
        return json_object_new_string_len(out, (int) MIN(len, (size_t) INT_MAX));
}

/* Print o on one line (no spaces, '/' not escaped) and release it. NULL
 * (out of memory while building it) is an error; json_print() says its own. */
static int print_and_put(const char *cmd, struct json_object *o) {
        int r;

        if (!o) {
                fprintf(stderr, "etcd-backupctl %s: out of memory\n", cmd);
                return EXIT_FAILURE;
        }
        r = json_print(cmd, o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        json_object_put(o);
        return r < 0 ? EXIT_FAILURE : 0;
}

/* Add v as key to o; false (and o released) when o or v is NULL. */
static bool json_add(struct json_object **o, const char *key, struct json_object *v) {
        if (!*o || !v || json_object_object_add(*o, key, v) < 0) {
                json_object_put(v);
                json_object_put(*o);
                *o = NULL;
                return false;
        }
        return true;
}

/* Append v to the array a; false (and a released) when a or v is NULL. */
static bool json_append(struct json_object **a, struct json_object *v) {
        if (!*a || !v || json_object_array_add(*a, v) < 0) {
                json_object_put(v);
                json_object_put(*a);
                *a = NULL;
                return false;
        }
        return true;
}

/* ---- shared plumbing ---------------------------------------------------------- */

static void usage_hint(const char *cmd) {
        fprintf(stderr, "Try 'etcd-backupctl %s --help'.\n", cmd);
}

static int parse_options(int argc, char **argv, bool allow_prefix, Options *o) {
        enum { ARG_JSON = 0x100, ARG_PREFIX, ARG_IDENTITY, ARG_ENCRYPTION_CONFIG, ARG_INSECURE_KEY_FILE,
               ARG_RESOURCE, ARG_NAMESPACE };
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "prefix", no_argument, NULL, ARG_PREFIX },
                { "identity", required_argument, NULL, ARG_IDENTITY },
                { "output", required_argument, NULL, 'o' },
                { "encryption-config", required_argument, NULL, ARG_ENCRYPTION_CONFIG },
                { "insecure-key-file", no_argument, NULL, ARG_INSECURE_KEY_FILE },
                { "resource", required_argument, NULL, ARG_RESOURCE },
                { "namespace", required_argument, NULL, ARG_NAMESPACE },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        optind = 0; /* the caller may have run getopt already */
        while ((c = getopt_long(argc, argv, "ho:", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        o->output = ctl_k8s_output_from_string(optarg);
                        if (o->output == CTL_K8S_OUTPUT_INVALID) {
                                fprintf(stderr, "etcd-backupctl %s: invalid -o '%s': expected simple, json, yaml "
                                        "or manifest\n", argv[0], optarg);
                                usage_hint(argv[0]);
                                return -EINVAL;
                        }
                        break;
                case ARG_ENCRYPTION_CONFIG:
                        o->encryption_config = optarg;
                        break;
                case ARG_INSECURE_KEY_FILE:
                        o->insecure_key_file = true;
                        break;
                case ARG_RESOURCE:
                        o->resource = optarg;
                        break;
                case ARG_NAMESPACE:
                        o->namespace = optarg;
                        break;
                case ARG_JSON:
                        o->json = true;
                        break;
                case ARG_PREFIX:
                        if (!allow_prefix) {
                                fprintf(stderr, "etcd-backupctl %s: unrecognized option '--prefix'\n",
                                        argv[0]);
                                usage_hint(argv[0]);
                                return -EINVAL;
                        }
                        o->prefix = true;
                        break;
                case ARG_IDENTITY:
                        if (o->n_identity_files >= IDENTITY_FILES_MAX) {
                                fprintf(stderr, "etcd-backupctl %s: --identity given more than %u times\n",
                                        argv[0], IDENTITY_FILES_MAX);
                                usage_hint(argv[0]);
                                return -EINVAL;
                        }
                        o->identity_files[o->n_identity_files++] = optarg;
                        break;
                case 'h':
                        o->help = true;
                        break;
                default:
                        usage_hint(argv[0]);
                        return -EINVAL;
                }
        return 0;
}

static void help(const char *synopsis, const char *what, const char *extra) {
        printf("Usage: etcd-backupctl [-c CONFIG] [--json] %s\n"
               "\n"
               "%s\n"
               "\n"
               "NAME is a backup in the storage directory of the configuration; FILE is any\n"
               "path (an argument with a '/' or a file in the current directory). No daemon\n"
               "is needed. A compressed backup, or an uncompressed one of another user, is\n"
               "copied (decompressed) into an unnamed temporary file in $TMPDIR (default\n"
               "/var/tmp), which needs room for the whole db.\n"
               "An encrypted backup (age) is opened with the identities of --identity FILE,\n"
               "else with encryption.identity_file of the configuration.\n"
               "\n"
               "Options:\n"
               "%s"
               "      --identity FILE\n"
               "                 age identity file (AGE-SECRET-KEY-1... lines) for an\n"
               "                 encrypted backup; may be repeated\n"
               "      --insecure-key-file\n"
               "                 read a key file (--identity, encryption.identity_file,\n"
               "                 --encryption-config) even when group or others may\n"
               "      --json     machine-readable output\n"
               "  -h, --help     show this help\n",
               synopsis, what, extra);
}

/* Load the configuration into *config unless it is there already; why
 * (with arg) says what it is needed for. Returns 0, or the exit code. */
static int need_config(const char *cmd, const char *config_path, const char *why, const char *arg,
                       Config **config) {
        _cleanup_(config_diags_done) ConfigDiags diags = {};
        int r;

        if (*config)
                return 0;
        r = config_load(config_path, config, &diags);
        if (r < 0) {
                if (r == -ENOMEM) {
                        fprintf(stderr, "etcd-backupctl %s: out of memory\n", cmd);
                        return EXIT_FAILURE;
                }
                config_diags_print(&diags, stderr);
                fprintf(stderr, "etcd-backupctl %s: %s %s: configuration %s is not valid\n", cmd, why,
                        arg, config_path);
                return EXIT_CONFIG;
        }
        return 0;
}

/* The backup a command reads: its path (for messages), and for a NAME in
 * the storage directory the descriptors open_confined() opened there, which
 * the command reads instead of the names (-EBADF: read by path). */
typedef struct Source {
        char *path;
        int fd;
        int sidecar_fd;         /* with fd: the sidecar, -EBADF when there is none */
        char *sidecar_refused;  /* with fd: why the sidecar was not opened (verify reports it), or NULL */
} Source;

static void source_done(Source *s) {
        s->path = mfree(s->path);
        s->sidecar_refused = mfree(s->sidecar_refused);
        s->fd = safe_close(s->fd);
        s->sidecar_fd = safe_close(s->sidecar_fd);
}

/* Open NAME and NAME.json in the storage directory dir as root must open
 * what the daemon's user may have put there (open_confined()): a symbolic
 * link, a FIFO, another user's file or a hard link from elsewhere is
 * refused, and nothing there is read by name afterwards. A sidecar that is
 * refused is not an error here: only verify reads it, and reports why.
 * Returns 0, or the exit code. */
static int source_open_confined(const char *cmd, const char *dir, const char *name, Source *src) {
        _cleanup_close_ int dir_fd = -EBADF;
        _cleanup_free_ char *sidecar = NULL, *err = NULL;
        int r;

        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) {
                fprintf(stderr, "etcd-backupctl %s: cannot open the storage directory %s: %s\n", cmd, dir,
                        strerror(errno));
                return EXIT_FAILURE;
        }
        r = open_confined(dir_fd, dir, name, &src->fd, &err);
        if (r == -ENOENT) {
                fprintf(stderr, "etcd-backupctl %s: no backup %s in %s\n", cmd, name, dir);
                return EXIT_FAILURE;
        }
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl %s: %s\n", cmd, err ? err : strerror(-r));
                return EXIT_FAILURE;
        }
        if (asprintf(&sidecar, "%s" SIDECAR_SUFFIX, name) < 0) {
                fprintf(stderr, "etcd-backupctl %s: out of memory\n", cmd);
                return EXIT_FAILURE;
        }
        err = mfree(err);
        r = open_confined(dir_fd, dir, sidecar, &src->sidecar_fd, &err);
        if (r == -ENOMEM) {
                fprintf(stderr, "etcd-backupctl %s: out of memory\n", cmd);
                return EXIT_FAILURE;
        }
        if (r < 0 && r != -ENOENT)
                src->sidecar_refused = err ? TAKE_PTR(err) : strdup(strerror(-r));
        return 0;
}

/* Turn a NAME|FILE argument into the backup to read. Returns 0, or the
 * exit code. */
static int resolve_backup(const char *cmd, const char *arg, const char *config_path, Config **config,
                          Source *ret) {
        StoreName name;
        int r;

        if (strchr(arg, '/') || access(arg, F_OK) >= 0 || store_name_parse(arg, &name) < 0) {
                ret->path = strdup(arg);
        } else {
                r = need_config(cmd, config_path, "cannot look up backup", arg, config);
                if (r > 0)
                        return r;
                if (!(*config)->storage.directory) {
                        fprintf(stderr, "etcd-backupctl %s: %s: no storage directory configured\n",
                                cmd, config_path);
                        return EXIT_CONFIG;
                }
                ret->path = path_join((*config)->storage.directory, arg);
                if (ret->path) {
                        r = source_open_confined(cmd, (*config)->storage.directory, arg, ret);
                        if (r > 0)
                                return r;
                }
        }
        if (!ret->path) {
                fprintf(stderr, "etcd-backupctl %s: out of memory\n", cmd);
                return EXIT_FAILURE;
        }
        return 0;
}

/* Whether the backup starts like a binary age v1 file. One that cannot be
 * read is not: opening it says why. */
static bool backup_encrypted(const Source *src) {
        _cleanup_close_ int fd = -EBADF;
        uint8_t head[PEEK_BYTES];
        struct stat st;
        ssize_t n;

        if (src->fd >= 0) {
                n = pread(src->fd, head, sizeof head, 0);
                return n > 0 && age_detect(head, (size_t) n) > 0;
        }
        /* O_NONBLOCK: a FIFO given by mistake must not hang here. */
        fd = open(src->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        n = loop_read(fd, head, sizeof head);
        return n > 0 && age_detect(head, (size_t) n) > 0;
}

/* Append the identities of the age key file at file to k. Returns 0, or
 * the exit code. */
static int keys_add_file(const char *cmd, Keys *k, const char *file, const char *source, bool insecure) {
        _cleanup_free_ char *why = NULL;
        AgeIdentity *ids = NULL, *all;
        struct stat st;
        size_t n = 0;
        int r;

        /* It opens every backup, and the copies in the S3 store: as the
         * EncryptionConfiguration's keys, only for its owner. */
        if (!insecure && stat(file, &st) >= 0 && S_ISREG(st.st_mode) && (st.st_mode & path_secret_mode_bits(file))) {
                fprintf(stderr, "etcd-backupctl %s: %s holds age identities but group or others may access it "
                        "(mode %04o); chmod 600 it, or pass --insecure-key-file\n", cmd, source,
                        (unsigned) (st.st_mode & 07777));
                return EXIT_FAILURE;
        }
        r = age_identity_load_file(file, &ids, &n, &why);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl %s: cannot load the age identities of %s: %s\n", cmd, source,
                        why ? why : strerror(-r));
                return EXIT_FAILURE;
        }
        if (k->n == 0) {
                k->ids = ids;
                k->n = n;
                return 0;
        }
        all = n <= SIZE_MAX / sizeof *all - k->n ? calloc(k->n + n, sizeof *all) : NULL;
        if (!all) {
                age_identities_free(ids, n);
                fprintf(stderr, "etcd-backupctl %s: out of memory\n", cmd);
                return EXIT_FAILURE;
        }
        memcpy(all, k->ids, k->n * sizeof *all);
        memcpy(all + k->n, ids, n * sizeof *all);
        age_identities_free(ids, n);
        age_identities_free(k->ids, k->n);
        k->ids = all;
        k->n += n;
        return 0;
}

/* The identities for the backup at path when it is encrypted: from each
 * --identity FILE, else from encryption.identity_file of the configuration
 * (loaded now; a missing default configuration or an unset identity_file
 * leave k empty, and opening the backup then says an identity is needed).
 * Nothing is loaded for a backup that is not encrypted. Returns 0, or the
 * exit code. */
static int keys_load(const char *cmd, const Options *o, const Source *src, const char *config_path,
                     Config **config, Keys *k) {
        const char *file;
        int r;

        if (!backup_encrypted(src))
                return 0;
        for (size_t i = 0; i < o->n_identity_files; i++) {
                _cleanup_free_ char *source = NULL;
                char *all = NULL;

                if (asprintf(&source, "--identity %s", o->identity_files[i]) < 0)
                        source = NULL;
                r = keys_add_file(cmd, k, o->identity_files[i], source ?: o->identity_files[i],
                                  o->insecure_key_file);
                if (r > 0)
                        return r;
                /* "--identity A, --identity B" for the messages. */
                if (source && asprintf(&all, "%s%s%s", k->source ?: "", k->source ? ", " : "",
                                       source) >= 0) {
                        free(k->source);
                        k->source = all;
                }
        }
        if (o->n_identity_files > 0)
                return 0;

        /* Without -c and without the default file, there is nothing to ask. */
        if (!*config && streq(config_path, CONFIG_DEFAULT_PATH) && access(config_path, F_OK) < 0)
                return 0;
        r = need_config(cmd, config_path, "cannot find an age identity for", src->path, config);
        if (r > 0)
                return r;
        file = (*config)->encryption.identity_file;
        if (!file)
                return 0;
        if (asprintf(&k->source, "encryption.identity_file %s in %s", file, config_path) < 0)
                k->source = NULL;
        return keys_add_file(cmd, k, file, k->source ?: file, o->insecure_key_file);
}

/* Parse options, check the positional count, resolve the backup, load the
 * identities an encrypted one needs. Returns -1 to go on, or the exit
 * code. */
static int command_start(int argc, char **argv, bool json, const char *config_path, size_t n_args,
                         bool allow_prefix, const char *synopsis, const char *what,
                         const char *extra, Options *o, Source *ret_src, Keys *ret_keys) {
        _cleanup_(config_freep) Config *config = NULL;
        const char *cmd = argc > 0 ? argv[0] : "?";
        int r;

        if (!config_path)
                config_path = CONFIG_DEFAULT_PATH;
        *o = (Options) { .json = json };
        if (argc < 1 || parse_options(argc, argv, allow_prefix, o) < 0)
                return EXIT_USAGE;
        if (o->help) {
                help(synopsis, what, extra);
                return EXIT_SUCCESS;
        }
        if ((size_t) (argc - optind) != n_args) {
                fprintf(stderr, "etcd-backupctl %s: %s\n", cmd,
                        argc - optind < (int) n_args ? "missing argument" : "too many arguments");
                fprintf(stderr, "Usage: etcd-backupctl [-c CONFIG] [--json] %s\n", synopsis);
                return EXIT_USAGE;
        }
        r = resolve_backup(cmd, argv[optind], config_path, &config, ret_src);
        if (r > 0)
                return r;
        return keys_load(cmd, o, ret_src, config_path, &config, ret_keys) ?: -1;
}

static void keys_hint(const char *cmd, const Keys *k) {
        if (k->source)
                fprintf(stderr, "etcd-backupctl %s: the identities tried came from %s\n", cmd, k->source);
}

/* Open the backup with the identities in k, and wipe them. Returns 0, or
 * the exit code. */
static int open_backup(const char *cmd, const Source *src, Keys *k, InspectBackup **ret) {
        char reason[INSPECT_REASON_MAX] = "";
        int r;

        r = inspect_backup_open_fd(src->fd, src->path, NULL, k->ids, k->n, 0, ret, reason, sizeof reason);
        keys_wipe(k);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl %s: %s\n", cmd, reason[0] ? reason : strerror(-r));
                if (r == -EACCES)
                        keys_hint(cmd, k);
                return EXIT_FAILURE;
        }
        return 0;
}

/* path, as given (it may hold anything: a name someone else chose), in buf, unable to act on a terminal. */
static const char *shown_path(char buf[static PATH_MAX], const char *path) {
        (void) snprintf(buf, PATH_MAX, "%s", path);
        (void) str_make_terminal_safe(buf);
        return buf;
}

static int damaged(const char *cmd, InspectBackup *b, int r) {
        if (r == -EBADMSG)
                fprintf(stderr, "etcd-backupctl %s: database structure damaged: %s\n", cmd,
                        bbolt_last_error(b->db));
        else {
                char path[PATH_MAX];
                fprintf(stderr, "etcd-backupctl %s: cannot read %s: %s\n", cmd, shown_path(path, b->path),
                        strerror(-r));
        }
        return EXIT_FAILURE;
}

static int flush_stdout(const char *cmd) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "etcd-backupctl %s: cannot write output: %s\n", cmd, strerror(errno));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

/* ---- verify ---------------------------------------------------------------------- */

int ctl_verify_main(int argc, char **argv, bool json, const char *config_path) {
        _cleanup_(inspect_report_done) InspectReport rep = {};
        _cleanup_(keys_done) Keys identities = {};
        _cleanup_(source_done) Source src = { .fd = -EBADF, .sidecar_fd = -EBADF };
        bool decrypt_denied = false;
        size_t failed = 0;
        char shown[PATH_MAX];
        Options o;
        int r;

        r = command_start(argc, argv, json, config_path, 1, false, "verify NAME|FILE",
                          "Check a backup end to end: decryption (age) when it is encrypted,\n"
                          "decompression, the SHA-256 trailer etcd wrote, the database structure,\n"
                          "and the sidecar (FILE.json) when there is one: file_size, file_sha256,\n"
                          "db_size, db_sha256 and revision. One line per check; exit status 1 if\n"
                          "any failed.",
                          "", &o, &src, &identities);
        if (r >= 0)
                return r;

        r = inspect_verify_fd(src.fd, src.sidecar_fd, src.sidecar_refused, src.path, identities.ids, identities.n,
                              &rep);
        keys_wipe(&identities);
        (void) shown_path(shown, src.path);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl verify: %s: %s\n", shown, strerror(-r));
                return EXIT_FAILURE;
        }
        for (size_t i = 0; i < rep.n_checks; i++) {
                failed += !rep.checks[i].ok;
                if (!rep.checks[i].ok && streq(rep.checks[i].name, "decrypt") &&
                    startswith(rep.checks[i].detail, "no age identity matches"))
                        decrypt_denied = true;
        }

        if (o.json) {
                struct json_object *out = json_object_new_object(), *checks = json_object_new_array();

                for (size_t i = 0; checks && i < rep.n_checks; i++) {
                        struct json_object *c = json_object_new_object();
                        if (json_add(&c, "name", json_utf8(rep.checks[i].name)) &&
                            json_add(&c, "ok", json_object_new_boolean(rep.checks[i].ok)) &&
                            json_add(&c, "detail", json_utf8(rep.checks[i].detail)))
                                json_append(&checks, c);
                        else {
                                json_object_put(checks);
                                checks = NULL;
                        }
                }
                if (json_add(&out, "file", json_utf8(rep.path)) &&
                    json_add(&out, "ok", json_object_new_boolean(rep.ok)))
                        json_add(&out, "checks", checks);
                else
                        json_object_put(checks);
                r = print_and_put("verify", out);
                if (r > 0)
                        return r;
        } else
                for (size_t i = 0; i < rep.n_checks; i++) {
                        (void) str_make_terminal_safe(rep.checks[i].detail);    /* the file's name among them */
                        printf("%-4s %s%s%s\n", rep.checks[i].ok ? "ok" : "FAIL", rep.checks[i].name,
                               rep.checks[i].detail[0] ? ": " : "", rep.checks[i].detail);
                }

        r = flush_stdout("verify");
        if (decrypt_denied)
                keys_hint("verify", &identities);
        if (!rep.ok) {
                fprintf(stderr, "etcd-backupctl verify: %s: %zu of %zu checks failed\n", shown,
                        failed, rep.n_checks);
                return EXIT_FAILURE;
        }
        return r;
}

/* ---- inspect --------------------------------------------------------------------- */

/* go-humanize's Bytes(), which etcdctl's table uses: "475 kB", "2.1 MB". */
static char *humanize_bytes(char *buf, size_t n, uint64_t s) {
        static const char *const sizes[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB" };
        unsigned e = 0;
        double div = 1, val;

        if (s < 10) {
                snprintf(buf, n, "%" PRIu64 " B", s);
                return buf;
        }
        for (uint64_t v = s; v >= 1000 && e + 1 < ELEMENTSOF(sizes); v /= 1000) {
                e++;
                div *= 1000;
        }
        val = (double) (uint64_t) ((double) s / div * 10 + 0.5) / 10;
        snprintf(buf, n, val < 10 ? "%.1f %s" : "%.0f %s", val, sizes[e]);
        return buf;
}

/* One row of cells under a header, framed like etcdctl's `-w table`:
 * headers centred, cells right-aligned. */
static void print_table(const char *const *header, const char *const *cells, size_t n) {
        size_t width[8];

        n = MIN(n, ELEMENTSOF(width));
        for (size_t i = 0; i < n; i++)
                width[i] = MAX(strlen(header[i]), strlen(cells[i]));
        for (int line = 0; line < 5; line++) {
                for (size_t i = 0; i < n; i++) {
                        size_t len, left;

                        switch (line) {
                        case 0:
                        case 2:
                        case 4:
                                putchar('+');
                                for (size_t k = 0; k < width[i] + 2; k++)
                                        putchar('-');
                                break;
                        case 1:
                                len = strlen(header[i]);
                                left = (width[i] - len) / 2;
                                printf("| %*s%s%*s ", (int) left, "", header[i],
                                       (int) (width[i] - len - left), "");
                                break;
                        default:
                                printf("| %*s ", (int) width[i], cells[i]);
                                break;
                        }
                }
                puts(line % 2 == 0 ? "+" : "|");
        }
}

int ctl_inspect_main(int argc, char **argv, bool json, const char *config_path) {
        _cleanup_(inspect_backup_freep) InspectBackup *b = NULL;
        _cleanup_(keys_done) Keys identities = {};
        _cleanup_(source_done) Source src = { .fd = -EBADF, .sidecar_fd = -EBADF };
        MvccStatus st;
        Options o;
        int r;

        r = command_start(argc, argv, json, config_path, 1, false, "inspect NAME|FILE",
                          "Print the four figures of `etcdctl snapshot status` for a backup: hash,\n"
                          "revision, total keys and total size. --json prints the object\n"
                          "`etcdctl snapshot status -w json` prints.",
                          "", &o, &src, &identities);
        if (r >= 0)
                return r;
        r = open_backup("inspect", &src, &identities, &b);
        if (r > 0)
                return r;
        r = mvcc_status(b->db, &st);
        if (r < 0)
                return damaged("inspect", b, r);

        if (o.json) {
                struct json_object *out = json_object_new_object();

                if (json_add(&out, "hash", json_object_new_int64(st.hash)) &&
                    json_add(&out, "revision", json_object_new_int64(st.revision)) &&
                    json_add(&out, "totalKey", json_object_new_uint64(st.total_key)))
                        json_add(&out, "totalSize", json_object_new_uint64(st.total_size));
                r = print_and_put("inspect", out);
                if (r > 0)
                        return r;
        } else {
                static const char *const header[] = { "HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE" };
                char hash[16], rev[24], keys[24], size[32];
                const char *const cells[] = { hash, rev, keys, size };

                snprintf(hash, sizeof hash, "%" PRIx32, st.hash);
                snprintf(rev, sizeof rev, "%" PRId64, st.revision);
                snprintf(keys, sizeof keys, "%" PRIu64, st.total_key);
                humanize_bytes(size, sizeof size, st.total_size);
                print_table(header, cells, ELEMENTSOF(header));
        }
        return flush_stdout("inspect");
}

/* ---- get ------------------------------------------------------------------------- */

int ctl_get_main(int argc, char **argv, bool json, const char *config_path) {
        _cleanup_(encryption_config_freep) EncryptionConfig *enc = NULL;
        _cleanup_(inspect_backup_freep) InspectBackup *b = NULL;
        _cleanup_free_ MvccKv *kvs = NULL;
        _cleanup_(keys_done) Keys identities = {};
        _cleanup_(source_done) Source src = { .fd = -EBADF, .sidecar_fd = -EBADF };
        int64_t revision = 0;
        const char *key;
        size_t n = 0;
        Options o;
        int r;

        r = command_start(argc, argv, json, config_path, 2, true,
                          "get NAME|FILE KEY [--prefix] [-o simple|json|yaml|manifest] [--encryption-config FILE]",
                          "Print keys as etcd stored them at the backup's revision, like `etcdctl get`:\n"
                          "each key on a line, then its value as stored (binary-safe). Nothing is\n"
                          "printed for a key that does not exist or was deleted. --json prints\n"
                          "etcdctl's shape: kvs with base64 key and value, and count.\n"
                          "-o json|yaml decodes each value as a Kubernetes object (kube-apiserver's\n"
                          "protobuf or JSON), decrypted with --encryption-config when it is\n"
                          "k8s:enc:...; -o manifest is YAML without what the cluster owns, for\n"
                          "`kubectl apply -f -`.",
                          "      --prefix   every key that starts with KEY\n"
                          "  -o, --output FORMAT\n"
                          "                 simple (as stored, the default), json, yaml, manifest\n"
                          "      --encryption-config FILE\n"
                          "                 kube-apiserver's EncryptionConfiguration, to decrypt\n",
                          &o, &src, &identities);
        if (r >= 0)
                return r;
        key = argv[optind + 1];
        if (o.output != CTL_K8S_OUTPUT_SIMPLE && o.json) {
                fprintf(stderr, "etcd-backupctl get: --json and -o cannot be used together\n");
                return EXIT_USAGE;
        }
        if (o.encryption_config) {
                r = ctl_k8s_load_encryption_config("get", o.encryption_config, o.insecure_key_file, &enc);
                if (r > 0)
                        return r;
        }
        r = open_backup("get", &src, &identities, &b);
        if (r > 0)
                return r;
        r = mvcc_kv_get(b->db, key, strlen(key), o.prefix, &kvs, &n);
        if (r >= 0)
                r = inspect_revision(b, &revision);
        if (r < 0)
                return damaged("get", b, r);

        if (o.output != CTL_K8S_OUTPUT_SIMPLE)
                return ctl_k8s_print("get", kvs, n, o.prefix, o.output, enc);
        if (o.json) {
                struct json_object *out = json_object_new_object(), *header = json_object_new_object(),
                                   *list = json_object_new_array();

                for (size_t i = 0; list && i < n; i++) {
                        struct json_object *kv = json_object_new_object();
                        if (json_add(&kv, "key", json_base64(kvs[i].key, kvs[i].key_size)) &&
                            json_add(&kv, "create_revision", json_object_new_int64(kvs[i].create_revision)) &&
                            json_add(&kv, "mod_revision", json_object_new_int64(kvs[i].mod_revision)) &&
                            json_add(&kv, "version", json_object_new_int64(kvs[i].version)) &&
                            json_add(&kv, "value", json_base64(kvs[i].value, kvs[i].value_size)) &&
                            (kvs[i].lease == 0 || json_add(&kv, "lease", json_object_new_int64(kvs[i].lease))))
                                json_append(&list, kv);
                        else {
                                json_object_put(list);
                                list = NULL;
                        }
                }
                json_add(&header, "revision", json_object_new_int64(revision));
                if (!json_add(&out, "header", header))
                        json_object_put(list);
                else if (json_add(&out, "kvs", list))
                        json_add(&out, "count", json_object_new_uint64(n));
                r = print_and_put("get", out);
                if (r > 0)
                        return r;
        } else
                for (size_t i = 0; i < n; i++) {
                        fwrite(kvs[i].key, 1, kvs[i].key_size, stdout);
                        putchar('\n');
                        fwrite(kvs[i].value, 1, kvs[i].value_size, stdout);
                        putchar('\n');
                }
        return flush_stdout("get");
}

/* ---- audit ----------------------------------------------------------------------- */

/* The audit's table: Secrets by how they are stored, and the warnings
 * about them. */
static void print_audit_table(const SecretsAudit *a) {
        size_t width = strlen("TOTAL");

        for (size_t i = 0; i < a->n_entries; i++)
                width = MAX(width, strlen(a->entries[i].label));
        width = MAX(width, strlen("STORED AS"));
        printf("%-*s  %10s\n", (int) width, "STORED AS", "SECRETS");
        for (size_t i = 0; i < a->n_entries; i++)
                printf("%-*s  %10" PRIu64 "\n", (int) width, a->entries[i].label, a->entries[i].count);
        printf("%-*s  %10" PRIu64 "\n", (int) width, "TOTAL", a->secrets);
        if (a->plaintext > 0)
                printf("WARNING: %" PRIu64 " Secret%s %s stored in plaintext: anyone with this backup "
                       "can read %s\n", a->plaintext, a->plaintext == 1 ? "" : "s",
                       a->plaintext == 1 ? "is" : "are", a->plaintext == 1 ? "it" : "them");
        if (a->unknown > 0)
                printf("NOTE: %" PRIu64 " Secret%s %s stored in a form not recognised (neither "
                       "k8s:enc:… nor protobuf or JSON)\n", a->unknown, a->unknown == 1 ? "" : "s",
                       a->unknown == 1 ? "is" : "are");
}

int ctl_audit_main(int argc, char **argv, bool json, const char *config_path) {
        _cleanup_(encryption_config_freep) EncryptionConfig *enc = NULL;
        _cleanup_free_ MvccKv *secrets = NULL;
        size_t n_secrets = 0;
        _cleanup_(inspect_backup_freep) InspectBackup *b = NULL;
        _cleanup_(secrets_audit_done) SecretsAudit a = {};
        _cleanup_(keys_done) Keys identities = {};
        _cleanup_(source_done) Source src = { .fd = -EBADF, .sidecar_fd = -EBADF };
        Options o;
        int r;

        r = command_start(argc, argv, json, config_path, 1, false, "audit NAME|FILE [--encryption-config FILE]",
                          "Report how the Kubernetes Secrets in a backup (" SECRETS_PREFIX "…,\n"
                          "latest revision, not deleted) are stored: a count per encryption provider\n"
                          "and key name (\"aescbc:key1\") and of those in plaintext, with a warning\n"
                          "when there are any. With --encryption-config, also whether that\n"
                          "EncryptionConfiguration decrypts each Secret, with warnings for identity\n"
                          "first, unused keys and Secrets whose key it no longer has. Exit status 0\n"
                          "either way: it is a report.",
                          "      --encryption-config FILE\n"
                          "                 kube-apiserver's EncryptionConfiguration\n", &o, &src, &identities);
        if (r >= 0)
                return r;
        if (o.encryption_config) {
                r = ctl_k8s_load_encryption_config("audit", o.encryption_config, o.insecure_key_file, &enc);
                if (r > 0)
                        return r;
        }
        r = open_backup("audit", &src, &identities, &b);
        if (r > 0)
                return r;
        r = secrets_audit(b->db, &a);
        if (r >= 0 && enc)
                r = mvcc_kv_get(b->db, SECRETS_PREFIX, strlen(SECRETS_PREFIX), true, &secrets, &n_secrets);
        if (r < 0)
                return damaged("audit", b, r);

        if (o.json) {
                struct json_object *out = json_object_new_object(), *by = json_object_new_object();

                /* Labels are [A-Za-z0-9._:?-] only (secrets_classify()): valid keys as they are. */
                for (size_t i = 0; by && i < a.n_entries; i++)
                        json_add(&by, a.entries[i].label, json_object_new_uint64(a.entries[i].count));
                if (!json_add(&out, "secrets", json_object_new_uint64(a.secrets)))
                        json_object_put(by);
                else if (json_add(&out, "by_provider", by) &&
                    json_add(&out, "plaintext", json_object_new_uint64(a.plaintext)))
                        json_add(&out, "unknown", json_object_new_uint64(a.unknown));
                if (enc && out && ctl_k8s_audit_encryption(secrets, n_secrets, enc, o.encryption_config, out) < 0) {
                        json_object_put(out);
                        out = NULL;
                }
                r = print_and_put("audit", out);
                if (r > 0)
                        return r;
                return flush_stdout("audit");
        }

        if (a.secrets == 0)
                printf("No Secrets in this backup (nothing under " SECRETS_PREFIX ").\n");
        else
                print_audit_table(&a);
        /* The configuration's own warnings hold with no Secret too. */
        if (enc && ctl_k8s_audit_encryption(secrets, n_secrets, enc, o.encryption_config, NULL) == -ENOMEM) {
                fprintf(stderr, "etcd-backupctl audit: out of memory\n");
                return EXIT_FAILURE;
        }
        return flush_stdout("audit");
}

/* ---- objects --------------------------------------------------------------------- */

int ctl_objects_main(int argc, char **argv, bool json, const char *config_path) {
        _cleanup_(inspect_backup_freep) InspectBackup *b = NULL;
        _cleanup_(keys_done) Keys identities = {};
        _cleanup_free_ MvccKv *kvs = NULL;
        _cleanup_(source_done) Source src = { .fd = -EBADF, .sidecar_fd = -EBADF };
        size_t n = 0;
        Options o;
        int r;

        r = command_start(argc, argv, json, config_path, 1, false,
                          "objects NAME|FILE [--resource R] [--namespace NS]",
                          "List the Kubernetes objects in a backup (keys under /registry/): resource,\n"
                          "namespace, name, mod revision, encoding and encryption provider:key, then\n"
                          "the count per resource.",
                          "      --resource R\n"
                          "                 only this resource (secrets, widgets.example.com)\n"
                          "      --namespace NS\n"
                          "                 only this namespace\n", &o, &src, &identities);
        if (r >= 0)
                return r;
        r = open_backup("objects", &src, &identities, &b);
        if (r > 0)
                return r;
        r = mvcc_kv_get(b->db, "/registry/", strlen("/registry/"), true, &kvs, &n);
        if (r < 0)
                return damaged("objects", b, r);
        return ctl_k8s_objects("objects", kvs, n, o.resource, o.namespace, o.json);
}
