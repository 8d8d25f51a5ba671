/* SPDX-License-Identifier: MIT */
/*
 * test-upload.c — the pure parts of the S3 upload: RFC 3986 key encoding,
 * the canonical query string (sorted, encoded, "uploads="), the
 * ListObjectsV2 scanner on good, paged and hostile XML, error element
 * extraction, and upload_sync's refusals that need no server (no bucket in
 * the URL, an unreadable or empty secret file).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"
#include "backup/upload.h"
#include "format/s3-uri.h"
#include "format/s3-xml.h"
#include "util/macro.h"
#include "util/str.h"

static void test_uri_encode(void) {
        char *s = NULL;

        check(s3_uri_encode("etcd-0123-20261121T020003Z-r5.db.gz", true, &s) == 0);
        check_str_eq(s, "etcd-0123-20261121T020003Z-r5.db.gz");
        free(s);
        check(s3_uri_encode("a:b+c d/\xc3\xa9~._-%", true, &s) == 0);
        check_str_eq(s, "a%3Ab%2Bc%20d/%C3%A9~._-%25");
        free(s);
        check(s3_uri_encode("node1/x=y&z", false, &s) == 0);
        check_str_eq(s, "node1%2Fx%3Dy%26z");
        free(s);
        check(s3_uri_encode("", false, &s) == 0);
        check_str_eq(s, "");
        free(s);
}

static void test_query_build(void) {
        char *q = NULL;

        check(s3_query_build(
                      (const S3QueryParam[]) { { "prefix", "node1/" }, { "list-type", "2" },
                                                   { "continuation-token", "a+b=/c" } },
                      3, &q) == 0);
        check_str_eq(q, "continuation-token=a%2Bb%3D%2Fc&list-type=2&prefix=node1%2F");
        free(q);
        check(s3_query_build(&(S3QueryParam) { "uploads", "" }, 1, &q) == 0);
        check_str_eq(q, "uploads=");
        free(q);
        check(s3_query_build(&(S3QueryParam) { "uploads", NULL }, 1, &q) == 0);
        check_str_eq(q, "uploads=");
        free(q);
        check(s3_query_build((const S3QueryParam[]) { { "uploadId", "x y" }, { "partNumber", "10" } }, 2,
                                 &q) == 0);
        check_str_eq(q, "partNumber=10&uploadId=x%20y");
        free(q);
        /* Equal names sort by value. */
        check(s3_query_build((const S3QueryParam[]) { { "a", "2" }, { "a", "1" } }, 2, &q) == 0);
        check_str_eq(q, "a=1&a=2");
        free(q);
        check(s3_query_build(NULL, 0, &q) == 0);
        check_str_eq(q, "");
        free(q);
}

#define HEAD "<?xml version='1.0' encoding='UTF-8'?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"

static int parse(const char *xml, S3Listing *l) {
        return s3_list_parse(xml, strlen(xml), l);
}

static void test_list_parse(void) {
        S3Listing l = {};

        check(parse(HEAD "<Name>backups</Name><Prefix>node1/</Prefix><KeyCount>2</KeyCount>"
                         "<IsTruncated>false</IsTruncated>"
                         "<Contents><Key>node1/a.db.gz</Key><LastModified>x</LastModified>"
                         "<ETag>\"abc\"</ETag><Size>594</Size></Contents>"
                         "<Contents><Key>node1/a&amp;b&#x41;&#66;&lt;&gt;&quot;&apos;</Key><Size>0</Size></Contents>"
                         "</ListBucketResult>",
                    &l) == 0);
        check_int_eq(l.n, 2);
        check_str_eq(l.objects[0].key, "node1/a.db.gz");
        check_u64_eq(l.objects[0].size, 594);
        check_str_eq(l.objects[1].key, "node1/a&bAB<>\"'");
        check_u64_eq(l.objects[1].size, 0);
        check(!l.truncated);
        check(!l.next_token);

        /* A second page appends; the token is decoded. */
        check(parse(HEAD "<IsTruncated>true</IsTruncated><NextContinuationToken>t+1&amp;=</NextContinuationToken>"
                         "<Contents><Key>k3</Key><Size> 18446744073709551615 </Size></Contents></ListBucketResult>",
                    &l) == 0);
        check_int_eq(l.n, 3);
        check_u64_eq(l.objects[2].size, UINT64_MAX);
        check(l.truncated);
        check_str_eq(l.next_token, "t+1&=");
        /* A following page without a token clears it. */
        check(parse(HEAD "<IsTruncated>false</IsTruncated></ListBucketResult>", &l) == 0);
        check(!l.truncated);
        check(!l.next_token);
        s3_listing_done(&l);

        /* An empty listing. */
        check(parse(HEAD "<KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>", &l) == 0);
        check_int_eq(l.n, 0);
        s3_listing_done(&l);
}

