/* SPDX-License-Identifier: MIT */
/*
 * upload.c — keep the remote copy in step with the storage directory (see
 * upload.h): list the remote prefix once, upload what is missing (never
 * replacing what differs), then apply the remote retention to this node's
 * own. The requests are s3.c's.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/s3.h"
#include "backup/store.h"
#include "backup/upload.h"
#include "util/str.h"
#include "util/time.h"

void upload_report_done(UploadReport *r) {
        strv_free(r->uploaded);
        strv_free(r->deleted);
        strv_free(r->aborted);
        free(r->error);
        free(r->warning);
        *r = (UploadReport) {};
}

/* ---- sync ---- */

typedef struct Remote {
        char *name;             /* key without the prefix */
        uint64_t size;
} Remote;

static int remote_compare(const void *a, const void *b) {
        return strcmp(((const Remote *) a)->name, ((const Remote *) b)->name);
}

typedef struct RemoteSet {
        Remote *items;
        size_t n, n_allocated;
        bool sorted;
} RemoteSet;

static void remote_set_done(RemoteSet *rs) {
        for (size_t i = 0; i < rs->n; i++)
                free(rs->items[i].name);
        free(rs->items);
        *rs = (RemoteSet) {};
}

static Remote *remote_find(RemoteSet *rs, const char *name) {
        if (!rs->sorted) {
                if (rs->n > 0)
                        qsort(rs->items, rs->n, sizeof *rs->items, remote_compare);
                rs->sorted = true;
        }
        if (rs->n == 0)
                return NULL;
        return bsearch(&(Remote) { .name = (char *) name }, rs->items, rs->n, sizeof *rs->items, remote_compare);
}

static int remote_set(RemoteSet *rs, const char *name, uint64_t size) {
        Remote *e = remote_find(rs, name), *items;
        char *copy;

        if (e) {
                e->size = size;
                return 0;
        }
        copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        if (rs->n >= rs->n_allocated) {
                size_t na = MAX(rs->n_allocated * 2, (size_t) 64);
                items = reallocarray(rs->items, na, sizeof *items);
                if (!items) {
                        free(copy);
                        return -ENOMEM;
                }
                rs->items = items;
                rs->n_allocated = na;
        }
        rs->items[rs->n++] = (Remote) { .name = copy, .size = size };
        rs->sorted = false;
        return 0;
}

static bool local_has(const StoreEntry *e, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(e[i].name, name))
                        return true;
        return false;
}

static int upload_one(S3 *s, Store *store, RemoteSet *rs, const char *name, uint64_t size, UploadReport *rep) {
        bool multipart = false;
        int r;

        r = s3_put_file(s, store->dir_fd, name, &multipart, &rep->error);
        if (r < 0)
                return r;
        if (multipart)
                rep->multipart++;
        r = strv_extend(&rep->uploaded, name);
        if (r >= 0)
                r = remote_set(rs, name, size);
        return r;
}

/* upload_one()'s -EPERM, root's refusal of a file not the directory owner's (s3_put_file()): kept in *skip (the
 * first one; *skipped counts them) for the end of the sync, and the others go on. */
static void skip_refused(UploadReport *rep, char **skip, size_t *skipped) {
        if ((*skipped)++ == 0)
                *skip = TAKE_PTR(rep->error);
        rep->error = mfree(rep->error);
}

/* Whether a local backup is of this cluster (by its name). */
static bool local_has_cluster(const StoreEntry *e, size_t n, uint64_t cluster_id) {
        for (size_t i = 0; i < n; i++)
                if (e[i].parsed.cluster_id == cluster_id)
                        return true;
        return false;
}

/* Whether a local backup's sidecar says it was taken from this member of this cluster. */
static bool local_has_member(const StoreEntry *e, size_t n, uint64_t cluster_id, uint64_t member_id) {
        for (size_t i = 0; i < n; i++)
                if (e[i].has_sidecar && e[i].sidecar.cluster_id == cluster_id && e[i].sidecar.member_id == member_id)
                        return true;
        return false;
}

/* Whether this node may delete the remote backup name: its sidecar there says it was taken from an etcd member
 * this node's own backups were taken from. 1 yes; 0 no, with *ret_member (another member's) or *ret_why (the
 * sidecar could not be read there: gone, refused, not a sidecar; caller frees) set; -ENOMEM. */
