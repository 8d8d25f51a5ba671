/* SPDX-License-Identifier: MIT */
/*
 * test-procnet.c — /proc/net/tcp{,6} lines as the kernel prints them
 * (listening and connected sockets, the header, damaged lines), and the
 * proof checks on this very process: the listener of a port it listens on
 * is itself (by the address a client connects to as well), a file it holds
 * open is found by device and inode, one it has closed is not, and the etcd
 * db it holds is found by its path, linked or not.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
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
        return proof_listener_pids(port, NULL, pids, 4);
}

static ssize_t listeners_for(const char *url, uint16_t port, pid_t pids[4]) {
        ProofAddress a;

        if (proof_url_address(url, &a) != 1)
                return -EINVAL;
        return proof_listener_pids(port, &a, pids, 4);
}

/* Whether one of this host's interfaces has address a (the test's own look, to tell "not local" from an address
 * this machine happens to have). */
static bool has_address(const ProofAddress *a) {
        struct ifaddrs *list = NULL;
        bool found = false;

        check(getifaddrs(&list) == 0);
        for (struct ifaddrs *i = list; i && !found; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != a->family)
                        continue;
                if (a->family == AF_INET)
                        found = ((struct sockaddr_in *) (void *) i->ifa_addr)->sin_addr.s_addr == a->in.s_addr;
                else
                        found = IN6_ARE_ADDR_EQUAL(&((struct sockaddr_in6 *) (void *) i->ifa_addr)->sin6_addr,
                                                   &a->in6);
        }
        freeifaddrs(list);
        return found;
}

static void test_url_address(void) {
        ProofAddress a;
        char buf[INET6_ADDRSTRLEN];

        check_int_eq(proof_url_address("https://127.0.0.2:2379", &a), 1);
        check_int_eq(a.family, AF_INET);
        check_str_eq(inet_ntop(AF_INET, &a.in, buf, sizeof buf), "127.0.0.2");
        check_int_eq(proof_url_address("https://10.0.0.5", &a), 1);
        check_str_eq(inet_ntop(AF_INET, &a.in, buf, sizeof buf), "10.0.0.5");
        check_int_eq(proof_url_address("https://[::1]:2379/", &a), 1);
        check_int_eq(a.family, AF_INET6);
        check_str_eq(inet_ntop(AF_INET6, &a.in6, buf, sizeof buf), "::1");
        check_int_eq(proof_url_address("https://[fe80::1]", &a), 1);
        check_str_eq(inet_ntop(AF_INET6, &a.in6, buf, sizeof buf), "fe80::1");
        /* a zone is no part of the address */
        check_int_eq(proof_url_address("https://[fe80::1%eth0]:2379", &a), 1);
        check_str_eq(inet_ntop(AF_INET6, &a.in6, buf, sizeof buf), "fe80::1");
        check_int_eq(proof_url_address("https://[fe80::2%25eth0]", &a), 1);
        check_str_eq(inet_ntop(AF_INET6, &a.in6, buf, sizeof buf), "fe80::2");
        check_int_eq(proof_url_address("https://[%eth0]", &a), 0);
        /* IPv4-mapped: the IPv4 address a connection goes to */
        check_int_eq(proof_url_address("https://[::ffff:127.0.0.7]:2379", &a), 1);
        check_int_eq(a.family, AF_INET);
        check_str_eq(inet_ntop(AF_INET, &a.in, buf, sizeof buf), "127.0.0.7");
        /* names, and what is no address */
        check_int_eq(proof_url_address("https://node1:2379", &a), 0);
        check_int_eq(proof_url_address("https://localhost", &a), 0);
        check_int_eq(proof_url_address("https://127.0.0.1.nip.io:2379", &a), 0);
        check_int_eq(proof_url_address("https://[127.0.0.1]:2379", &a), 0);
        check_int_eq(proof_url_address("https://::1:2379", &a), 0);
        check_int_eq(proof_url_address("https://:2379", &a), 0);
        check_int_eq(proof_url_address("https://[]:2379", &a), 0);
        check_int_eq(proof_url_address("https://[::1:2379", &a), -EINVAL);
        check_int_eq(proof_url_address("127.0.0.1:2379", &a), -EINVAL);

        /* this host's, or not */
        check_int_eq(proof_url_address("https://127.0.0.5", &a), 1);
        check(proof_address_is_local(&a));
        check_int_eq(proof_url_address("https://[::1]", &a), 1);
        check(proof_address_is_local(&a));
        check_int_eq(proof_url_address("https://203.0.113.254", &a), 1);      /* TEST-NET-3 */
        check(proof_address_is_local(&a) == has_address(&a));
        check_int_eq(proof_url_address("https://[2001:db8::1]", &a), 1);      /* documentation */
        check(proof_address_is_local(&a) == has_address(&a));
        /* every address of this host's interfaces is local */
        {
                struct ifaddrs *list = NULL;

                check(getifaddrs(&list) == 0);
                for (struct ifaddrs *i = list; i; i = i->ifa_next) {
                        ProofAddress x = {};

                        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
                                continue;
                        x.family = AF_INET;
                        x.in = ((struct sockaddr_in *) (void *) i->ifa_addr)->sin_addr;
                        check(proof_address_is_local(&x));
                }
                freeifaddrs(list);
        }
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
        /* by the address a client connects to: the one bound there */
        check_int_eq(listeners_for("https://127.0.0.1", ntohs(a.sin_port), pids), 1);
        check_int_eq(pids[0], getpid());
        check_int_eq(listeners_for("https://127.0.0.2:2379", ntohs(a.sin_port), pids), 1);
        check_int_eq(pids[0], child);
        check_int_eq(listeners_for("https://127.0.0.3", ntohs(a.sin_port), pids), 0);
        check_int_eq(listeners_for("https://[::1]", ntohs(a.sin_port), pids), 0);
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

/* Sockets on the any-addresses: "0.0.0.0" reaches every IPv4 address, "::" every address of both families
 * (IPV6_V6ONLY is not in /proc); "::ffff:127.0.0.4" that IPv4 address alone. */
static void test_proof_any_address(void) {
        struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
        struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
        socklen_t len = sizeof a4;
        pid_t pids[4] = {};
        uint16_t port;
        int s;

        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        check(s >= 0 && bind(s, (struct sockaddr *) &a4, sizeof a4) == 0 && listen(s, 1) == 0);
        check(getsockname(s, (struct sockaddr *) &a4, &len) == 0);
        port = ntohs(a4.sin_port);
        check_int_eq(listeners_for("https://127.0.0.9", port, pids), 1);
        check_int_eq(listeners_for("https://[::1]", port, pids), 0);
        close(s);

        /* IPV6_V6ONLY off, whatever net.ipv6.bindv6only says */
        s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return;         /* no IPv6 here */
        check(setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &(int) { 0 }, sizeof(int)) == 0);
        len = sizeof a6;
        check(bind(s, (struct sockaddr *) &a6, sizeof a6) == 0 && listen(s, 1) == 0);
        check(getsockname(s, (struct sockaddr *) &a6, &len) == 0);
        port = ntohs(a6.sin6_port);
        check_int_eq(listeners_for("https://127.0.0.9", port, pids), 1);
        check_int_eq(listeners_for("https://[::1]", port, pids), 1);
        close(s);

        s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        a6 = (struct sockaddr_in6) { .sin6_family = AF_INET6 };
        check(s >= 0 && inet_pton(AF_INET6, "::ffff:127.0.0.4", &a6.sin6_addr) == 1);
        check(setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &(int) { 0 }, sizeof(int)) == 0);
        len = sizeof a6;
        check(bind(s, (struct sockaddr *) &a6, sizeof a6) == 0 && listen(s, 1) == 0);
        check(getsockname(s, (struct sockaddr *) &a6, &len) == 0);
        port = ntohs(a6.sin6_port);
        check_int_eq(listeners_for("https://127.0.0.4", port, pids), 1);
        check_int_eq(listeners_for("https://[::ffff:127.0.0.4]", port, pids), 1);
        check_int_eq(listeners_for("https://127.0.0.5", port, pids), 0);
        check_int_eq(listeners_for("https://[::1]", port, pids), 0);
        close(s);
}