static void test_list_hostile(void) {
        S3Listing l = {};
        char *big;
        size_t n;

        /* Not a listing at all. */
        check(parse("<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>", &l) == -EBADMSG);
        check(parse("", &l) == -EBADMSG);
        check(s3_list_parse("<ListBucketResult", 5, &l) == -EBADMSG);
        /* An unterminated <Contents>. */
        check(parse(HEAD "<Contents><Key>a</Key><Size>1</Size>", &l) == -EBADMSG);
        s3_listing_done(&l);
        /* Objects that cannot be used are skipped, the rest is kept. */
        check(parse(HEAD
                    "<Contents><Key>no-size</Key></Contents>"
                    "<Contents><Size>5</Size></Contents>"
                    "<Contents><Key></Key><Size>5</Size></Contents>"
                    "<Contents><Key>neg</Key><Size>-1</Size></Contents>"
                    "<Contents><Key>overflow</Key><Size>18446744073709551616</Size></Contents>"
                    "<Contents><Key>hex</Key><Size>0x10</Size></Contents>"
                    "<Contents><Key>ctrl&#1;</Key><Size>1</Size></Contents>"
                    "<Contents><Key>tab\there</Key><Size>1</Size></Contents>"
                    "<Contents><Key>nul&#0;</Key><Size>1</Size></Contents>"
                    "<Contents><Key>surrogate&#xD800;</Key><Size>1</Size></Contents>"
                    "<Contents><Key>huge&#x110000;</Key><Size>1</Size></Contents>"
                    "<Contents><Key>unknown&foo;</Key><Size>1</Size></Contents>"
                    "<Contents><Key>unterminated&amp</Key><Size>1</Size></Contents>"
                    "<Contents><Key>empty&#;</Key><Size>1</Size></Contents>"
                    "<Contents><Key>unclosed<Size>1</Size></Contents>"
                    "<Contents><Key>good</Key><Size>7</Size></Contents>"
                    "<Contents><Contents><Key>nested</Key><Size>8</Size></Contents>"
                    "</ListBucketResult>",
                    &l) == 0);
        check_int_eq(l.n, 2);
        check_str_eq(l.objects[0].key, "good");
        check_u64_eq(l.objects[0].size, 7);
        check_str_eq(l.objects[1].key, "nested");
        s3_listing_done(&l);

        /* A NUL inside the body is only data. */
        {
                static const char doc[] = HEAD "<Contents><Key>a\0b</Key><Size>1</Size></Contents>"
                                               "<Contents><Key>c</Key><Size>2</Size></Contents></ListBucketResult>";
                check(s3_list_parse(doc, sizeof doc - 1, &l) == 0);
                check_int_eq(l.n, 1);
                check_str_eq(l.objects[0].key, "c");
                s3_listing_done(&l);
        }

        /* A key longer than S3_KEY_MAX is skipped. */
        n = S3_KEY_MAX + 1;
        big = malloc(n + 256);
        check(big);
        memcpy(big, "<ListBucketResult><Contents><Key>", 33);
        memset(big + 33, 'k', n);
        strcpy(big + 33 + n, "</Key><Size>1</Size></Contents></ListBucketResult>");
        check(parse(big, &l) == 0);
        check_int_eq(l.n, 0);
        free(big);
        s3_listing_done(&l);

        /* A continuation token beyond its limit, or with a control character. */
        n = 5000;
        big = malloc(n + 256);
        check(big);
        memcpy(big, "<ListBucketResult><NextContinuationToken>", 41);
        memset(big + 41, 't', n);
        strcpy(big + 41 + n, "</NextContinuationToken></ListBucketResult>");
        check(parse(big, &l) == -EBADMSG);
        free(big);
        s3_listing_done(&l);
        check(parse(HEAD "<NextContinuationToken>a&#10;b</NextContinuationToken>", &l) == -EBADMSG);
        s3_listing_done(&l);
        check(parse(HEAD "<NextContinuationToken>never closed", &l) == -EBADMSG);
        s3_listing_done(&l);
        check(parse(HEAD "<IsTruncated>true", &l) == -EBADMSG);
        s3_listing_done(&l);
        /* "True", "1": only "true" means truncated. */
        check(parse(HEAD "<IsTruncated>True</IsTruncated>", &l) == 0);
        check(!l.truncated);
        s3_listing_done(&l);

        /* More objects than S3_LIST_OBJECTS_MAX, across pages. */
        {
                static const char one[] = "<Contents><Key>k</Key><Size>1</Size></Contents>";
                size_t count = S3_LIST_OBJECTS_MAX / 2 + 1, len = strlen("<ListBucketResult>");
                char *doc = malloc(len + count * (sizeof one - 1) + 1), *p;
                check(doc);
                p = stpcpy(doc, "<ListBucketResult>");
                for (size_t i = 0; i < count; i++)
                        p = stpcpy(p, one);
                check(parse(doc, &l) == 0);
                check_int_eq(l.n, count);
                check(parse(doc, &l) == -E2BIG);
                check_int_eq(l.n, S3_LIST_OBJECTS_MAX);
                free(doc);
                s3_listing_done(&l);
        }
}

