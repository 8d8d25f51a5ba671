/* SPDX-License-Identifier: MIT */
/*
 * test-config.c — config/config: the defaults, a full file read into every
 * field, and the diagnostics (FILE:LINE, errors versus warnings) for the
 * mistakes an operator makes.
 */

#include <errno.h>
#include <stdlib.h>

#include "config/config.h"
#include "test.h"
#include "util/macro.h"
#include "util/str.h"

#define RECIPIENT "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

/* Loads text; returns its result, the config in *ret (may be NULL) and the
 * diagnostics printed one per line into *ret_diags (caller frees). */
static int load(const char *text, Config **ret, char **ret_diags) {
        ConfigDiags diags = {};
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        int r;

        check(f);
        *ret = NULL;
        r = config_load_string(text, "test.conf", ret, &diags);
        config_diags_print(&diags, f);
        fclose(f);
        config_diags_done(&diags);
        *ret_diags = buf;
        return r;
}

/* text must fail to load with a diagnostic containing want. */
static void check_error(const char *text, const char *want) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *diags = NULL;
        int r = load(text, &c, &diags);

        if (r != -EINVAL || c || !strstr(diags, want)) {
                fprintf(stderr, "config:\n%s\nwanted -EINVAL and \"%s\", got %d and:\n%s", text, want, r, diags);
                check(false);
        }
}

static void test_defaults(void) {
        _cleanup_(config_freep) Config *c = config_new_default();

        check(c);
        check_str_eq(c->storage.directory, "/var/lib/etcd-backupd");
        check_int_eq(c->storage.compression, CODEC_GZIP);
        check_u64_eq(c->storage.min_free_bytes, UINT64_C(1) << 30);
        check_int_eq(c->retention.keep_last, 7);
        check_int_eq(c->retention.keep_daily, 7);
        check_int_eq(c->retention.keep_weekly, 4);
        check_int_eq(c->retention.keep_monthly, 6);
        check_int_eq(c->retention.keep_yearly, 0);
        check(!c->upload.enabled);
        check(!c->encryption.enabled);
        check_str_eq(c->control.group, "etcd-backup-ctl");
        check_u64_eq(c->control.backup_min_interval_usec, 5 * USEC_PER_MINUTE);
}

static void test_full(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *diags = NULL;
        const char *text =
                "etcd: { endpoints = [\"https://10.0.0.1:2379\", \"https://10.0.0.2:2379\"]; cacert = \"\";\n"
                "        connect_timeout = \"3s\"; timeout = \"1h30min\"; };\n"
                "schedule: { calendar = \"*-*-* 02:00:00\"; randomized_delay = \"5min\"; persistent = false;\n"
                "            retry = { attempts = 2; backoff = \"30s\"; }; };\n"
                "storage: { directory = \"/srv/backups\"; compression = \"zstd\"; level = 3; threads = 4;\n"
                "           min_free = \"512M\"; };\n"
                "restore: { manifests_dir = \"/srv/k8s/manifests//\"; data_dir = \"/\"; };\n"
                "retention: { keep_last = 1; keep_hourly = 2; keep_daily = 3; keep_weekly = 4; keep_monthly = 5;\n"
                "             keep_yearly = 6; };\n"
                "encryption: { recipients = [\"" RECIPIENT "\"]; };\n"
                "upload: { url = \"https://s3.example.com/bucket/node1\"; access_key_id = \"AKIAEXAMPLE\";\n"
                "          secret_access_key_file = \"/dev/null\"; part_size = \"16M\"; retention = false; };\n"
                "control: { group = \"ops\"; backup_min_interval = \"1h\"; };\n";

        check_int_eq(load(text, &c, &diags), 0);
        check(c);
        check_int_eq(strv_length(c->etcd.endpoints), 2);
        check_str_eq(c->etcd.endpoints[1], "https://10.0.0.2:2379");
        check_u64_eq(c->etcd.connect_timeout_usec, 3 * USEC_PER_SEC);
        check_u64_eq(c->etcd.timeout_usec, 90 * USEC_PER_MINUTE);
        check_str_eq(c->schedule.calendar, "*-*-* 02:00:00");
        check_u64_eq(c->schedule.randomized_delay_usec, 5 * USEC_PER_MINUTE);
        check(!c->schedule.persistent);
        check_int_eq(c->schedule.retry_attempts, 2);
        check_u64_eq(c->schedule.retry_backoff_usec, 30 * USEC_PER_SEC);
        check_str_eq(c->storage.directory, "/srv/backups");
        check_int_eq(c->storage.compression, CODEC_ZSTD);
        check_int_eq(c->storage.level, 3);
        check_int_eq(c->storage.threads, 4);
        check_u64_eq(c->storage.min_free_bytes, UINT64_C(512) << 20);
        check_str_eq(c->restore.manifests_dir, "/srv/k8s/manifests"); /* trailing slashes dropped */
        check_str_eq(c->restore.data_dir, "/");
        check_int_eq(c->retention.keep_last, 1);
        check_int_eq(c->retention.keep_hourly, 2);
        check_int_eq(c->retention.keep_daily, 3);
        check_int_eq(c->retention.keep_weekly, 4);
        check_int_eq(c->retention.keep_monthly, 5);
        check_int_eq(c->retention.keep_yearly, 6);
        check(c->encryption.enabled);
        check_str_eq(c->encryption.recipients[0], RECIPIENT);
        check(c->upload.enabled);
        check_str_eq(c->upload.url, "https://s3.example.com/bucket/node1/"); /* a slash appended */
        check_u64_eq(c->upload.part_size_bytes, UINT64_C(16) << 20);
        check(!c->upload.allow_insecure_http);
        check_str_eq(c->control.group, "ops");
        check_u64_eq(c->control.backup_min_interval_usec, USEC_PER_HOUR);
}

