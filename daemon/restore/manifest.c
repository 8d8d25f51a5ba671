/* SPDX-License-Identifier: MIT */
/*
 * manifest.c — static-pod manifests read with libyaml. The text is first run
 * through the event parser once to bound its nesting (libyaml's document
 * loader has no limit of its own), then loaded as a document and walked by
 * fixed paths (metadata.name, spec.containers[0], spec.volumes), so that an
 * alias can make a node reachable twice but never make the walk deeper.
 * Every value read is checked for its shape; a shape that does not fit is an
 * error naming the file, the line and the path in the pod.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "restore/manifest.h"
#include "util/io.h"
#include "util/path.h"
#include "util/str.h"

typedef struct Walk {
        yaml_document_t *doc;
        const char *file;
        char **error;
        size_t copied;          /* bytes of scalars copied out: aliases may repeat one scalar many times */
} Walk;

_printf_(3, 4) static int walk_error(Walk *w, const yaml_node_t *node, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;
        int r;

        if (!w->error)
                return -EBADMSG;
        va_start(ap, fmt);
        r = vasprintf(&what, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        free(*w->error);
        if (asprintf(w->error, "%s:%zu: %s", w->file, node ? node->start_mark.line + 1 : (size_t) 1, what) < 0) {
                *w->error = NULL;
                return -ENOMEM;
        }
        return -EBADMSG;
}

static yaml_node_t *node_at(Walk *w, int index) {
        return yaml_document_get_node(w->doc, index);
}

static size_t seq_len(const yaml_node_t *node) {
        return (size_t) (node->data.sequence.items.top - node->data.sequence.items.start);
}

/* The value under key in a mapping, NULL when absent; -EBADMSG for a key given twice. */
static int map_get(Walk *w, yaml_node_t *map, const char *key, const char *where, yaml_node_t **ret) {
        yaml_node_t *found = NULL;
        size_t key_len = strlen(key);

        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *k = node_at(w, p->key);

                /* The kubelet's decoder applies merge keys and libyaml does not: a key that came
                 * from one would be missed here, so none is taken. */
                if (k && k->type == YAML_SCALAR_NODE &&
                    ((k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && k->data.scalar.length == 2 &&
                      memcmp(k->data.scalar.value, "<<", 2) == 0) ||
                     (k->tag && streq((const char *) k->tag, "tag:yaml.org,2002:merge"))))
                        return walk_error(w, k, "%s has a YAML merge key (<<), which this reader does not apply: "
                                          "write its keys out", *where ? where : "the document");
                if (!k || k->type != YAML_SCALAR_NODE || k->data.scalar.length != key_len ||
                    memcmp(k->data.scalar.value, key, key_len) != 0)
                        continue;
                if (found)
                        return walk_error(w, k, "%s%s%s is given twice", where, *where ? "." : "", key);
                found = node_at(w, p->value);
                if (!found)
                        return walk_error(w, k, "%s%s%s has no value", where, *where ? "." : "", key);
        }
        *ret = found;
        return 0;
}

static int expect(Walk *w, const yaml_node_t *node, yaml_node_type_t type, const char *what) {
        static const char *const names[] = {
                [YAML_SCALAR_NODE] = "a string",
                [YAML_SEQUENCE_NODE] = "a list",
                [YAML_MAPPING_NODE] = "a mapping",
        };

        if (node->type == type)
                return 0;
        return walk_error(w, node, "%s is not %s", what, names[type]);
}

/* A scalar as a C string (caller frees); a NUL inside it is refused. */
static int scalar_dup(Walk *w, const yaml_node_t *node, const char *what, char **ret) {
        int r;

        r = expect(w, node, YAML_SCALAR_NODE, what);
        if (r < 0)
                return r;
        if (memchr(node->data.scalar.value, 0, node->data.scalar.length))
                return walk_error(w, node, "%s contains a NUL byte", what);
        w->copied += node->data.scalar.length;
        if (w->copied > MANIFEST_MAX_COPIED) {
                r = walk_error(w, node, "%s: the manifest's aliases repeat more than %zu MiB of text", what,
                               MANIFEST_MAX_COPIED / 1024 / 1024);
                return r == -ENOMEM ? r : -E2BIG;
        }
        *ret = strndup((const char *) node->data.scalar.value, node->data.scalar.length);
        return *ret ? 0 : -ENOMEM;
}