#define UHEAD "<?xml version='1.0' encoding='UTF-8'?>\n<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"

static int parse_uploads(const char *xml, S3Uploads *u) {
        return s3_uploads_parse(xml, strlen(xml), u);
}

static void test_uploads_parse(void) {
        S3Uploads u = {};

        /* As Swift's s3api answers (markers before the uploads, an owner in each). */
        check(parse_uploads(UHEAD "<Bucket>backups</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
                            "<NextKeyMarker>node1/b</NextKeyMarker><NextUploadIdMarker>id&amp;2</NextUploadIdMarker>"
                            "<Prefix>node1/</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>true</IsTruncated>"
                            "<Upload><Key>node1/a</Key><UploadId>id1</UploadId><Initiator><ID>t:t</ID>"
                            "<DisplayName>t:t</DisplayName></Initiator><StorageClass>STANDARD</StorageClass>"
                            "<Initiated>2026-12-05T23:02:48.000Z</Initiated></Upload>"
                            "<Upload><Key>node1/b</Key><UploadId>id&amp;2</UploadId></Upload>"
                            "</ListMultipartUploadsResult>", &u) == 0);
        check_int_eq(u.n, 2);
        check_str_eq(u.uploads[0].key, "node1/a");
        check_str_eq(u.uploads[0].upload_id, "id1");
        check_u64_eq(u.uploads[0].initiated_usec, UINT64_C(1796511768) * 1000000);
        check_str_eq(u.uploads[1].upload_id, "id&2");
        check_u64_eq(u.uploads[1].initiated_usec, 0);  /* no <Initiated>: its age is unknown */
        check(u.truncated);
        check_str_eq(u.next_key_marker, "node1/b");
        check_str_eq(u.next_upload_id_marker, "id&2");
        /* The next page appends and clears the markers it does not give. */
        check(parse_uploads(UHEAD "<IsTruncated>false</IsTruncated><NextKeyMarker></NextKeyMarker>"
                            "<Upload><Key>node1/c</Key><UploadId>id3</UploadId>"
                            "<Initiated>2026-12-05T23:02:48+01:00</Initiated></Upload>"
                            "</ListMultipartUploadsResult>", &u) == 0);
        check_int_eq(u.n, 3);
        check_u64_eq(u.uploads[2].initiated_usec, UINT64_C(1796508168) * 1000000);
        check(!u.truncated);
        check(!u.next_key_marker);
        check(!u.next_upload_id_marker);
        s3_uploads_done(&u);

        /* Not this answer; what cannot be used is skipped. */
        check(parse_uploads("<Error><Code>NotImplemented</Code></Error>", &u) == -EBADMSG);
        check(parse_uploads(UHEAD "<Upload><Key>a</Key><UploadId>x</UploadId>", &u) == -EBADMSG);
        s3_uploads_done(&u);
        check(parse_uploads(UHEAD "<NextKeyMarker>a&#10;b</NextKeyMarker>", &u) == -EBADMSG);
        s3_uploads_done(&u);
        check(parse_uploads(UHEAD
                            "<Upload><UploadId>no-key</UploadId></Upload>"
                            "<Upload><Key>no-id</Key></Upload>"
                            "<Upload><Key>empty-id</Key><UploadId></UploadId></Upload>"
                            "<Upload><Key>space</Key><UploadId>a b</UploadId></Upload>"
                            "<Upload><Key>ctrl&#1;</Key><UploadId>x</UploadId></Upload>"
                            "<Upload><Key>bad-time</Key><UploadId>y</UploadId><Initiated>yesterday</Initiated></Upload>"
                            "<Upload><Key>good</Key><UploadId>z</UploadId>"
                            "<Initiated>1970-01-01T00:00:01Z</Initiated></Upload>"
                            "</ListMultipartUploadsResult>", &u) == 0);
        check_int_eq(u.n, 2);
        check_str_eq(u.uploads[0].key, "bad-time");
        check_u64_eq(u.uploads[0].initiated_usec, 0);
        check_str_eq(u.uploads[1].key, "good");
        check_u64_eq(u.uploads[1].initiated_usec, 1000000);
        s3_uploads_done(&u);
}