static int remote_is_own(S3 *s, const char *name, const StoreEntry *local, size_t n_local, uint64_t *ret_member,
                         char **ret_why) {
        _cleanup_(s3_response_done) S3Response resp = {};
        _cleanup_(sidecar_done) Sidecar sc = {};
        _cleanup_free_ char *sc_name = NULL;
        const char *why;
        int r;

        *ret_member = 0;
        *ret_why = NULL;
        if (asprintf(&sc_name, "%s" SIDECAR_SUFFIX, name) < 0)
                return -ENOMEM;
        r = s3_get_small(s, sc_name, &resp, ret_why);
        if (r == -ENOMEM)
                return r;
        if (r == -EIO && resp.status == 403 && *ret_why)
                append_format(ret_why, "reading a sidecar needs s3:GetObject");
        if (r == -ENOENT)
                return (*ret_why = strdup("its sidecar is gone")) ? 0 : -ENOMEM;
        if (r < 0)
                return *ret_why || (*ret_why = strdup(strerror(-r))) ? 0 : -ENOMEM;
        r = sidecar_from_json(resp.data ? resp.data : "", resp.len, &sc, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !streq(sc.name, name))
                return asprintf(ret_why, "its sidecar there is not one: %s",
                                r < 0 ? why : "another backup's name") < 0 ? -ENOMEM : 0;
        if (local_has_member(local, n_local, sc.cluster_id, sc.member_id))
                return 1;
        *ret_member = sc.member_id;
        return 0;
}

/* The same policy over the remote backups, as this node's own: only backups of a cluster the local directory
 * has are planned over (a prefix that other clusters write too is not pruned by their backups' dates), and one
 * the plan drops is deleted only when its sidecar on the store says it was taken from a member the local
 * backups come from (another node writing the same prefix keeps its own). What is left so is a warning; so are
 * this node's own from before a restore (a new cluster id) or a member change, once no local backup has it. */
