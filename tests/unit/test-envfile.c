/* SPDX-License-Identifier: MIT */
/*
 * test-envfile.c — EnvironmentFile= text as operators write it for etcd
 * and kube-apiserver units: comments, blanks, quotes, CRLF line ends, lines
 * that are no assignment, and text with a NUL byte.
 */

#include <errno.h>
#include <string.h>

#include "test.h"
#include "format/envfile.h"
#include "util/str.h"

static char **parse(const char *text, int want) {
        char **env = NULL;

        check_int_eq(env_file_parse(text, strlen(text), &env), want);
        return env;
}

static void test_assignments(void) {
        _cleanup_strv_free_ char **env = NULL;

        env = parse("# etcd for this node\n"
                    "ETCD_NAME=cp1\n"
                    "  ETCD_DATA_DIR = /var/lib/etcd  \n"
                    "; old style comment\n"
                    "\n"
                    "ETCD_INITIAL_CLUSTER=\"cp1=https://10.0.0.5:2380\"\r\n"
                    "ETCD_INITIAL_CLUSTER_TOKEN='tok en'\n"
                    "ETCD_LISTEN_CLIENT_URLS=\"unbalanced\n"
                    "=no key\n"
                    "no assignment\n"
                    "EMPTY=\n"
                    "LAST=no newline", 0);
        check_int_eq(strv_length(env), 7);
        check_str_eq(env[0], "ETCD_NAME=cp1");
        check_str_eq(env[1], "ETCD_DATA_DIR=/var/lib/etcd");
        check_str_eq(env[2], "ETCD_INITIAL_CLUSTER=cp1=https://10.0.0.5:2380");
        check_str_eq(env[3], "ETCD_INITIAL_CLUSTER_TOKEN=tok en");
        check_str_eq(env[4], "ETCD_LISTEN_CLIENT_URLS=\"unbalanced");
        check_str_eq(env[5], "EMPTY=");
        check_str_eq(env[6], "LAST=no newline");
}

static void test_appends(void) {
        _cleanup_strv_free_ char **env = NULL;

        check_int_eq(env_file_parse("A=1\n", 4, &env), 0);
        check_int_eq(env_file_parse("A=2\nB=3\n", 8, &env), 0);
        check_int_eq(strv_length(env), 3);
        check_str_eq(env[1], "A=2");
        check_int_eq(env_file_parse("", 0, &env), 0);
        check_int_eq(strv_length(env), 3);
}

static void test_nul(void) {
        char **env = NULL;

        check_int_eq(env_file_parse("A=1\0B=2\n", 8, &env), -EBADMSG);
        check(!env);
}

int main(void) {
        TEST_RUN(test_assignments);
        TEST_RUN(test_appends);
        TEST_RUN(test_nul);
        return 0;
}
