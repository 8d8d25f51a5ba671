/* SPDX-License-Identifier: MIT */
/*
 * test-procnet.c — /proc/net/tcp{,6} lines as the kernel prints them
 * (listening and connected sockets, the header, damaged lines), and the
 * proof checks on this very process: the listener of a port it listens on
 * is itself, a file it holds open is found by device and inode, one it has
 * closed is not.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "format/procnet.h"
#include "restore/proof.h"

static int parse(const char *line, ProcNetTcp *t) {
        return procnet_tcp_parse_line(line, strlen(line), t);
}

static void test_lines(void) {
        ProcNetTcp t;
        char buf[INET6_ADDRSTRLEN];

        check_int_eq(parse("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
                           "timeout inode", &t), -EBADMSG);
        check_int_eq(parse("   1: 0100007F:0947 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
                           "0 155885 1 000000008e62ae15 100 0 0 10 0", &t), 0);
        check_int_eq(t.family, AF_INET);
        check_str_eq(inet_ntop(AF_INET, &t.local.in, buf, sizeof buf), "127.0.0.1");
        check_int_eq(t.local_port, 2375);
        check_int_eq(t.state, PROCNET_TCP_LISTEN);
        check_u64_eq(t.inode, 155885);
        /* 127.0.0.3:2380 connected (01), no newline needed, trailing newline accepted */
        check_int_eq(parse("  12: 0300007F:094C 0100007F:D2F0 01 00000000:00000000 02:000A7C4B 00000000     0        "
                           "0 4242 2 0000000000000000 20 4 30 10 -1\n", &t), 0);
        check_str_eq(inet_ntop(AF_INET, &t.local.in, buf, sizeof buf), "127.0.0.3");
        check_int_eq(t.local_port, 2380);
        check_int_eq(t.state, 1);
        check_u64_eq(t.inode, 4242);
        /* tcp6: ::1 port 2379, and :: (any) */
        check_int_eq(parse("   0: 00000000000000000000000001000000:094B 00000000000000000000000000000000:0000 0A "
                           "00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0",
                           &t), 0);
        check_int_eq(t.family, AF_INET6);
        check_str_eq(inet_ntop(AF_INET6, &t.local.in6, buf, sizeof buf), "::1");
        check_int_eq(t.local_port, 2379);
        check_u64_eq(t.inode, 77);
        /* damaged */
        check_int_eq(parse("", &t), -EBADMSG);
        check_int_eq(parse("   1: 0100007F:0947", &t), -EBADMSG);
        check_int_eq(parse("   1: 0100007:0947 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1", &t),
                     -EBADMSG);
        check_int_eq(parse("   1: 0100007F:0947 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x1 1", &t),
                     -EBADMSG);
        check_int_eq(parse("   1: 0100007F:0947 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 "
                           "99999999999999999999999 1", &t), -EBADMSG);
        check_int_eq(parse("   1: 0100007F:94 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1", &t),
                     -EBADMSG);
}

static void test_url_port(void) {
        uint16_t port;

        check_int_eq(proof_url_port("https://127.0.0.1:2379", &port), 0);
        check_int_eq(port, 2379);
        check_int_eq(proof_url_port("https://[::1]:32379/", &port), 0);
        check_int_eq(port, 32379);
        check_int_eq(proof_url_port("https://node", &port), 0);
        check_int_eq(port, 2379);
        check_int_eq(proof_url_port("https://[::1]", &port), 0);
        check_int_eq(port, 2379);
        check_int_eq(proof_url_port("127.0.0.1:2379", &port), -EINVAL);
        check_int_eq(proof_url_port("https://h:0", &port), -EINVAL);
        check_int_eq(proof_url_port("https://h:65536", &port), -EINVAL);
        check_int_eq(proof_url_port("https://h:", &port), -EINVAL);
        check_int_eq(proof_url_port("https://[::1:2379", &port), -EINVAL);
}

static ssize_t listeners(uint16_t port, pid_t pids[4]) {
        return proof_listener_pids(port, pids, 4);
}

/* Two processes on one port, on two loopback addresses (as members of a
 * cluster on one host): both are found. */
static void test_proof_two_listeners(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ready[2], done[2], status = 0;
        pid_t pids[4] = {}, child;
        char c;

        check(s >= 0 && pipe(ready) == 0 && pipe(done) == 0);
        check(bind(s, (struct sockaddr *) &a, sizeof a) == 0 && listen(s, 1) == 0);
        check(getsockname(s, (struct sockaddr *) &a, &len) == 0);
        child = fork();
        check(child >= 0);
        if (child == 0) {
                struct sockaddr_in b = a;
                int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

                close(s);
                b.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1);
                if (t < 0 || bind(t, (struct sockaddr *) &b, sizeof b) < 0 || listen(t, 1) < 0 ||
                    write(ready[1], "x", 1) != 1)
                        _exit(1);
                (void) !read(done[0], &c, 1);   /* until the parent has looked */
                _exit(0);
        }
        check(read(ready[0], &c, 1) == 1);
        check_int_eq(listeners(ntohs(a.sin_port), pids), 2);
        check((pids[0] == getpid() && pids[1] == child) || (pids[0] == child && pids[1] == getpid()));
        check(write(done[1], "x", 1) == 1);
        check(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(ready[0]);
        close(ready[1]);
        close(done[0]);
        close(done[1]);
        close(s);
}

static void test_proof_on_self(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        char path[] = "/tmp/test-procnet.XXXXXX";
        struct stat st;
        pid_t pids[4] = {};
        int s, fd;

        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        check(s >= 0);
        check(bind(s, (struct sockaddr *) &a, sizeof a) == 0);
        check(getsockname(s, (struct sockaddr *) &a, &len) == 0);
        /* bound, not listening: nobody listens there */
        check_int_eq(listeners(ntohs(a.sin_port), pids), 0);
        check(listen(s, 1) == 0);
        check_int_eq(listeners(ntohs(a.sin_port), pids), 1);
        check_int_eq(pids[0], getpid());
        close(s);
        check_int_eq(listeners(ntohs(a.sin_port), pids), 0);

        fd = mkstemp(path);
        check(fd >= 0);
        check(fstat(fd, &st) == 0);
        check_int_eq(proof_holds_file(getpid(), st.st_dev, st.st_ino), 1);
        close(fd);
        check_int_eq(proof_holds_file(getpid(), st.st_dev, st.st_ino), 0);
        unlink(path);
        check_int_eq(proof_holds_file(INT32_MAX, st.st_dev, st.st_ino), -ESRCH);
}

int main(void) {
        TEST_RUN(test_lines);
        TEST_RUN(test_url_port);
        TEST_RUN(test_proof_on_self);
        TEST_RUN(test_proof_two_listeners);
        return 0;
}