static int remote_retention(S3 *s, const RetentionPolicy *p, const Zone *zone, RemoteSet *rs, const StoreEntry *local, size_t n_local,
                            UploadReport *rep) {
        _cleanup_free_ RetentionItem *items = NULL;
        _cleanup_free_ char *unread_why = NULL;
        const char *member_first = NULL, *unread_first = NULL;
        uint64_t left_member = 0;
        size_t n = 0, planned, other_clusters = 0, other_members = 0, unread = 0;
        int r;

        items = calloc(rs->n ? rs->n : 1, sizeof *items);
        if (!items)
                return -ENOMEM;
        /* Sorted now, not by the first remote_find() inside the walk: that reordered rs->items under it, so that
         * the plan saw one backup twice and another not at all, and deleted a backup it keeps. */
        (void) remote_find(rs, "");
        for (size_t i = 0; i < rs->n; i++) {
                StoreName parsed;
                _cleanup_free_ char *sc = NULL;
                if (store_name_parse(rs->items[i].name, &parsed) < 0)
                        continue;
                if (asprintf(&sc, "%s" SIDECAR_SUFFIX, rs->items[i].name) < 0)
                        return -ENOMEM;
                /* As locally: a backup without a sidecar is not planned over, and stays. */
                if (!remote_find(rs, sc))
                        continue;
                if (!local_has_cluster(local, n_local, parsed.cluster_id)) {
                        other_clusters++;
                        continue;
                }
                items[n++] = (RetentionItem) { .name = rs->items[i].name, .created_usec = parsed.created_usec,
                                               .revision = parsed.revision, .cluster_id = parsed.cluster_id,
                                               .verified = true };
        }
        if (other_clusters > 0)
                append_format(&rep->warning, "remote retention on %s: %zu backup%s of another etcd cluster than "
                              "the local backups' not pruned here: another cluster's on this prefix (give each "
                              "cluster and node its own prefix in upload.url), or this node's from before a restore "
                              "gave the cluster a new id (delete those by hand when no longer needed)", s->u->url,
                              other_clusters, other_clusters == 1 ? "" : "s");
        if (n == 0)
                return 0;
        /* Those named later than now are kept, and the plan is over the others: a warning, not an upload
         * failure (lasting as long as that name does). */
        planned = retention_set_aside_future(items, n, now_usec(CLOCK_REALTIME), RETENTION_FUTURE_SLACK_USEC);
        if (planned < n) {
                char when[FORMAT_COMPACT_MAX], more[64] = "";

                if (n - planned > 1)
                        snprintf(more, sizeof more, " (and %zu more)", n - planned - 1);
                append_format(&rep->warning, "remote retention on %s: %s%s is named %s, later than now: the clock was "
                              "set back since, or was ahead when it was taken. Kept, and retention applied to the "
                              "others, until the clock passes that time", s->u->url, items[planned].name, more,
                              format_compact_utc(when, sizeof when, items[planned].created_usec));
        }
        if (planned == 0)
                return 0;
        r = retention_plan(p, zone, items, planned);
        if (r < 0)
                return free_and_format(&rep->error, "remote retention on %s: cannot plan: %s", s->u->url,
                                       strerror(-r)), r;
        /* Names point into rs, which deletions below do not change. */
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *sc = NULL;
                /* items[0] is the newest remote backup with a sidecar: never deleted. */
                _cleanup_free_ char *why = NULL;
                uint64_t member;

                if (items[i].keep || i == 0 || local_has(local, n_local, items[i].name))
                        continue;
                r = remote_is_own(s, items[i].name, local, n_local, &member, &why);
                if (r < 0)
                        return r;
                if (r == 0 && !why && other_members++ == 0)
                        member_first = items[i].name, left_member = member;
                if (r == 0 && why && unread++ == 0)
                        unread_first = items[i].name, unread_why = TAKE_PTR(why);
                if (r == 0)
                        continue;
                r = s3_delete(s, items[i].name, &rep->error);
                if (r < 0)
                        return r;
                /* Gone: said so even when its sidecar's removal fails below. */
                r = strv_extend(&rep->deleted, items[i].name);
                if (r < 0)
                        return r;
                if (asprintf(&sc, "%s" SIDECAR_SUFFIX, items[i].name) < 0)
                        return -ENOMEM;
                r = s3_delete(s, sc, &rep->error);
                if (r < 0)
                        return r;
        }
        if (other_members > 0)
                append_format(&rep->warning, "remote retention on %s: %zu backup%s the policy drops left alone, "
                              "taken from another etcd member than the local backups (%s: member %016" PRIx64 "): "
                              "another node's on this prefix (give each node its own prefix in upload.url), or this "
                              "node's from before its member changed or from another of etcd.endpoints (delete "
                              "those by hand when no longer needed)", s->u->url, other_members,
                              other_members == 1 ? "" : "s", member_first, left_member);
        if (unread > 0)
                append_format(&rep->warning, "remote retention on %s: %zu backup%s the policy drops left alone, "
                              "not known to be this node's (%s: %s)",
                              s->u->url, unread, unread == 1 ? "" : "s", unread_first, unread_why);
        return 0;
}

#define SWEEP_OFF "upload.abort_incomplete_after = 0 turns the sweep off, for a store whose lifecycle rule does it"
#define SWEEP_HINT "the store's user needs s3:ListBucketMultipartUploads and s3:AbortMultipartUpload; " SWEEP_OFF

/* Abort every unfinished multipart upload of a backup under the prefix
 * started before `before` (the store's clock, which SigV4 keeps within
 * minutes of ours). Our own uploads are all completed or aborted by now; an
 * upload whose <Initiated> cannot be read is left, its age unknown. The
 * uploads and the retention went well without it: a sweep that fails is a
 * warning (rep->warning), not a failed upload. Returns 0 or -ENOMEM. */