/* An optional string field of a mapping: *ret stays NULL when absent. */
static int map_string(Walk *w, yaml_node_t *map, const char *key, const char *where, bool required,
                      char **ret) {
        _cleanup_free_ char *what = NULL;
        yaml_node_t *v = NULL;
        int r;

        r = map_get(w, map, key, where, &v);
        if (r < 0)
                return r;
        if (asprintf(&what, "%s.%s", where, key) < 0)
                return -ENOMEM;
        if (!v) {
                if (required)
                        return walk_error(w, map, "%s has no %s", where, key);
                return 0;
        }
        return scalar_dup(w, v, what, ret);
}

static int parse_bool(Walk *w, const yaml_node_t *node, const char *what, bool *ret) {
        static const char *const yes[] = { "true", "yes", "on", "y" }, *const no[] = { "false", "no", "off", "n" };
        _cleanup_free_ char *s = NULL;
        int r;

        r = scalar_dup(w, node, what, &s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return *ret = true, 0;
                if (strcasecmp(s, no[i]) == 0)
                        return *ret = false, 0;
        }
        return walk_error(w, node, "%s is \"%s\", expected true or false", what, s);
}

/* ---- command line ------------------------------------------------------------------ */

/* The flag name in arg ("--name=x" → "name=x"), or NULL when arg is not a flag. */
static const char *flag_body(const char *arg) {
        if (arg[0] != '-' || arg[1] == '\0')
                return NULL;
        arg += arg[1] == '-' ? 2 : 1;
        return *arg && *arg != '-' && *arg != '=' ? arg : NULL;
}

