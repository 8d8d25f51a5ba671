/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * config-internal.h — what the configuration loader's files share: the
 * loader, the schema's key types and tables, and the diagnostics and value
 * readers. Included only by config.c (the walker, the checks across keys,
 * loading) and config-schema.c (the tables and the keys with their own
 * parsers).
 */

#include <libconfig.h>

#include "config/config.h"

typedef struct Loader {
        const char *name;               /* file name used in diagnostics */
        const char *text;               /* the file's text, for a value as it was written */
        char *dir;                      /* directory of the file, for relative names */
        ConfigDiags *diags;
        config_t cfg;
} Loader;

typedef enum KeyType {
        KEY_STRING,     /* char *, may be empty */
        KEY_NAME,       /* char *, non-empty, no control characters */
        KEY_ABS_PATH,   /* char *, absolute path */
        KEY_FILE,       /* char *, a file we read: absolute, or a credential name */
        KEY_BOOL,       /* bool */
        KEY_UNSIGNED,   /* unsigned, [min, max] */
        KEY_SIZE,       /* uint64_t bytes, [min, max] */
        KEY_DURATION,   /* uint64_t usec, [min, max] */
        KEY_GROUP,      /* nested group: `sub` */
        KEY_CUSTOM,     /* `parse` does everything */
} KeyType;

typedef struct KeySpec KeySpec;
typedef int (*KeyParseFn)(Loader *l, config_setting_t *s, const KeySpec *k, Config *c);

struct KeySpec {
        const char *name;
        KeyType type;
        size_t offset;
        uint64_t min, max;
        KeyParseFn parse;
        const KeySpec *sub;             /* KEY_GROUP: keys of the nested group, ends with {} */
};

#define FIELD(f) offsetof(Config, f)

/* The schema: the table of the top-level groups, whose KEY_GROUP entries
 * name the table of each group; every table ends with {}. */
const KeySpec *config_schema_root(void);

/* Records a diagnostic at file:line. Returns 0, or -ENOMEM. */
int config_diag_add(ConfigDiags *d, ConfigSeverity sev, const char *file, int line, const char *fmt, ...)
        _printf_(5, 6);

/* The file that setting s came from (an @include'd one, or the main file). */
const char *config_loader_file(Loader *l, const config_setting_t *s);

/* The line of setting s, 0 if unknown. */
int config_loader_line(const config_setting_t *s);

#define error_at(l, s, ...) \
        config_diag_add((l)->diags, CONFIG_ERROR, config_loader_file(l, s), config_loader_line(s), __VA_ARGS__)
#define warning_at(l, s, ...) \
        config_diag_add((l)->diags, CONFIG_WARNING, config_loader_file(l, s), config_loader_line(s), __VA_ARGS__)

/* "an integer", "a string", … for libconfig's CONFIG_TYPE_* type. */
const char *config_type_name(int type);

/* Reads string setting s (what names it in messages) into *ret, or records
 * "expected a string" or a control-character error and returns -EINVAL. */
int config_get_string(Loader *l, config_setting_t *s, const char *what, const char **ret);

/* The char * field of c that key k names. */
static inline char **config_field_str(Config *c, const KeySpec *k) {
        return (char **) ((char *) c + k->offset);
}