static int abort_incomplete(S3 *s, uint64_t before, UploadReport *rep) {
        _cleanup_(s3_uploads_done) S3Uploads uploads = {};
        _cleanup_free_ char *error = NULL;
        int r;

        r = multipart_list(s, &uploads, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return free_and_format(&rep->warning, "unfinished multipart uploads not swept: %s (%s)",
                                       error ? error : strerror(-r), r == -EIO ? SWEEP_HINT : SWEEP_OFF);
        for (size_t i = 0; i < uploads.n; i++) {
                const S3Upload *up = &uploads.uploads[i];
                const char *rest = startswith(up->key, s->prefix);
                _cleanup_free_ char *path = NULL, *detail = NULL, *entry = NULL;
                char when[FORMAT_RFC3339_MAX];

                if (!rest || strchr(rest, '/') || store_name_parse(rest, &(StoreName) {}) < 0 ||
                    up->initiated_usec == 0 || up->initiated_usec >= before)
                        continue;
                r = s3_object_path(s, rest, &path);
                if (r < 0)
                        return r;
                (void) format_rfc3339(when, sizeof when, up->initiated_usec);
                r = multipart_abort(s, path, up->upload_id, &detail);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        if (!rep->warning)
                                (void) free_and_format(&rep->warning, "the unfinished multipart upload of %s, started "
                                                       "%s, at %s cannot be aborted: %s (%s)", rest, when,
                                                       s->u->url, detail ? detail : strerror(-r), SWEEP_HINT);
                        continue;
                }
                if (r > 0)
                        continue;       /* gone already */
                if (asprintf(&entry, "%s (started %s)", rest, when) < 0)
                        return -ENOMEM;
                r = strv_consume(&rep->aborted, TAKE_PTR(entry));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The sync over a local listing: store and local given, or NULL and read
 * from storage_directory here (after the remote listing, so that the
 * remote's errors come first). */
static int sync_listing(const ConfigUpload *u, const RetentionPolicy *p, const Zone *zone,
                        const char *storage_directory, Store *store,
                        const StoreEntry *local, size_t n_local, UploadReport *ret) {
        _cleanup_(s3_done) S3 s = {};
        _cleanup_(s3_listing_done) S3Listing listing = {};
        _cleanup_(remote_set_done) RemoteSet rs = {};
        _cleanup_(store_freep) Store *own_store = NULL;
        _cleanup_free_ char *error = NULL, *conflict = NULL, *skip = NULL;
        StoreEntry *own = NULL;
        size_t n_own = 0, conflicts = 0, skipped = 0;
        uint64_t start = now_usec(CLOCK_REALTIME);
        int r;

        *ret = (UploadReport) {};
        r = s3_init(&s, u, &ret->error);
        if (r < 0)
                goto finish;
        r = s3_list(&s, &listing, &ret->error);
        if (r < 0)
                goto finish;
        for (size_t i = 0; i < listing.n; i++) {
                const char *rest = startswith(listing.objects[i].key, s.prefix);
                /* Only our own level: backups never hold a '/'. */
                if (!rest || !*rest || strchr(rest, '/'))
                        continue;
                r = remote_set(&rs, rest, listing.objects[i].size);
                if (r < 0)
                        goto finish;
        }
        s3_listing_done(&listing);

        if (!store) {
                r = store_open(storage_directory, false, &own_store, &error);
                if (r >= 0) {
                        r = store_list(own_store, &own, &n_own);
                        if (r < 0)
                                (void) free_and_format(&error, "cannot list %s: %s", storage_directory,
                                                       store_list_error(r));
                }
                if (r < 0) {
                        (void) free_and_format(&ret->error, "upload: %s", error ? error : strerror(-r));
                        goto finish;
                }
                store = own_store;
                local = own;
                n_local = n_own;
        }

        /* store_list() gives the newest first. A sidecar follows its backup. */
        for (size_t i = 0; i < n_local; i++) {
                const StoreEntry *e = &local[i];
                Remote *rb = remote_find(&rs, e->name);
                bool backup_sent = false;

                if (rb && rb->size != e->file_size) {
                        /* Never replaced: the copy there is good, or another node's. */
                        if (conflicts++ > 0)
                                continue;
                        if (e->has_sidecar && e->sidecar.file_size != e->file_size)
                                (void) free_and_format(&conflict, "%s has %" PRIu64 " bytes here, not the %" PRIu64
                                                       " its sidecar says (damaged since it was made); the copy at "
                                                       "%s is not replaced", e->name, e->file_size,
                                                       e->sidecar.file_size, u->url);
                        else
                                (void) free_and_format(&conflict, "%s has %" PRIu64 " bytes here, and %s holds %"
                                                       PRIu64 " under its name: not replaced (does another node "
                                                       "write backups of the same name there? give each node its "
                                                       "own prefix in upload.url)", e->name, e->file_size, u->url,
                                                       rb->size);
                        continue;
                }
                if (!rb && e->has_sidecar && e->sidecar.file_size != e->file_size) {
                        /* Not sent: off the machine it would count as good, and push a good copy out. The others
                         * go on, and so does remote retention (this one is not there to mislead it). */
                        if (skipped++ == 0)
                                (void) free_and_format(&skip, "%s has %" PRIu64 " bytes here, not the %" PRIu64 " its "
                                                       "sidecar says (damaged since it was made): not uploaded "
                                                       "(`etcd-backupctl verify %s` shows the damage; remove it and "
                                                       "its sidecar by hand, or fetch a good copy back)", e->name,
                                                       e->file_size, e->sidecar.file_size, e->name);
                        continue;
                }
                if (!rb) {
                        r = upload_one(&s, store, &rs, e->name, e->file_size, ret);
                        if (r == -EPERM) {
                                skip_refused(ret, &skip, &skipped);
                                continue;
                        }
                        if (r < 0)
                                goto finish;
                        backup_sent = true;
                }
                if (e->has_sidecar) {
                        _cleanup_free_ char *sc = NULL;
                        struct stat st;
                        Remote *rsc;
                        if (asprintf(&sc, "%s" SIDECAR_SUFFIX, e->name) < 0) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        if (fstatat(store->dir_fd, sc, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;       /* removed meanwhile: nothing to send */
                        rsc = remote_find(&rs, sc);
                        if (!backup_sent && rsc && rsc->size != (uint64_t) st.st_size) {
                                if (conflicts++ == 0)
                                        (void) free_and_format(&conflict, "%s has %jd bytes here, and %s holds %"
                                                               PRIu64 " under its name: not replaced (does another "
                                                               "node write backups of the same name there? give each "
                                                               "node its own prefix in upload.url)", sc,
                                                               (intmax_t) st.st_size, u->url, rsc->size);
                                continue;
                        }
                        if (backup_sent || !rsc) {
                                r = upload_one(&s, store, &rs, sc, (uint64_t) st.st_size, ret);
                                if (r == -EPERM) {
                                        skip_refused(ret, &skip, &skipped);
                                        continue;
                                }
                                if (r < 0)
                                        goto finish;
                        }
                }
        }

        /* Remote retention only after every upload went well, as below when one fails. */
        if (conflicts > 0) {
                if (conflicts > 1)
                        append_format(&conflict, "and %zu more like it", conflicts - 1);
                append_format(&conflict, "remote retention and the sweep of unfinished uploads wait until it is "
                              "mended (the copy there moved away, or the local backup gone by retention)");
                ret->error = TAKE_PTR(conflict);
                r = -EEXIST;
                goto finish;
        }
        if (u->retention && p && !retention_policy_is_disabled(p)) {
                r = remote_retention(&s, p, zone, &rs, local, n_local, ret);
                if (r < 0)
                        goto finish;
        }
        if (u->abort_incomplete_after_usec > 0 && start > u->abort_incomplete_after_usec) {
                r = abort_incomplete(&s, start - u->abort_incomplete_after_usec, ret);
                if (r < 0)
                        goto finish;
        }
        r = 0;
finish:
        /* Said whatever else went wrong after. */
        if (skipped > 0) {
                if (skipped > 1)
                        append_format(&skip, "and %zu more not uploaded", skipped - 1);
                if (r >= 0)
                        append_format(&skip, "the others were uploaded");
                if (ret->error)
                        append_format(&ret->error, "%s", skip);
                else
                        ret->error = TAKE_PTR(skip);
                if (r >= 0)
                        r = -EIO;
        }
        if (r == -ENOMEM && !ret->error)
                (void) free_and_format(&ret->error, "upload to %s: out of memory", u->url ? u->url : "?");
        if (r < 0 && !ret->error)
                (void) free_and_format(&ret->error, "upload to %s: %s", u->url ? u->url : "?", strerror(-r));
        store_entries_free(own, n_own);
        return r;
}

int upload_sync(const ConfigUpload *u, const RetentionPolicy *p, const Zone *zone, const char *storage_directory,
                UploadReport *ret) {
        return sync_listing(u, p, zone, storage_directory, NULL, NULL, 0, ret);
}

int upload_sync_entries(const ConfigUpload *u, const RetentionPolicy *p, const Zone *zone, Store *store,
                        const StoreEntry *local, size_t n_local, UploadReport *ret) {
        return sync_listing(u, p, zone, NULL, store, local, n_local, ret);
}
