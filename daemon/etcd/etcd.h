/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * etcd.h — a small etcd v3 client: Maintenance.Status, Cluster.MemberList
 * and the Maintenance.Snapshot server stream, as gRPC over HTTP/2
 * (nghttp2) with mutual TLS (OpenSSL), one connection per call. Blocking:
 * call it from the backup worker or a restore service, never from the
 * daemon's event loop.
 */

#include <stddef.h>
#include <stdint.h>

#include "format/grpc.h"
#include "format/pb.h"

#include "config/config.h"
#include "util/macro.h"

#define ETCD_VERSION_MAX 64

typedef struct EtcdTls {
        const char *cacert;     /* NULL = system trust store */
        const char *cert;       /* NULL = no client certificate */
        const char *key;
} EtcdTls;

typedef struct EtcdStatus {
        char *endpoint;                 /* the endpoint that answered (owned) */
        uint64_t cluster_id;
        uint64_t member_id;
        uint64_t leader;
        int64_t revision;               /* header revision at the time of Status */
        uint64_t raft_index;
        int64_t db_size;
        bool is_learner;
        bool nospace_alarm;             /* etcd reports the NOSPACE alarm, and no other error */
        char version[ETCD_VERSION_MAX + 1];
} EtcdStatus;

void etcd_status_done(EtcdStatus *s);

/* Called with stream data in order; a negative return aborts the call. */
typedef int (*EtcdDataFn)(const void *data, size_t n, void *userdata);

/* Maintenance.Status on one endpoint. Returns 0, or a negative errno with
 * *ret_error (caller frees) naming the endpoint and the cause:
 * -ECONNREFUSED/-EHOSTUNREACH/-ETIMEDOUT (unreachable), -EACCES (TLS or
 * authentication refused), -ECONNRESET (closed before answering: etcd
 * stopping, or a refusal whose alert was lost), -EPIPE (closed in the
 * middle of the answer), -EPROTO (not a gRPC answer), -EBADMSG, -EAGAIN
 * (the member has no leader), -EIO (another error etcd reports). The
 * NOSPACE alarm alone is no error (a full db still serves reads and
 * snapshots): 0 with ret->nospace_alarm set. */
int etcd_status(const EtcdTls *tls, const char *endpoint, uint64_t connect_timeout_usec,
                uint64_t timeout_usec, EtcdStatus *ret, char **ret_error);

/* Cluster.MemberList on endpoint: every member of the cluster, as the
 * member answering knows them (with its name and peer URLs; learners
 * included). *ret is filled on success (release with pb_member_list_clear());
 * errors as etcd_status(). */
int etcd_member_list(const EtcdTls *tls, const char *endpoint, uint64_t connect_timeout_usec,
                     uint64_t timeout_usec, PbMemberList *ret, char **ret_error);

/* A cluster electing a leader answers "no leader" on every member for a
 * moment (its leader just lost, or a member starved of CPU): that is waited
 * through, polling every ETCD_LEADER_POLL_USEC, for up to
 * ETCD_LEADER_WAIT_USEC. */
#define ETCD_LEADER_WAIT_USEC (10 * USEC_PER_SEC)
#define ETCD_LEADER_POLL_USEC (500 * USEC_PER_MSEC)

/* Status on each endpoint in order until a voting member with a leader
 * answers (a learner is skipped: its data may lag the cluster; so is a
 * member without a leader: it may be cut off from the cluster). When only
 * "no leader" stood in the way, the endpoints are tried again until
 * ETCD_LEADER_WAIT_USEC. On failure *ret_error lists every endpoint's
 * cause; returns -EHOSTUNREACH when none answered, or -ENOKEY (the cause
 * alone) when the CA, the client certificate or its key cannot be used. */
int etcd_find_endpoint(const EtcdTls *tls, char *const *endpoints, uint64_t connect_timeout_usec,
                       EtcdStatus *ret, char **ret_error);

/* Stream Maintenance.Snapshot from endpoint: every byte of every blob is
 * passed to on_data in order (the db followed by etcd's 32-byte SHA-256
 * trailer; checking the trailer is the caller's business, see trailer.h).
 * Fails on a gRPC error status, a stream that ends mid-message or without a
 * grpc-status (in the trailers, or in headers that end the stream), a stream
 * longer or shorter than the db size etcd's first message announces plus
 * the 32-byte hash, a stall (no snapshot data for etcd_stall_usec, 60 s:
 * messages without a blob, which etcd sends without end when its own read of
 * the db fails, are none; the time on_data takes is not counted), or
 * timeout_usec overall, also while data keeps coming. */
int etcd_snapshot(const EtcdTls *tls, const char *endpoint, uint64_t connect_timeout_usec,
                  uint64_t timeout_usec, EtcdDataFn on_data, void *userdata, char **ret_error);

/* The longest a Snapshot stream may bring no snapshot data (tests shorten it). */
extern uint64_t etcd_stall_usec;

/* TLS settings from the configuration. */
EtcdTls etcd_tls_from_config(const ConfigEtcd *c);

/* For the fuzz target: the HTTP/2 client side of one Snapshot call, fed
 * data as a server would send it after TLS (its SETTINGS first), in pieces
 * of `piece` bytes; messages go to on_message. Returns what the call would
 * have: 0, or a negative errno with *ret_error saying why. */
int etcd_replay_answer(const char *endpoint, const uint8_t *data, size_t n, size_t piece, GrpcMessageFn on_message,
                       void *userdata, char **ret_error);