static int append_words(Walk *w, Manifest *m, unsigned **lines, yaml_node_t *list, const char *what) {
        size_t n;
        int r;

        r = expect(w, list, YAML_SEQUENCE_NODE, what);
        if (r < 0)
                return r;
        n = seq_len(list);
        if (n > MANIFEST_MAX_ITEMS - m->argc)
                return walk_error(w, list, "%s has more than %d words", what, MANIFEST_MAX_ITEMS), -E2BIG;
        char **argv = reallocarray(m->argv, m->argc + n + 1, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        m->argv = argv;
        m->argv[m->argc] = NULL;
        unsigned *l = reallocarray(*lines, m->argc + n + 1, sizeof(unsigned));
        if (!l)
                return -ENOMEM;
        *lines = l;
        for (size_t i = 0; i < n; i++) {
                yaml_node_t *item = node_at(w, list->data.sequence.items.start[i]);
                _cleanup_free_ char *item_what = NULL;

                if (!item)
                        return walk_error(w, list, "%s[%zu] is missing", what, i);
                if (asprintf(&item_what, "%s[%zu]", what, i) < 0)
                        return -ENOMEM;
                r = scalar_dup(w, item, item_what, &m->argv[m->argc]);
                if (r < 0)
                        return r;
                l[m->argc] = (unsigned) item->start_mark.line + 1;
                m->argv[++m->argc] = NULL;
        }
        return 0;
}

/* Split argv (after the program) into flags: "--f=v", "--f v" (the next word, unless it is a flag itself),
 * "--f" alone; "--" ends the flags. Words that are not flags are left to argv. from (or NULL): the valueFrom
 * variable each word uses. */
static int split_flags(Manifest *m, const unsigned *lines, const char *const *from, size_t first) {
        m->flags = calloc(m->argc + 1, sizeof(ManifestFlag));
        if (!m->flags)
                return -ENOMEM;
        for (size_t i = first; i < m->argc; i++) {
                const char *body = flag_body(m->argv[i]), *eq;
                ManifestFlag *f = &m->flags[m->n_flags];

                if (streq(m->argv[i], "--"))
                        break;
                if (!body)
                        continue;
                eq = strchr(body, '=');
                f->line = lines[i];
                f->from = from ? from[i] : NULL;
                f->name = eq ? strndup(body, (size_t) (eq - body)) : strdup(body);
                if (eq)
                        f->value = strdup(eq + 1);
                else if (i + 1 < m->argc && !flag_body(m->argv[i + 1]) && !streq(m->argv[i + 1], "--")) {
                        f->from = from ? from[i + 1] : NULL;
                        f->value = strdup(m->argv[++i]);
                }
                else
                        f->value = strdup("");
                m->n_flags++;
                if (!f->name || !f->value)
                        return -ENOMEM;
        }
        return 0;
}

/* What $(VAR) references may add to a manifest, all values together: entries that each repeat the one before
 * would otherwise grow without bound (twelve of eight references: 137 GB from 1 KiB). */
#define EXPANSION_MAX MANIFEST_MAX_BYTES

/* s with "$(NAME)" replaced by NAME's value in env and "$$" by "$", as the kubelet expands a container's command,
 * args and env values: a reference to a name env does not define, an empty one "$()" and an unclosed "$(" are kept
 * as written, and what follows a kept reference is not looked at again. *ret_from is the first name of from (set
 * by valueFrom) that a kept reference names, or NULL: "$$(NAME)" gives the same text and names none. What it adds to
 * s is taken from *budget: -E2BIG past it, -ENOMEM. */
static int expand_refs(const char *s, char *const *env, char *const *from, size_t *budget, char **ret,
                       const char **ret_from) {
        _cleanup_free_ char *out = NULL;
        const char *last_close = strrchr(s, ')');
        size_t len = 0, in = strlen(s), max = in + *budget;
        FILE *f = open_memstream(&out, &len);
        bool failed;

        *ret_from = NULL;
        if (!f)
                return -ENOMEM;
        for (const char *p = s; *p && len <= max;) {
                const char *close, *value = NULL;

                if (p[0] == '$' && p[1] == '$') {
                        fputc('$', f);
                        p += 2;
                } else if (p[0] == '$' && p[1] == '(' && last_close && last_close > p + 1) {
                        close = strchr(p + 2, ')');
                        if (close > p + 2) {
                                _cleanup_free_ char *name = strndup(p + 2, (size_t) (close - p - 2));
                                if (!name) {
                                        fclose(f);
                                        return -ENOMEM;
                                }
                                /* A name with '=' is no variable's (the kubelet leaves it as written). */
                                value = strchr(name, '=') ? NULL : strv_env_get(env, name);
                                for (char *const *n = from; !value && !*ret_from && n && *n; n++)
                                        if (streq(*n, name))
                                                *ret_from = *n;
                        }
                        if (value)
                                fputs(value, f);
                        else
                                fwrite(p, 1, (size_t) (close + 1 - p), f);
                        p = close + 1;
                } else
                        fputc(*p++, f);
                fflush(f);
        }
        failed = ferror(f);
        if (fclose(f) != 0 || failed)
                return -ENOMEM;
        if (len > max)
                return -E2BIG;
        if (len > in)
                *budget -= len - in;
        *ret = TAKE_PTR(out);
        return 0;
}

/* Drop NAME's entries ("NAME=..." or "NAME") from l. */
static void env_drop(char **l, const char *name) {
        size_t n = strlen(name), j = 0;

        for (size_t i = 0; l && l[i]; i++)
                if (strncmp(l[i], name, n) == 0 && (l[i][n] == '=' || l[i][n] == 0))
                        free(l[i]);
                else
                        l[j++] = l[i];
        if (l)
                l[j] = NULL;
}

/* spec.containers[0].env: each {name, value} as "NAME=VALUE" (expanded against the ones before it), in order, a
 * name without a value (nor valueFrom) as "NAME=", as the kubelet sets it; a name set by valueFrom (a field, a
 * secret, a configMap: not known here) is kept in m->env_from instead, and references to it stay as written (a
 * value that uses one is not known either, and goes there too). A later entry of the same name replaces an earlier
 * one, expanded against it. */
static int read_env(Walk *w, Manifest *m, yaml_node_t *env, size_t *budget) {
        static const char where[] = "spec.containers[0].env";
        int r;

        r = expect(w, env, YAML_SEQUENCE_NODE, where);
        if (r < 0)
                return r;
        if (seq_len(env) > MANIFEST_MAX_ITEMS)
                return walk_error(w, env, "%s has more than %d items", where, MANIFEST_MAX_ITEMS), -E2BIG;
        for (size_t i = 0; i < seq_len(env); i++) {
                yaml_node_t *item = node_at(w, env->data.sequence.items.start[i]), *from = NULL;
                _cleanup_free_ char *name = NULL, *value = NULL, *expanded = NULL, *entry = NULL;
                const char *uses = NULL;
                bool unknown;
                char what[64];

                snprintf(what, sizeof what, "%s[%zu]", where, i);
                if (!item)
                        return walk_error(w, env, "%s is missing", what);
                r = expect(w, item, YAML_MAPPING_NODE, what);
                if (r >= 0)
                        r = map_string(w, item, "name", what, true, &name);
                if (r >= 0)
                        r = map_string(w, item, "value", what, false, &value);
                if (r >= 0)
                        r = map_get(w, item, "valueFrom", what, &from);
                if (r < 0)
                        return r;
                if (!*name || strchr(name, '='))
                        return walk_error(w, item, "%s.name \"%s\" is not a variable name", what, name), -EBADMSG;
                /* Expanded against the entries before it, an earlier one of the same name among them.
                 * An empty value beside a valueFrom is no value: the kubelet takes valueFrom. */
                if ((value && *value) || !from) {
                        r = expand_refs(value ? value : "", m->env, m->env_from, budget, &expanded, &uses);
                        if (r == -E2BIG)
                                return walk_error(w, item, "%s (%s): $(VAR) references add more than %zu bytes "
                                                  "to the manifest", what, name, EXPANSION_MAX), r;
                        if (r < 0)
                                return -ENOMEM;
                }
                /* A value that uses a valueFrom variable is not known here either. */
                unknown = !expanded || uses;
                env_drop(m->env, name);
                env_drop(m->env_from, name);
                if (unknown)
                        r = strv_extend(&m->env_from, name);
                else if (asprintf(&entry, "%s=%s", name, expanded) < 0)
                        return -ENOMEM;
                else
                        r = strv_consume(&m->env, TAKE_PTR(entry));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* An absolute path without "//", "." components and a trailing '/', ".."
 * taking the component before it away (never above "/"), in place ("/"
 * stays "/"). */
static void path_clean_in_place(char *path) {
        char *out = path;

        for (const char *p = path; *p;) {
                size_t n;

                while (*p == '/')
                        p++;
                n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        while (out > path && *--out != '/')
                                ;
                        p += n;
                        continue;
                }
                if (n == 0 || (n == 1 && p[0] == '.')) {
                        p += n;
                        continue;
                }
                *out++ = '/';
                memmove(out, p, n);
                out += n;
                p += n;
        }
        if (out == path)
                *out++ = '/';
        *out = '\0';
}
static int read_container(Walk *w, Manifest *m, yaml_node_t *c) {
        static const char where[] = "spec.containers[0]";
        _cleanup_free_ unsigned *lines = NULL;
        _cleanup_free_ const char **from = NULL;
        yaml_node_t *command = NULL, *args = NULL, *mounts = NULL, *env = NULL;
        size_t first = 0, budget = EXPANSION_MAX;
        int r;

        r = expect(w, c, YAML_MAPPING_NODE, where);
        if (r < 0)
                return r;
        r = map_string(w, c, "name", where, false, &m->container);
        if (r < 0)
                return r;
        r = map_get(w, c, "command", where, &command);
        if (r >= 0)
                r = map_get(w, c, "args", where, &args);
        if (r >= 0)
                r = map_get(w, c, "volumeMounts", where, &mounts);
        if (r >= 0)
                r = map_get(w, c, "env", where, &env);
        if (r >= 0 && env)
                r = read_env(w, m, env, &budget);
        if (r < 0)
                return r;
        if (command) {
                r = append_words(w, m, &lines, command, "spec.containers[0].command");
                if (r < 0)
                        return r;
                if (m->argc > 0) {
                        m->program = strdup(m->argv[0]);
                        if (!m->program)
                                return -ENOMEM;
                        first = 1;
                }
        }
        if (args) {
                r = append_words(w, m, &lines, args, "spec.containers[0].args");
                if (r < 0)
                        return r;
        }
        /* Always: "$$" is "$" even in a pod without env. from[i]: the valueFrom variable word i uses (m->env_from
         * no longer changes). */
        from = calloc(m->argc + 1, sizeof(char *));
        if (!from)
                return -ENOMEM;
        for (size_t i = 0; i < m->argc; i++) {
                char *expanded = NULL;

                r = expand_refs(m->argv[i], m->env, m->env_from, &budget, &expanded, &from[i]);
                if (r == -E2BIG)
                        return walk_error(w, c, "%s's word %zu: $(VAR) references add more than %zu bytes "
                                          "to the manifest", where, i, EXPANSION_MAX), r;
                if (r < 0)
                        return r;
                free(m->argv[i]);
                m->argv[i] = expanded;
        }
        if (m->program && !streq(m->program, m->argv[0])) {
                free(m->program);
                m->program = strdup(m->argv[0]);
                if (!m->program)
                        return -ENOMEM;
        }
        r = split_flags(m, lines, from, first);
        if (r < 0)
                return r;

        if (!mounts)
                return 0;
        r = expect(w, mounts, YAML_SEQUENCE_NODE, "spec.containers[0].volumeMounts");
        if (r < 0)
                return r;
        if (seq_len(mounts) > MANIFEST_MAX_ITEMS)
                return walk_error(w, mounts, "spec.containers[0].volumeMounts has more than %d items",
                                  MANIFEST_MAX_ITEMS), -E2BIG;
        m->mounts = calloc(seq_len(mounts) + 1, sizeof(ManifestMount));
        if (!m->mounts)
                return -ENOMEM;
        for (size_t i = 0; i < seq_len(mounts); i++) {
                yaml_node_t *item = node_at(w, mounts->data.sequence.items.start[i]), *ro = NULL;
                ManifestMount *mount = &m->mounts[m->n_mounts++];
                char what[64];

                snprintf(what, sizeof what, "spec.containers[0].volumeMounts[%zu]", i);
                if (!item)
                        return walk_error(w, mounts, "%s is missing", what);
                r = expect(w, item, YAML_MAPPING_NODE, what);
                if (r >= 0)
                        r = map_string(w, item, "name", what, true, &mount->name);
                if (r >= 0)
                        r = map_string(w, item, "mountPath", what, true, &mount->mount_path);
                if (r >= 0)
                        r = map_string(w, item, "subPath", what, false, &mount->sub_path);
                if (r >= 0)
                        r = map_get(w, item, "readOnly", what, &ro);
                if (r >= 0 && ro)
                        r = parse_bool(w, ro, "readOnly", &mount->read_only);
                if (r < 0)
                        return r;
                if (mount->mount_path[0] != '/')
                        return walk_error(w, item, "%s.mountPath \"%s\" is not an absolute path", what,
                                          mount->mount_path);
                /* The runtime mounts at the clean path ('..' resolved within the container's root);
                 * the kubelet refuses a subPath that leaves the volume. */
                path_clean_in_place(mount->mount_path);
                if (mount->sub_path && (mount->sub_path[0] == '/' || path_has_dotdot(mount->sub_path)))
                        return walk_error(w, item, "%s.subPath \"%s\" is not a relative path below the volume "
                                          "(the kubelet refuses it)", what, mount->sub_path);
        }
        return 0;
}

static int read_volumes(Walk *w, Manifest *m, yaml_node_t *volumes) {
        int r;

        r = expect(w, volumes, YAML_SEQUENCE_NODE, "spec.volumes");
        if (r < 0)
                return r;
        if (seq_len(volumes) > MANIFEST_MAX_ITEMS)
                return walk_error(w, volumes, "spec.volumes has more than %d items", MANIFEST_MAX_ITEMS), -E2BIG;
        m->volumes = calloc(seq_len(volumes) + 1, sizeof(ManifestVolume));
        if (!m->volumes)
                return -ENOMEM;
        for (size_t i = 0; i < seq_len(volumes); i++) {
                yaml_node_t *item = node_at(w, volumes->data.sequence.items.start[i]), *hp = NULL;
                ManifestVolume *v = &m->volumes[m->n_volumes++];
                char what[64], hp_what[80];

                snprintf(what, sizeof what, "spec.volumes[%zu]", i);
                snprintf(hp_what, sizeof hp_what, "%s.hostPath", what);
                if (!item)
                        return walk_error(w, volumes, "%s is missing", what);
                r = expect(w, item, YAML_MAPPING_NODE, what);
                if (r >= 0)
                        r = map_string(w, item, "name", what, true, &v->name);
                if (r >= 0)
                        r = map_get(w, item, "hostPath", what, &hp);
                if (r < 0)
                        return r;
                if (!hp)
                        continue; /* emptyDir, configMap, …: nothing on the host to find */
                r = expect(w, hp, YAML_MAPPING_NODE, hp_what);
                if (r >= 0)
                        r = map_string(w, hp, "path", hp_what, true, &v->host_path);
                if (r >= 0)
                        r = map_string(w, hp, "type", hp_what, false, &v->host_path_type);
                if (r < 0)
                        return r;
                if (v->host_path[0] != '/')
                        return walk_error(w, hp, "%s.path \"%s\" is not an absolute path", hp_what, v->host_path);
                if (path_has_dotdot(v->host_path))
                        return walk_error(w, hp, "%s.path \"%s\" has a '..' component (the kubelet refuses it)",
                                          hp_what, v->host_path);
        }
        return 0;
}

static int read_pod(Walk *w, Manifest *m) {
        yaml_node_t *root = yaml_document_get_root_node(w->doc), *kind = NULL, *meta = NULL, *spec = NULL,
                    *containers = NULL, *volumes = NULL;
        int r;

        if (!root)
                return walk_error(w, NULL, "the file is empty, expected a Pod");
        if (root->type != YAML_MAPPING_NODE)
                return walk_error(w, root, "the document is not a mapping, expected a Pod");
        r = map_get(w, root, "kind", "", &kind);
        if (r >= 0)
                r = map_get(w, root, "metadata", "", &meta);
        if (r >= 0)
                r = map_get(w, root, "spec", "", &spec);
        if (r < 0)
                return r;
        if (kind && (kind->type != YAML_SCALAR_NODE || kind->data.scalar.length != 3 ||
                     memcmp(kind->data.scalar.value, "Pod", 3) != 0))
                return walk_error(w, kind, "kind is not Pod");
        if (meta) {
                r = expect(w, meta, YAML_MAPPING_NODE, "metadata");
                if (r >= 0)
                        r = map_string(w, meta, "name", "metadata", false, &m->pod_name);
                if (r < 0)
                        return r;
        }
        if (!spec)
                return walk_error(w, root, "the pod has no spec");
        r = expect(w, spec, YAML_MAPPING_NODE, "spec");
        if (r >= 0)
                r = map_get(w, spec, "containers", "spec", &containers);
        if (r >= 0)
                r = map_get(w, spec, "volumes", "spec", &volumes);
        if (r < 0)
                return r;
        if (!containers)
                return walk_error(w, spec, "spec has no containers");
        r = expect(w, containers, YAML_SEQUENCE_NODE, "spec.containers");
        if (r < 0)
                return r;
        if (seq_len(containers) == 0 || !node_at(w, containers->data.sequence.items.start[0]))
                return walk_error(w, containers, "spec.containers is empty");
        r = read_container(w, m, node_at(w, containers->data.sequence.items.start[0]));
        if (r < 0)
                return r;
        return volumes ? read_volumes(w, m, volumes) : 0;
}

/* ---- entry points -------------------------------------------------------------------- */

static void parser_deletep(yaml_parser_t *p) {
        yaml_parser_delete(p);
}

static int parser_error(const char *file, const yaml_parser_t *p, char **ret_error) {
        if (p->error == YAML_MEMORY_ERROR)
                return -ENOMEM;
        if (p->context)
                free_and_format(ret_error, "%s:%zu: not YAML: %s %s (line %zu)", file, p->problem_mark.line + 1,
                                p->problem ? p->problem : "syntax error", p->context, p->context_mark.line + 1);
        else
                free_and_format(ret_error, "%s:%zu: not YAML: %s", file, p->problem_mark.line + 1,
                                p->problem ? p->problem : "syntax error");
        return -EBADMSG;
}

/* One pass over the events to bound the nesting before the document is built. */
static int check_depth(const char *file, const void *data, size_t size, char **ret_error) {
        _cleanup_(parser_deletep) yaml_parser_t parser = {};
        unsigned depth = 0;

        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, data, size);
        for (;;) {
                yaml_event_t event;
                yaml_event_type_t type;
                size_t line;

                if (!yaml_parser_parse(&parser, &event))
                        return parser_error(file, &parser, ret_error);
                type = event.type;
                line = event.start_mark.line + 1;
                yaml_event_delete(&event);
                if (type == YAML_STREAM_END_EVENT)
                        return 0;
                if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
                        if (++depth > MANIFEST_MAX_DEPTH) {
                                free_and_format(ret_error, "%s:%zu: nested deeper than %d levels", file, line,
                                          MANIFEST_MAX_DEPTH);
                                return -E2BIG;
                        }
                } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT)
                        depth--;
        }
}