static void test_errors(void) {
        check_error("retention: { keep_dayly = 3; };\n", "test.conf:1: ");
        check_error("retention: { keep_dayly = 3; };\n", "keep_dayly");
        check_error("\n\nstorage: { compression = \"lzma\"; };\n", "test.conf:3: storage.compression");
        check_error("storage: { min_free = \"1X\"; };\n", "storage.min_free");
        check_error("etcd: { endpoints = [\"http://127.0.0.1:2379\"]; };\n", "expected an https:// URL");
        check_error("retention: { keep_yearly = -1; };\n", "retention.keep_yearly");
        check_error("schedule: { calendar = \"someday\"; };\n", "schedule.calendar");
        check_error("storage: { directory = \"relative\"; };\n", "storage.directory");
        check_error("etcd: {\n", "test.conf:");
        check_error("@include \"/etc/passwd\"\n", "@include is not supported");
        check_error("control: { backup_min_interval = \"2d\"; };\n", "control.backup_min_interval");
}

/* A number libconfig 1.5 cuts short (4294967297 would be 1) is refused as
 * the file writes it, also on the next line, after a comment, or too long
 * to show; 010 is ten, as libconfig reads it. */
static void test_numbers(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *diags = NULL;

        check_error("retention: { keep_last = 4294967297; };\n", "retention.keep_last: 4294967297 is out of range");
        check_error("retention: { keep_last =\n    4294967297; };\n", "4294967297 is out of range");
        check_error("retention: { keep_last = /* was 7 */ 4294967297; };\n", "4294967297 is out of range");
        check_error("retention: { keep_last = # seven\n 0x100000001; };\n", "0x100000001 is out of range");
        check_error("retention: { keep_last = 000000000000000000000000004294967297; };\n",
                    "a number of 32 or more digits is out of range");
        check_int_eq(load("storage: { level = 010; };\nretention: { keep_daily = 014; };\n", &c, &diags), 0);
        check_int_eq(c->storage.level, 10);
        check_int_eq(c->retention.keep_daily, 14);
}

/* Plain HTTP for the upload: refused, then refused without encryption,
 * then accepted with a warning. */
static void test_insecure_http(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *diags = NULL;
        const char *upload = "upload: { url = \"http://127.0.0.1:8080/b/\"; access_key_id = \"K\";\n"
                             "          secret_access_key_file = \"/dev/null\";";
        char text[1024];

        snprintf(text, sizeof text, "%s };\n", upload);
        check_error(text, "test.conf:1: upload.url: \"http://127.0.0.1:8080/b/\" is plain HTTP");
        snprintf(text, sizeof text, "%s allow_insecure_http = true; };\n", upload);
        check_error(text, "the backups are not encrypted; upload.allow_insecure_http needs an encryption group");
        snprintf(text, sizeof text, "%s allow_insecure_http = true; };\nencryption: { recipients = [\"%s\"]; };\n",
                 upload, RECIPIENT);
        check_int_eq(load(text, &c, &diags), 0);
        check(c && c->upload.allow_insecure_http);
        check(strstr(diags, "test.conf:1: warning: upload.url: \"http://127.0.0.1:8080/b/\" is plain HTTP"));
}

/* More recipients than an age header holds: refused when the file is read, not at every backup. */
static void test_too_many_recipients(void) {
        char text[8192];
        size_t at = 0;

        at += (size_t) snprintf(text + at, sizeof text - at, "encryption: { recipients = [");
        for (unsigned i = 0; i < 65; i++)
                at += (size_t) snprintf(text + at, sizeof text - at, "%s\"%s\"", i ? ", " : "", RECIPIENT);
        snprintf(text + at, sizeof text - at, "]; };\n");
        check_error(text, "encryption.recipients: 65 keys; an age file is made for 64 at most");
}

int main(void) {
        TEST_RUN(test_defaults);
        TEST_RUN(test_too_many_recipients);
        TEST_RUN(test_full);
        TEST_RUN(test_errors);
        TEST_RUN(test_numbers);
        TEST_RUN(test_insecure_http);
        return 0;
}
