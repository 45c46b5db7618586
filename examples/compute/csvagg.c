/* csvagg: group-by aggregation over every CSV file under /in.
 *
 *   csvagg KEY_COLUMN VALUE_COLUMN  ->  /out/summary.csv
 *
 * Each input file starts with a header line naming its columns; files may order columns
 * differently. For each distinct value of KEY_COLUMN the output has one line
 * "key,count,sum,min,max" over the integer VALUE_COLUMN, keys in byte order. Lines whose
 * value is not an integer are counted in /out/rejected.txt. Files are read in name order,
 * so the output does not depend on the host's directory order.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 4096   /* bytes per line, longer lines are rejected */
#define MAX_FIELDS 64   /* columns per line */
#define MAX_FILES 256   /* input files */
#define MAX_NAME 256    /* bytes per file name */

struct group {
    char *key;
    long long count, sum, min, max;
};

static struct group *groups;
static size_t ngroups, cap;
static long long rejected;

static struct group *find(const char *key) {
    /* binary search in the sorted array; insert when absent */
    size_t lo = 0, hi = ngroups;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(groups[mid].key, key);
        if (c == 0) return &groups[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    if (ngroups == cap) {
        cap = cap ? 2 * cap : 64;
        groups = realloc(groups, cap * sizeof *groups);
        if (groups == NULL) { fprintf(stderr, "csvagg: out of memory\n"); exit(3); }
    }
    memmove(&groups[lo + 1], &groups[lo], (ngroups - lo) * sizeof *groups);
    ngroups++;
    groups[lo].key = strdup(key);
    groups[lo].count = groups[lo].sum = groups[lo].min = groups[lo].max = 0;
    return &groups[lo];
}

static int split(char *line, char **fields) {
    int n = 0;
    char *p = line;
    fields[n++] = p;
    for (; *p; p++) {
        if (*p == ',') {
            *p = 0;
            if (n == MAX_FIELDS) return -1;
            fields[n++] = p + 1;
        } else if (*p == '\n' || *p == '\r') {
            *p = 0;
            break;
        }
    }
    return n;
}

static int parse_int(const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != 0) return 0;
    *out = v;
    return 1;
}

static int process(const char *path, const char *key_col, const char *value_col) {
    FILE *f = fopen(path, "r");
    if (f == NULL) { perror(path); return 0; }
    char line[MAX_LINE];
    char *fields[MAX_FIELDS];
    int key_at = -1, value_at = -1;
    if (fgets(line, sizeof line, f) != NULL) {
        int n = split(line, fields);
        for (int i = 0; i < n; i++) {
            if (strcmp(fields[i], key_col) == 0) key_at = i;
            if (strcmp(fields[i], value_col) == 0) value_at = i;
        }
    }
    if (key_at < 0 || value_at < 0) {
        fprintf(stderr, "csvagg: %s lacks column %s or %s\n", path, key_col, value_col);
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        int n = split(line, fields);
        long long v;
        if (n <= key_at || n <= value_at || !parse_int(fields[value_at], &v)) {
            rejected++;
            continue;
        }
        struct group *g = find(fields[key_at]);
        if (g->count == 0 || v < g->min) g->min = v;
        if (g->count == 0 || v > g->max) g->max = v;
        g->count++;
        g->sum += v;
    }
    fclose(f);
    return 1;
}

static int by_name(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: csvagg KEY_COLUMN VALUE_COLUMN\n");
        return 2;
    }
    static char names[MAX_FILES][MAX_NAME];
    size_t nfiles = 0;
    DIR *dir = opendir("/in");
    if (dir == NULL) { perror("csvagg: /in"); return 4; }
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || len >= MAX_NAME || strcmp(e->d_name + len - 4, ".csv") != 0) continue;
        if (nfiles == MAX_FILES) { fprintf(stderr, "csvagg: too many files\n"); return 2; }
        memcpy(names[nfiles++], e->d_name, len + 1);
    }
    closedir(dir);
    qsort(names, nfiles, MAX_NAME, by_name);
    size_t used = 0;
    for (size_t i = 0; i < nfiles; i++) {
        char path[MAX_NAME + 8];
        snprintf(path, sizeof path, "/in/%s", names[i]);
        used += process(path, argv[1], argv[2]);
    }
    FILE *out = fopen("/out/summary.csv", "w");
    if (out == NULL) { perror("csvagg: /out/summary.csv"); return 4; }
    fprintf(out, "%s,count,sum,min,max\n", argv[1]);
    for (size_t i = 0; i < ngroups; i++) {
        struct group *g = &groups[i];
        fprintf(out, "%s,%lld,%lld,%lld,%lld\n", g->key, g->count, g->sum, g->min, g->max);
    }
    if (fclose(out) != 0) { perror("csvagg: write"); return 4; }
    if (rejected > 0) {
        FILE *rej = fopen("/out/rejected.txt", "w");
        if (rej == NULL) return 4;
        fprintf(rej, "%lld\n", rejected);
        fclose(rej);
    }
    printf("%zu files, %zu groups, %lld rejected lines\n", used, ngroups, rejected);
    return 0;
}