Manifest *manifest_free(Manifest *m) {
        if (!m)
                return NULL;
        free(m->file);
        free(m->pod_name);
        free(m->container);
        free(m->program);
        strv_free(m->argv);
        strv_free(m->env);
        strv_free(m->env_from);
        for (size_t i = 0; m->flags && i < m->n_flags; i++) {
                free(m->flags[i].name);
                free(m->flags[i].value);
        }
        free(m->flags);
        for (size_t i = 0; m->mounts && i < m->n_mounts; i++) {
                free(m->mounts[i].name);
                free(m->mounts[i].mount_path);
                free(m->mounts[i].sub_path);
        }
        free(m->mounts);
        for (size_t i = 0; m->volumes && i < m->n_volumes; i++) {
                free(m->volumes[i].name);
                free(m->volumes[i].host_path);
                free(m->volumes[i].host_path_type);
        }
        free(m->volumes);
        free(m);
        return NULL;
}

int manifest_parse(const char *file, const void *data, size_t size, Manifest **ret, char **ret_error) {
        _cleanup_(manifest_freep) Manifest *m = NULL;
        _cleanup_(parser_deletep) yaml_parser_t parser = {};
        yaml_document_t doc;
        Walk w;
        int r;

        if (size > MANIFEST_MAX_BYTES) {
                free_and_format(ret_error, "%s: larger than %zu bytes, not a manifest", file, MANIFEST_MAX_BYTES);
                return -EFBIG;
        }
        r = check_depth(file, data, size, ret_error);
        if (r < 0)
                return r;
        m = calloc(1, sizeof *m);
        if (!m || !(m->file = strdup(file)))
                return -ENOMEM;
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, data, size);
        if (!yaml_parser_load(&parser, &doc))
                return parser_error(file, &parser, ret_error);
        w = (Walk) { .doc = &doc, .file = file, .error = ret_error };
        r = read_pod(&w, m);
        yaml_document_delete(&doc);
        if (r == -ENOMEM)
                free_and_format(ret_error, "%s: out of memory", file);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int manifest_load(const char *path, Manifest **ret, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        r = read_regular_file(path, MANIFEST_MAX_BYTES, &text, &size);
        if (r == -EMEDIUMTYPE) {
                free_and_format(ret_error, "%s is not a regular file (a FIFO, device or directory): not a manifest",
                                path);
                return -EBADMSG;
        }
        if (r == -EFBIG) {
                free_and_format(ret_error, "%s: larger than %zu bytes, not a manifest", path, MANIFEST_MAX_BYTES);
                return r;
        }
        if (r < 0) {
                free_and_format(ret_error, "cannot read %s: %s", path, strerror(-r));
                return r;
        }
        return manifest_parse(path, text, size, ret, ret_error);
}

