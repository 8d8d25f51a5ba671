/* SPDX-License-Identifier: MIT */
/*
 * notify-recv.c — test helper: binds an AF_UNIX datagram socket at PATH
 * (the NOTIFY_SOCKET a test gives the daemon) and prints each datagram it
 * receives on one line, newlines inside it shown as '|', flushing after
 * each, until SECONDS have passed.
 */

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char buf[8192];
        time_t end;
        int fd;

        if (argc != 3 || strlen(argv[1]) >= sizeof sa.sun_path) {
                fprintf(stderr, "usage: notify-recv PATH SECONDS\n");
                return 2;
        }
        end = time(NULL) + atoi(argv[2]);
        strcpy(sa.sun_path, argv[1]);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        unlink(argv[1]);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                perror("notify-recv: bind");
                return 1;
        }
        while (time(NULL) < end) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;
                if (poll(&p, 1, 200) <= 0)
                        continue;
                n = recv(fd, buf, sizeof buf - 1, 0);
                if (n <= 0)
                        continue;
                buf[n] = '\0';
                for (ssize_t i = 0; i < n; i++)
                        if (buf[i] == '\n')
                                buf[i] = '|';
                printf("%s\n", buf);
                fflush(stdout);
        }
        return 0;
}
