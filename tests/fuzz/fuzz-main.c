/* SPDX-License-Identifier: MIT */
/*
 * fuzz-main.c — a replay driver for the libFuzzer targets when the build has
 * no libFuzzer (gcc builds): every file named on the command line, or every
 * file in a directory named there, is fed once to LLVMFuzzerTestOneInput.
 * This keeps each target's seed corpus running as an ordinary test.
 */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "util/io.h"
#include "util/macro.h"

#include "fuzz.h"

static int run_file(const char *path) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;
        int r;

        r = read_full_file(path, 64u << 20, &buf, &n);
        if (r < 0) {
                fprintf(stderr, "cannot read %s: %s\n", path, strerror(-r));
                return r;
        }
        LLVMFuzzerTestOneInput((const uint8_t *) buf, n);
        return 0;
}

int main(int argc, char **argv) {
        unsigned count = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "cannot stat %s: %m\n", argv[i]);
                        return 1;
                }
                if (S_ISDIR(st.st_mode)) {
                        DIR *d = opendir(argv[i]);
                        struct dirent *de;
                        if (!d)
                                return 1;
                        while ((de = readdir(d))) {
                                char path[4096];
                                if (de->d_name[0] == '.')
                                        continue;
                                snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
                                if (run_file(path) < 0) {
                                        closedir(d);
                                        return 1;
                                }
                                count++;
                        }
                        closedir(d);
                } else {
                        if (run_file(argv[i]) < 0)
                                return 1;
                        count++;
                }
        }
        printf("replayed %u inputs\n", count);
        return count > 0 ? 0 : 1;
}