int manifest_from_argv(const char *file, char *const *argv, Manifest **ret) {
        _cleanup_(manifest_freep) Manifest *m = NULL;
        _cleanup_free_ unsigned *lines = NULL;
        size_t n = strv_length(argv);
        int r;

        if (n > MANIFEST_MAX_ITEMS)
                return -E2BIG;
        m = calloc(1, sizeof *m);
        if (!m || !(m->file = strdup(file)))
                return -ENOMEM;
        lines = calloc(n + 1, sizeof(unsigned));
        m->argv = calloc(n + 1, sizeof(char *));
        if (!lines || !m->argv)
                return -ENOMEM;
        for (; m->argc < n; m->argc++)
                if (!(m->argv[m->argc] = strdup(argv[m->argc])))
                        return -ENOMEM;
        if (n > 0 && !(m->program = strdup(argv[0])))
                return -ENOMEM;
        r = split_flags(m, lines, NULL, n > 0 ? 1 : 0);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

void manifest_kubernetes_flag_names(Manifest *m) {
        for (size_t i = 0; m && i < m->n_flags; i++)
                for (char *c = m->flags[i].name; *c; c++)
                        if (*c == '_')
                                *c = '-';
}

static const char *flag_key(const char *flag) {
        return flag[0] == '-' ? flag + (flag[1] == '-' ? 2 : 1) : flag;
}

char *const *manifest_env(const Manifest *m) {
        static char *const none[] = { NULL };
        return m->env ? m->env : none;
}

const char *manifest_flag_unresolved(const Manifest *m, const char *flag, bool every) {
        const char *key = flag_key(flag);

        for (size_t i = m->n_flags; i > 0; i--)
                if (streq(m->flags[i - 1].name, key) && (m->flags[i - 1].from || !every))
                        return m->flags[i - 1].from;
        return NULL;
}

const char *manifest_flag(const Manifest *m, const char *flag, unsigned *ret_line) {
        const char *key = flag_key(flag);

        for (size_t i = m->n_flags; i > 0; i--)
                if (streq(m->flags[i - 1].name, key)) {
                        if (ret_line)
                                *ret_line = m->flags[i - 1].line;
                        return m->flags[i - 1].value;
                }
        if (ret_line)
                *ret_line = 0;
        return NULL;
}

int manifest_flag_all(const Manifest *m, const char *flag, char ***ret) {
        const char *key = flag_key(flag);
        char **l = NULL;
        int n = 0, r;

        for (size_t i = 0; i < m->n_flags; i++) {
                if (!streq(m->flags[i].name, key))
                        continue;
                r = strv_extend(&l, m->flags[i].value);
                if (r < 0) {
                        strv_free(l);
                        return r;
                }
                n++;
        }
        *ret = l;
        return n;
}

/* Whether path is absolute with no empty, "." or ".." components (a trailing '/' is allowed). */
static bool path_is_clean(const char *path) {
        if (path[0] != '/')
                return false;
        for (const char *p = path + 1; *p;) {
                size_t n = strcspn(p, "/");

                if ((n == 0 && p[0] == '/') || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p += n;
                if (*p == '/')
                        p++;
        }
        return true;
}

/* The rest of path below prefix ("" for the prefix itself), or NULL when prefix does not contain path. */
static const char *path_below(const char *path, const char *prefix) {
        size_t n = strlen(prefix);

        while (n > 1 && prefix[n - 1] == '/')
                n--;
        if (n == 1 && prefix[0] == '/')
                return path + 1;
        if (strncmp(path, prefix, n) != 0)
                return NULL;
        if (path[n] == '\0')
                return path + n;
        return path[n] == '/' ? path + n + 1 : NULL;
}

/* base/sub/rest with one '/' between the parts that are not empty, no trailing '/' ("/" stays "/"). */
static char *join_host_path(const char *base, const char *sub, const char *rest) {
        const char *parts[] = { base, sub, rest };
        size_t n = 0;
        char *s;

        s = malloc(strlen(base) + (sub ? strlen(sub) : 0) + strlen(rest) + 4);
        if (!s)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                const char *p = parts[i];
                size_t len;

                if (!p)
                        continue;
                while (*p == '/')
                        p++;
                len = strlen(p);
                while (len > 0 && p[len - 1] == '/')
                        len--;
                if (len == 0)
                        continue;
                s[n++] = '/';
                memcpy(s + n, p, len);
                n += len;
        }
        if (n == 0)
                s[n++] = '/';
        s[n] = '\0';
        return s;
}

const ManifestMount *manifest_mount_inside(const Manifest *m, const char *path) {
        for (size_t i = 0; i < m->n_mounts; i++) {
                const char *r = path_below(m->mounts[i].mount_path, path);

                if (r && *r)
                        return &m->mounts[i];
        }
        return NULL;
}

int manifest_host_path(const Manifest *m, const char *path, char **ret, const ManifestMount **ret_mount) {
        const ManifestMount *best = NULL;
        const char *rest = NULL;
        size_t best_len = 0;
        char *joined;

        if (!path_is_clean(path))
                return -EINVAL;
        for (size_t i = 0; i < m->n_mounts; i++) {
                const char *r = path_below(path, m->mounts[i].mount_path);
                size_t len = strlen(m->mounts[i].mount_path);

                if (r && (!best || len > best_len)) {
                        best = &m->mounts[i];
                        best_len = len;
                        rest = r;
                }
        }
        if (!best)
                return -ENOENT;
        if (ret_mount)
                *ret_mount = best;
        for (size_t i = 0; i < m->n_volumes; i++) {
                const ManifestVolume *v = &m->volumes[i];

                if (!streq(v->name, best->name))
                        continue;
                if (!v->host_path)
                        return -EMEDIUMTYPE;
                joined = join_host_path(v->host_path, best->sub_path, rest);
                if (!joined)
                        return -ENOMEM;
                *ret = joined;
                return 0;
        }
        return -ENXIO;
}
