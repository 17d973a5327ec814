/*
 * The floor for rewriting descriptors of a tree on ntfs-3g: the least work any tool
 * must do. Walks with readdir and d_type (no stat), reads each entry's
 * system.ntfs_acl once into a 64 KiB buffer, and (unless "read") replaces a SID of the
 * same length byte for byte and writes the descriptor back when it changed.
 *
 *   tree_floor read|rewrite DIR [OLD_SID_HEX NEW_SID_HEX]
 *   tree_floor make DIR COUNT OLD_SID_HEX      (builds a profile-like tree)
 *
 * Benchmark tooling only; admu does not use it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *ATTR = "system.ntfs_acl";
static unsigned char buf[65536];
static unsigned char old_sid[64], new_sid[64];
static size_t sid_len;
static long seen, changed, errors;
static int rewrite;

static size_t unhex(const char *h, unsigned char *out) {
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) sscanf(h + 2 * i, "%2hhx", &out[i]);
    return n;
}

static void handle(const char *path) {
    ssize_t n = lgetxattr(path, ATTR, buf, sizeof buf);
    seen++;
    if (n < 0) { errors++; return; }
    if (!rewrite) return;
    int hit = 0;
    for (ssize_t i = 0; i + (ssize_t)sid_len <= n; i++) {
        if (memcmp(buf + i, old_sid, sid_len) == 0) { memcpy(buf + i, new_sid, sid_len); hit = 1; }
    }
    if (hit) {
        if (lsetxattr(path, ATTR, buf, n, 0) < 0) errors++; else changed++;
    }
}

static void walk(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) { errors++; return; }
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        handle(path);
        if (e->d_type == DT_DIR) walk(path);
    }
    closedir(d);
}

/* O:<user>G:SYD:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;FA;;;<user>) */
static size_t make_sd(unsigned char *sd, const unsigned char *user, size_t ulen) {
    static const unsigned char sy[] = {1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0};
    static const unsigned char ba[] = {1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0};
    unsigned char acl[512];
    size_t a = 8;
    const unsigned char *sids[3] = {sy, ba, user};
    size_t lens[3] = {sizeof sy, sizeof ba, ulen};
    for (int i = 0; i < 3; i++) {
        size_t sz = 8 + lens[i];
        acl[a] = 0; acl[a + 1] = 0x13; acl[a + 2] = sz & 0xff; acl[a + 3] = sz >> 8;
        acl[a + 4] = 0xff; acl[a + 5] = 0x01; acl[a + 6] = 0x1f; acl[a + 7] = 0;
        memcpy(acl + a + 8, sids[i], lens[i]);
        a += sz;
    }
    acl[0] = 2; acl[1] = 0; acl[2] = a & 0xff; acl[3] = a >> 8; acl[4] = 3; acl[5] = 0; acl[6] = 0; acl[7] = 0;
    size_t off_dacl = 20, off_owner = off_dacl + a, off_group = off_owner + ulen;
    memset(sd, 0, 20);
    sd[0] = 1; sd[2] = 0x04; sd[3] = 0x84; /* DACL present, auto-inherited, self-relative */
    memcpy(sd + 4, &off_owner, 4); memcpy(sd + 8, &off_group, 4); memcpy(sd + 16, &off_dacl, 4);
    memcpy(sd + off_dacl, acl, a);
    memcpy(sd + off_owner, user, ulen);
    memcpy(sd + off_group, sy, sizeof sy);
    return off_group + sizeof sy;
}

static void make(const char *root, long count, const unsigned char *user, size_t ulen) {
    unsigned char sd[1024];
    size_t sdlen = make_sd(sd, user, ulen);
    char dir[4096], path[4096];
    long made = 0;
    mkdir(root, 0755);
    lsetxattr(root, ATTR, sd, sdlen, 0);
    for (long d = 0; made < count; d++) {
        snprintf(dir, sizeof dir, "%s/folder%04ld", root, d);
        mkdir(dir, 0755);
        lsetxattr(dir, ATTR, sd, sdlen, 0);
        made++;
        for (int f = 0; f < 99 && made < count; f++, made++) {
            snprintf(path, sizeof path, "%s/file%03d.txt", dir, f);
            FILE *fp = fopen(path, "w");
            if (fp) { fputs("x", fp); fclose(fp); }
            lsetxattr(path, ATTR, sd, sdlen, 0);
        }
    }
}

int main(int argc, char **argv) {
    if (argc >= 5 && !strcmp(argv[1], "make")) {
        sid_len = unhex(argv[4], old_sid);
        make(argv[2], atol(argv[3]), old_sid, sid_len);
        return 0;
    }
    if (argc < 3) { fprintf(stderr, "usage: tree_floor read|rewrite DIR [OLD NEW]\n"); return 2; }
    rewrite = !strcmp(argv[1], "rewrite");
    if (rewrite) {
        if (argc < 5) return 2;
        sid_len = unhex(argv[3], old_sid);
        unhex(argv[4], new_sid);
    }
    handle(argv[2]);
    walk(argv[2]);
    printf("seen %ld changed %ld errors %ld\n", seen, changed, errors);
    return 0;
}