static void test_xml_element(void) {
        static const char err[] =
                "<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>SignatureDoesNotMatch</Code>"
                "<Message>The request signature\nwe calculated &amp; &#7;so on</Message></Error>";
        char *s = NULL;

        check(s3_xml_element(err, strlen(err), "Code", 128, &s) == 0);
        check_str_eq(s, "SignatureDoesNotMatch");
        free(s);
        check(s3_xml_element(err, strlen(err), "Message", 512, &s) == 0);
        check_str_eq(s, "The request signature we calculated &  so on");
        free(s);
        check(s3_xml_element(err, strlen(err), "Message", 10, &s) == -E2BIG);
        check(s3_xml_element(err, strlen(err), "UploadId", 10, &s) == -ENOENT);
        check(s3_xml_element("<Code>x", 7, "Code", 10, &s) == -ENOENT);
        check(s3_xml_element("<Code>&bogus;</Code>", 20, "Code", 10, &s) == -EBADMSG);
}

static void test_sync_refusals(void) {
        char secret[] = "/tmp/test-upload-secret.XXXXXX";
        char dir[] = "/tmp/test-upload-dir.XXXXXX";
        RetentionPolicy p = { .keep_last = 1 };
        UploadReport rep = {};
        ConfigUpload u = {
                .enabled = true, .url = (char *) "http://127.0.0.1:1/", .region = (char *) "us-east-1",
                .access_key_id = (char *) "test:tester", .secret_access_key_file = secret,
                .part_size_bytes = 5u << 20,
        };
        int fd;

        check(mkdtemp(dir));
        fd = mkstemp(secret);
        check(fd >= 0);

        /* No bucket in the URL. */
        check(upload_sync(&u, &p, zone_utc(), dir, &rep) == -EINVAL);
        check(rep.error && strstr(rep.error, "names no bucket"));
        upload_report_done(&rep);

        /* An empty secret file (a lone newline is empty too). */
        u.url = (char *) "http://127.0.0.1:1/bucket/prefix/";
        check(write(fd, "\n", 1) == 1);
        check(upload_sync(&u, &p, zone_utc(), dir, &rep) == -EINVAL);
        check(rep.error && strstr(rep.error, "holds no usable secret"));
        upload_report_done(&rep);

        /* A file larger than any secret: a wrong path, named as such. */
        {
                char big[4097];
                memset(big, 'k', sizeof big);
                check(pwrite(fd, big, sizeof big, 0) == (ssize_t) sizeof big);
                check(upload_sync(&u, &p, zone_utc(), dir, &rep) == -EFBIG);
                check(rep.error && strstr(rep.error, "cannot read upload.secret_access_key_file") &&
                      strstr(rep.error, "too large"));
                upload_report_done(&rep);
        }

        /* A missing secret file. */
        check(unlink(secret) == 0);
        check(upload_sync(&u, &p, zone_utc(), dir, &rep) == -ENOENT);
        check(rep.error && strstr(rep.error, "cannot read upload.secret_access_key_file"));
        check(!rep.uploaded && !rep.deleted);
        upload_report_done(&rep);

        close(fd);
        check(rmdir(dir) == 0);
}

/* A listening socket on a free loopback port, and the upload URL of a bucket
 * there (url_size bytes at url). */
static int listen_loopback(char *url, size_t url_size) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t alen = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        check(fd >= 0);
        check(bind(fd, (struct sockaddr *) &a, sizeof a) == 0 && listen(fd, 8) == 0);
        check(getsockname(fd, (struct sockaddr *) &a, &alen) == 0);
        snprintf(url, url_size, "http://127.0.0.1:%u/bucket/prefix/", (unsigned) ntohs(a.sin_port));
        return fd;
}

/* A loopback HTTP server that answers 403 to every request, so that libcurl
 * signs requests with the secret (SigV4) and fails at once. */
typedef struct {
        int fd;
        volatile int stop;
        unsigned served;
} Forbidder;

