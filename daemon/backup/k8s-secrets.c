/* SPDX-License-Identifier: MIT */
/*
 * k8s-secrets.c — reads kube-apiserver's EncryptionConfiguration file (mode
 * check, locked memory, wiped text) and checks a snapshot's Secrets against
 * it. The keys of the snapshot come from format/mvcc-kv.c's revision walk;
 * the decisions from format/encryption-config.c.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "backup/k8s-secrets.h"
#include "format/mvcc-kv.h"
#include "format/secrets.h"
#include "util/io.h"
#include "util/macro.h"
#include "util/path.h"
#include "util/str.h"

int k8s_secrets_load_config(const char *path, bool insecure, EncryptionConfig **ret, char *error,
                            size_t error_size) {
        char err[ENCRYPTION_ERROR_MAX];
        _cleanup_close_ int fd = -EBADF;
        uint8_t *text;
        struct stat st;
        ssize_t k;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = -errno;
                snprintf(error, error_size, "cannot open %s: %s", path, strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                snprintf(error, error_size, "%s is not a regular file", path);
                return -EINVAL;
        }
        if ((st.st_mode & path_secret_mode_bits(path)) && !insecure) {
                snprintf(error, error_size, "%s holds encryption keys but group or others may access it "
                         "(mode %04o)", path, (unsigned) (st.st_mode & 07777));
                return -EPERM;
        }
        if ((uint64_t) st.st_size > ENCRYPTION_CONFIG_MAX_BYTES) {
                snprintf(error, error_size, "%s: %jd bytes is too large for an EncryptionConfiguration", path,
                         (intmax_t) st.st_size);
                return -EFBIG;
        }
        if (sodium_init() < 0)
                return -ENOMEM;
        /* The text holds the keys' base64: locked, not dumped, wiped. */
        text = sodium_malloc((size_t) st.st_size + 1);
        if (!text)
                return -ENOMEM;
        k = loop_read(fd, text, (size_t) st.st_size + 1);
        if (k < 0 || (size_t) k > (size_t) st.st_size) {
                sodium_free(text);
                snprintf(error, error_size, "cannot read %s: %s", path,
                         k < 0 ? strerror((int) -k) : "it grew while being read");
                return k < 0 ? (int) k : -EIO;
        }
        r = encryption_config_parse(text, (size_t) k, ret, err);
        sodium_free(text);
        if (r < 0) {
                snprintf(error, error_size, "%s: %s", path, r == -ENOMEM ? strerror(ENOMEM) : err);
                return r;
        }
        return 0;
}

void k8s_secrets_check_done(K8sSecretsCheck *k) {
        if (!k)
                return;
        strv_free(k->labels);
        *k = (K8sSecretsCheck) {};
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int k8s_secrets_check(Bbolt *db, const EncryptionConfig *c, K8sSecretsCheck *ret) {
        _cleanup_(k8s_secrets_check_done) K8sSecretsCheck out = {};
        _cleanup_free_ MvccKv *kvs = NULL;
        size_t n = 0;
        int r;

        r = mvcc_kv_get(db, SECRETS_PREFIX, strlen(SECRETS_PREFIX), true, &kvs, &n);
        if (r < 0)
                return r;
        out.secrets = n;
        for (size_t i = 0; i < n; i++) {
                char label[96];
                EncValue v;

                if (!encryption_config_lacks_key(c, "secrets", kvs[i].value, kvs[i].value_size))
                        continue;
                out.unreadable++;
                encryption_config_value_parse(c, kvs[i].value, kvs[i].value_size, &v);
                /* A plaintext one needs the identity provider. */
                if (!enc_value_label(&v, label, sizeof label))
                        snprintf(label, sizeof label, "identity");
                if (!strv_contains(out.labels, label) && strv_extend(&out.labels, label) < 0)
                        return -ENOMEM;
        }
        if (out.labels)
                qsort(out.labels, strv_length(out.labels), sizeof(char *), cmp_str);
        *ret = out;
        out = (K8sSecretsCheck) {};
        return 0;
}