/* The db a process holds: found by its path's end, a linked one before one that is not, and its stat. */
static void test_proof_held_db(void) {
        char dir[] = "/tmp/test-procnet-db.XXXXXX", path[PATH_MAX], held[PATH_MAX], other[PATH_MAX];
        struct stat st, hst;
        int fd, ofd, nfd;

        check(mkdtemp(dir) != NULL);
        check_int_eq(proof_held_db(getpid(), held, sizeof held, &hst), 0);
        snprintf(path, sizeof path, "%s/member", dir);
        check(mkdir(path, 0700) == 0);
        snprintf(path, sizeof path, "%s/member/snap", dir);
        check(mkdir(path, 0700) == 0);
        snprintf(path, sizeof path, "%s/member/snap/db", dir);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        check(fd >= 0 && fstat(fd, &st) == 0);
        /* a file named otherwise is no db */
        snprintf(other, sizeof other, "%s/member/snap/db.tmp", dir);
        nfd = open(other, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        check(nfd >= 0);
        check_int_eq(proof_held_db(getpid(), held, sizeof held, &hst), 1);
        check_str_eq(held, path);
        check(hst.st_ino == st.st_ino && hst.st_nlink == 1);

        /* unlinked (a data dir wiped under etcd): found, " (deleted)" taken off, st_nlink 0 */
        check(unlink(path) == 0);
        check_int_eq(proof_held_db(getpid(), held, sizeof held, &hst), 1);
        check_str_eq(held, path);
        check(hst.st_ino == st.st_ino && hst.st_nlink == 0);

        /* one unlinked (the lower fd, listed first) and one linked: the linked one */
        ofd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        check(ofd >= 0);
        check_int_eq(proof_held_db(getpid(), held, sizeof held, &hst), 1);
        check(hst.st_ino != st.st_ino && hst.st_nlink == 1);
        check_str_eq(held, path);
        close(fd);
        close(ofd);
        close(nfd);
        check_int_eq(proof_held_db(getpid(), held, sizeof held, &hst), 0);
        check_int_eq(proof_held_db(INT32_MAX, held, sizeof held, &hst), -ESRCH);
        unlink(path);
        unlink(other);
        snprintf(path, sizeof path, "%s/member/snap", dir);
        rmdir(path);
        snprintf(path, sizeof path, "%s/member", dir);
        rmdir(path);
        rmdir(dir);
}

int main(void) {
        TEST_RUN(test_lines);
        TEST_RUN(test_url_port);
        TEST_RUN(test_url_address);
        TEST_RUN(test_proof_any_address);
        TEST_RUN(test_proof_held_db);
        TEST_RUN(test_proof_on_self);
        TEST_RUN(test_proof_two_listeners);
        return 0;
}