static void *forbid(void *arg) {
        static const char answer[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        Forbidder *f = arg;

        while (!f->stop) {
                struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
                char buf[4096];
                int c;

                if (poll(&pfd, 1, 100) <= 0)
                        continue;
                c = accept(f->fd, NULL, NULL);
                if (c < 0)
                        continue;
                /* Read the request's head, then answer without reading a body. */
                for (size_t got = 0;;) {
                        ssize_t k = read(c, buf + got, sizeof buf - 1 - got);
                        if (k <= 0)
                                break;
                        got += (size_t) k;
                        buf[got] = '\0';
                        if (strstr(buf, "\r\n\r\n") || got == sizeof buf - 1)
                                break;
                }
                (void) !write(c, answer, sizeof answer - 1);
                close(c);
                f->served++;
        }
        return NULL;
}

#define SECRET_LEN 40
#define WINDOW 10

/* The secret is kept only masked, so that the scan below does not find the
 * test's own copy: window k is (secret[k..k+WINDOW] as a word) ^ mask. */
typedef struct {
        uint8_t masked[SECRET_LEN];
        uint8_t mask[SECRET_LEN];
        uint8_t first[32]; /* bitmap of the secret's bytes, to skip fast */
} HiddenSecret;

static bool window_at(const HiddenSecret *h, const uint8_t *p) {
        if (!(h->first[p[0] >> 3] & (1u << (p[0] & 7))))
                return false;
        for (size_t k = 0; k + WINDOW <= SECRET_LEN; k++) {
                size_t j = 0;
                while (j < WINDOW && p[j] == (uint8_t) (h->masked[k + j] ^ h->mask[k + j]))
                        j++;
                if (j == WINDOW)
                        return true;
        }
        return false;
}

/* Every WINDOW bytes of the secret found anywhere in this process's writable
 * memory (heap, stacks, libraries' data), read through /proc/self/mem so
 * that freed memory is seen too. Regions of 1 GiB or more (ASan's shadow)
 * are left out; the scan buffer is its own mapping, also left out. */
static unsigned count_secret_in_memory(const HiddenSecret *h, size_t *ret_scanned) {
        const size_t chunk = 1u << 20;
        unsigned found = 0;
        uint8_t *buf;
        FILE *maps;
        char line[512];
        int mem;

        *ret_scanned = 0;
        buf = mmap(NULL, chunk + WINDOW, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        check(buf != MAP_FAILED);
        maps = fopen("/proc/self/maps", "re");
        mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
        check(maps && mem >= 0);
        while (fgets(line, sizeof line, maps)) {
                unsigned long lo, hi;
                char perms[8];

                if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' || perms[1] != 'w')
                        continue;
                if (hi - lo >= (1ul << 30) || lo == (unsigned long) buf || strstr(line, "[vvar]"))
                        continue;
                for (unsigned long at = lo; at < hi; at += chunk) {
                        size_t want = hi - at < chunk + WINDOW ? hi - at : chunk + WINDOW;
                        ssize_t k = pread(mem, buf, want, (off_t) at);
                        if (k < WINDOW)
                                continue;
                        for (ssize_t i = 0; i + WINDOW <= k && i < (ssize_t) chunk; i++)
                                found += window_at(h, buf + i);
                        *ret_scanned += (size_t) k;
                }
        }
        fclose(maps);
        close(mem);
        explicit_bzero(buf, chunk + WINDOW);
        munmap(buf, chunk + WINDOW);
        return found;
}

/* After an upload that signed requests with the secret, no copy of it is
 * left in the process: ours is wiped, and so is every block libcurl frees. */
static void test_secret_not_left_behind(void) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        char secret_path[] = "/tmp/test-upload-secret.XXXXXX";
        char dir[] = "/tmp/test-upload-dir.XXXXXX";
        RetentionPolicy p = { .keep_last = 1 };
        UploadReport rep = {};
        HiddenSecret h = {};
        Forbidder f = { .fd = -1 };
        pthread_t t;
        char url[64];
        size_t scanned;
        int fd;

        check(mkdtemp(dir));
        fd = mkstemp(secret_path);
        check(fd >= 0);
        {
                uint8_t rnd[SECRET_LEN];
                char plain[SECRET_LEN];

                check(getrandom(rnd, sizeof rnd, 0) == (ssize_t) sizeof rnd);
                check(getrandom(h.mask, sizeof h.mask, 0) == (ssize_t) sizeof h.mask);
                for (size_t i = 0; i < SECRET_LEN; i++) {
                        plain[i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
                        h.masked[i] = (uint8_t) plain[i] ^ h.mask[i];
                        h.first[(uint8_t) plain[i] >> 3] |= (uint8_t) (1u << ((uint8_t) plain[i] & 7));
                }
                check(write(fd, plain, sizeof plain) == (ssize_t) sizeof plain);
                explicit_bzero(plain, sizeof plain);
                explicit_bzero(rnd, sizeof rnd);
        }
        close(fd);

        f.fd = listen_loopback(url, sizeof url);
        check(pthread_create(&t, NULL, forbid, &f) == 0);

        {
                ConfigUpload u = {
                        .enabled = true, .url = url, .region = (char *) "us-east-1",
                        .access_key_id = (char *) "test:tester", .secret_access_key_file = secret_path,
                        .part_size_bytes = 5u << 20,
                };
                check(upload_sync(&u, &p, zone_utc(), dir, &rep) < 0);
                check(rep.error && strstr(rep.error, "403"));
                upload_report_done(&rep);
        }
        f.stop = 1;
        check(pthread_join(t, NULL) == 0);
        close(f.fd);
        check(f.served >= 1); /* libcurl did sign and send a request */

        check_int_eq(count_secret_in_memory(&h, &scanned), 0);
        check(scanned > 0);

        check(unlink(secret_path) == 0);
        check(rmdir(dir) == 0);
}

/* A loopback S3 for one multipart upload: an empty listing, an UploadId,
 * an ETag for each part, and then `complete` as the answer to
 * CompleteMultipartUpload. Counts the uploads aborted. ListMultipartUploads
 * is answered with `uploads` (none if NULL) and `uploads_status`. */
typedef struct {
        int fd;
        volatile int stop;
        const char *complete;
        const char *cut;                /* a file cut short when the upload is created, or NULL */
        const char *uploads;
        const char *uploads_status;     /* NULL: "200 OK" */
        const char *delete_status;      /* NULL: "204 No Content" */
        unsigned aborted, uploads_listed;
        char aborted_ids[256];          /* the uploadId of each abort, ' ' after each */
} MiniS3;

static void *mini_s3(void *arg) {
        static const char list[] = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
        static const char no_uploads[] = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
                                         "</ListMultipartUploadsResult>";
        static const char create[] = "<InitiateMultipartUploadResult><UploadId>up1</UploadId>"
                                     "</InitiateMultipartUploadResult>";
        MiniS3 *m = arg;

        while (!m->stop) {
                struct pollfd pfd = { .fd = m->fd, .events = POLLIN };
                char head[8192], *end, *cl;
                size_t got = 0, body = 0;
                const char *answer = "", *status = "200 OK";
                char *out = NULL;
                int c;

                if (poll(&pfd, 1, 100) <= 0 || (c = accept(m->fd, NULL, NULL)) < 0)
                        continue;
                for (;;) {
                        ssize_t k = read(c, head + got, sizeof head - 1 - got);
                        if (k <= 0)
                                break;
                        got += (size_t) k;
                        head[got] = '\0';
                        if ((end = strstr(head, "\r\n\r\n")) || got == sizeof head - 1)
                                break;
                }
                end = strstr(head, "\r\n\r\n");
                cl = strcasestr(head, "\r\nContent-Length:");
                if (end && cl && cl < end)
                        body = strtoul(cl + 17, NULL, 10);
                if (strcasestr(head, "\r\nExpect: 100-continue"))
                        (void) !write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
                for (size_t have = end ? got - (size_t) (end + 4 - head) : 0; have < body;) {
                        char sink[65536];
                        ssize_t k = read(c, sink, MIN(sizeof sink, body - have));
                        if (k <= 0)
                                break;
                        have += (size_t) k;
                }
                if (startswith(head, "GET ") && strstr(head, "uploads=")) {
                        answer = m->uploads ?: no_uploads;
                        status = m->uploads_status ?: status;
                        m->uploads_listed++;
                } else if (startswith(head, "GET "))
                        answer = list;
                else if (startswith(head, "POST ") && strstr(head, "?uploads")) {
                        answer = create;
                        if (m->cut)
                                check(truncate(m->cut, 5000) == 0);
                }
                else if (startswith(head, "POST "))
                        answer = m->complete;
                else if (startswith(head, "DELETE ")) {
                        const char *id = strstr(head, "uploadId=");
                        m->aborted++;
                        status = m->delete_status ?: "204 No Content";
                        if (id)
                                snprintf(m->aborted_ids + strlen(m->aborted_ids),
                                         sizeof m->aborted_ids - strlen(m->aborted_ids), "%.*s ",
                                         (int) strcspn(id + 9, " &"), id + 9);
                }
                check(asprintf(&out, "HTTP/1.1 %s\r\nETag: \"e\"\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n"
                               "%s", status, strlen(answer), answer) >= 0);
                (void) !write(c, out, strlen(out));
                free(out);
                close(c);
        }
        return NULL;
}

/* CompleteMultipartUpload may fail with 200: an <Error> past what is kept of
 * the answer (S3 sends white space first while it works), or an answer
 * without its result, is a failure, and the upload is aborted. */
static void test_multipart_complete(void) {
        char secret[] = "/tmp/test-upload-secret.XXXXXX";
        char dir[] = "/tmp/test-upload-dir.XXXXXX";
        RetentionPolicy p = { .keep_last = 1 };
        _cleanup_free_ char *padded = NULL, *file = NULL;
        char url[64], big[10000];
        const char *answers[] = { NULL, "", "<CompleteMultipartUploadResult><ETag>\"e\"</ETag>"
                                             "</CompleteMultipartUploadResult>", "cut" };
        int fd;

        padded = malloc(70000 + 128);
        check(padded);
        memset(padded, ' ', 70000);
        strcpy(padded + 70000, "<Error><Code>InternalError</Code><Message>late</Message></Error>");
        answers[0] = padded;
        check(mkdtemp(dir));
        fd = mkstemp(secret);
        check(fd >= 0 && write(fd, "s3cr3t\n", 7) == 7);
        close(fd);
        check(asprintf(&file, "%s/etcd-0123456789abcdef-20261121T020003Z-r5.db", dir) >= 0);
        memset(big, 'x', sizeof big);
        fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        check(fd >= 0 && write(fd, big, sizeof big) == (ssize_t) sizeof big);
        close(fd);

        for (size_t i = 0; i < ELEMENTSOF(answers); i++) {
                /* The last: the file cut short once the upload is created (its second part ends early). */
                MiniS3 m = { .complete = answers[i], .cut = streq(answers[i], "cut") ? file : NULL };
                UploadReport rep = {};
                pthread_t t;
                int r;

                m.fd = listen_loopback(url, sizeof url);
                check(pthread_create(&t, NULL, mini_s3, &m) == 0);
                {
                        ConfigUpload u = {
                                .enabled = true, .url = url, .region = (char *) "us-east-1",
                                .access_key_id = (char *) "test:tester", .secret_access_key_file = secret,
                                .part_size_bytes = 4096, .allow_insecure_http = true,
                        };
                        r = upload_sync(&u, &p, zone_utc(), dir, &rep);
                }
                m.stop = 1;
                check(pthread_join(t, NULL) == 0);
                close(m.fd);
                fprintf(stderr, "  complete answered %zu bytes: %d %s\n", strlen(answers[i]), r,
                        rep.error ? rep.error : "(no error)");
                if (i < 2 || m.cut) {
                        check(r < 0);
                        check(rep.error && strstr(rep.error, i == 0 ? "more than" : i == 1 ? "without its result"
                                                  : "part 2 of 3: the local file ended early: it was cut short "
                                                    "during the upload"));
                        check_int_eq(m.aborted, 1);
                } else {
                        check_int_eq(r, 0);
                        check_int_eq(rep.multipart, 1);
                        check_int_eq(m.aborted, 0);
                }
                upload_report_done(&rep);
        }
        check(unlink(file) == 0);
        check(unlink(secret) == 0);
        check(rmdir(dir) == 0);
}

#define UPLOAD(key, id, initiated) \
        "<Upload><Key>prefix/" key "</Key><UploadId>" id "</UploadId><Initiated>" initiated "</Initiated></Upload>"
#define BACKUP "etcd-0123456789abcdef-20200101T000000Z-r5.db.zst"

/* The unfinished multipart uploads older than upload.abort_incomplete_after
 * are aborted: only a backup's, at the prefix's own level, whose start is
 * known. A store that cannot list them, pages them for ever or refuses an
 * abort gets a warning naming why and the permissions needed, never a failed
 * upload; one gone already is not reported as aborted. */
static void test_abort_incomplete(void) {
        char secret[] = "/tmp/test-upload-secret.XXXXXX";
        char dir[] = "/tmp/test-upload-dir.XXXXXX";
        RetentionPolicy p = { .keep_last = 1 };
        static const char listing[] =
                "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
                UPLOAD(BACKUP, "old", "2020-01-01T00:00:00.000Z")
                UPLOAD(BACKUP, "fresh", "2999-01-01T00:00:00.000Z")
                UPLOAD(BACKUP, "unknown", "yesterday")
                UPLOAD(BACKUP ".json", "sidecar", "2020-01-01T00:00:00Z")
                UPLOAD("other.bin", "other", "2020-01-01T00:00:00Z")
                UPLOAD("sub/" BACKUP, "deeper", "2020-01-01T00:00:00Z")
                "<Upload><Key>elsewhere/" BACKUP "</Key><UploadId>outside</UploadId>"
                "<Initiated>2020-01-01T00:00:00Z</Initiated></Upload>"
                "</ListMultipartUploadsResult>";
        static const struct {
                const char *uploads, *status, *delete_status, *aborted_ids, *reported, *warning;
        } cases[] = {
                { listing, NULL, NULL, "old ", BACKUP " (started 2020-01-01T00:00:00Z)", NULL },
                { listing, NULL, "404 Not Found", "old ", NULL, NULL },
                { listing, NULL, "403 Forbidden", "old ", NULL,
                  "the unfinished multipart upload of " BACKUP ", started 2020-01-01T00:00:00Z, at http://127.0.0.1:" },
                { "<Error><Code>NotImplemented</Code><Message>not here</Message></Error>", "501 Not Implemented", NULL,
                  "", NULL, "unfinished multipart uploads not swept: listing of the unfinished multipart uploads at "
                  "http://127.0.0.1:" },
                { "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated><NextKeyMarker>k</NextKeyMarker>"
                  "<NextUploadIdMarker>u</NextUploadIdMarker></ListMultipartUploadsResult>", NULL, NULL, "", NULL,
                  "truncated with markers it gave before (page 2)" },
                { "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated></ListMultipartUploadsResult>", NULL,
                  NULL, "", NULL, "truncated without a NextKeyMarker (page 1)" },
        };
        int fd;

        check(mkdtemp(dir));
        fd = mkstemp(secret);
        check(fd >= 0 && write(fd, "s3cr3t\n", 7) == 7);
        close(fd);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                MiniS3 m = { .uploads = cases[i].uploads, .uploads_status = cases[i].status,
                             .delete_status = cases[i].delete_status };
                UploadReport rep = {};
                char url[64];
                pthread_t t;
                int r;

                m.fd = listen_loopback(url, sizeof url);
                check(pthread_create(&t, NULL, mini_s3, &m) == 0);
                {
                        ConfigUpload u = {
                                .enabled = true, .url = url, .region = (char *) "us-east-1",
                                .access_key_id = (char *) "test:tester", .secret_access_key_file = secret,
                                .part_size_bytes = 4096, .allow_insecure_http = true,
                                .abort_incomplete_after_usec = USEC_PER_DAY,
                        };
                        r = upload_sync(&u, &p, zone_utc(), dir, &rep);
                }
                m.stop = 1;
                check(pthread_join(t, NULL) == 0);
                close(m.fd);
                fprintf(stderr, "  case %zu: %d %s; warning %s; aborted '%s'\n", i, r,
                        rep.error ? rep.error : "(no error)", rep.warning ? rep.warning : "(none)", m.aborted_ids);
                check_int_eq(r, 0);
                check(!rep.error);
                check_str_eq(m.aborted_ids, cases[i].aborted_ids);
                if (cases[i].reported) {
                        check(rep.aborted && rep.aborted[0] && !rep.aborted[1]);
                        check_str_eq(rep.aborted[0], cases[i].reported);
                } else
                        check(!rep.aborted);
                if (cases[i].warning) {
                        /* The permissions are named when the store refused, not for a listing it got wrong. */
                        bool refused = cases[i].status || cases[i].delete_status;
                        check(rep.warning && strstr(rep.warning, cases[i].warning) &&
                              strstr(rep.warning, "upload.abort_incomplete_after = 0 turns the sweep off"));
                        check(!strstr(rep.warning, "s3:ListBucketMultipartUploads and s3:AbortMultipartUpload") ==
                              !refused);
                } else
                        check(!rep.warning);
                upload_report_done(&rep);
        }
        check(unlink(secret) == 0);
        check(rmdir(dir) == 0);
}

int main(void) {
        TEST_RUN(test_uri_encode);
        TEST_RUN(test_query_build);
        TEST_RUN(test_list_parse);
        TEST_RUN(test_list_hostile);
        TEST_RUN(test_uploads_parse);
        TEST_RUN(test_xml_element);
        TEST_RUN(test_sync_refusals);
        TEST_RUN(test_secret_not_left_behind);
        TEST_RUN(test_multipart_complete);
        TEST_RUN(test_abort_incomplete);
        return 0;
}
