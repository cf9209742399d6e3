/* test_outfile.c - output files appear whole, or not at all. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "moesim/outfile.h"
#include "test.h"

/* Files in dir whose name starts with prefix. */
static int count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

static void test_commit_and_abort(void)
{
    char dir[] = "/tmp/moesim-outfile-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/r.json", dir);
    err_t e = ERR_INIT;

    outfile o = OUTFILE_INIT;
    EXPECT_EQ_I64(outfile_open(&o, path, &e), 0);
    fputs("{}\n", o.f);
    EXPECT_EQ_I64(count_prefix(dir, "r.json"), 1); /* only the temporary file */
    EXPECT_TRUE(access(path, F_OK) != 0);
    outfile_abort(&o);
    outfile_abort(&o); /* twice is harmless */
    EXPECT_EQ_I64(count_prefix(dir, "r.json"), 0);

    EXPECT_EQ_I64(outfile_open(&o, path, &e), 0);
    fputs("{}\n", o.f);
    EXPECT_EQ_I64(outfile_commit(&o, &e), 0);
    EXPECT_EQ_I64(count_prefix(dir, "r.json"), 1); /* the file, and no leftovers */
    FILE *f = fopen(path, "r");
    char buf[8] = "";
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    EXPECT_TRUE(fgets(buf, sizeof(buf), f) != NULL);
    fclose(f);
    EXPECT_STR_CONTAINS(buf, "{}");
    outfile_abort(&o); /* after commit: nothing to remove */
    EXPECT_TRUE(access(path, F_OK) == 0);
    remove(path);
    rmdir(dir);
}

static void test_unwritable(void)
{
    outfile o = OUTFILE_INIT;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(outfile_open(&o, "/nonexistent-dir/x.json", &e), -1);
    EXPECT_EQ_I64(e.code, ERR_RUN);
    EXPECT_STR_CONTAINS(e.msg, "cannot write");
    EXPECT_STR_CONTAINS(e.file, "/nonexistent-dir/x.json");
    outfile_abort(&o);
}

/* Writes "x\n" to path through an outfile; returns commit's result. */
static int write_x(const char *path)
{
    outfile o = OUTFILE_INIT;
    err_t e = ERR_INIT;
    if (outfile_open(&o, path, &e) < 0)
        return -1;
    fputs("x\n", o.f);
    return outfile_commit(&o, &e);
}

/* Issue 10: a symlink is followed, the target replaced, the link kept;
 * a device is written in place. */
static void test_symlink_and_device(void)
{
    char dir[] = "/tmp/moesim-outfile-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char link[128], target[128];
    snprintf(link, sizeof(link), "%s/l.json", dir);
    snprintf(target, sizeof(target), "%s/t.json", dir);
    EXPECT_EQ_I64(symlink("t.json", link), 0); /* dangling: the target is made */
    EXPECT_EQ_I64(write_x(link), 0);
    struct stat st;
    EXPECT_EQ_I64(lstat(link, &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    EXPECT_EQ_I64(lstat(target, &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ_I64(st.st_size, 2);
    EXPECT_EQ_I64(write_x(link), 0); /* again: replaced, still a link */
    EXPECT_EQ_I64(lstat(link, &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    EXPECT_EQ_I64(count_prefix(dir, "t.json.tmp"), 0);
    EXPECT_EQ_I64(write_x("/dev/null"), 0);
    EXPECT_EQ_I64(stat("/dev/null", &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    remove(link);
    remove(target);
    rmdir(dir);
}

/* Issue 10: no fixed buffer: a 600-byte path and a 250-byte base name (too
 * long for "<name>.tmp.<pid>" within NAME_MAX) both work and leave no
 * temporary file. */
static void test_long_paths(void)
{
    char dir[700] = "/tmp/moesim-outfile-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char top[64];
    snprintf(top, sizeof(top), "%s", dir);
    while (strlen(dir) < 560) {
        strcat(dir, "/dddddddddddddddddddddddddddddddddddddddd");
        EXPECT_EQ_I64(mkdir(dir, 0777), 0);
    }
    char path[1024], name[251];
    memset(name, 'n', 250);
    name[250] = '\0';
    snprintf(path, sizeof(path), "%s/report-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.json", dir);
    EXPECT_TRUE(strlen(path) >= 600);
    EXPECT_EQ_I64(write_x(path), 0);
    EXPECT_TRUE(access(path, F_OK) == 0);
    remove(path);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    outfile o = OUTFILE_INIT;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(outfile_open(&o, path, &e), 0);
    EXPECT_EQ_I64(count_prefix(dir, "nnnn"), 1);
    outfile_abort(&o);
    EXPECT_EQ_I64(count_prefix(dir, "nnnn"), 0);
    EXPECT_EQ_I64(write_x(path), 0);
    EXPECT_EQ_I64(count_prefix(dir, "nnnn"), 1); /* the file alone */
    remove(path);
    while (strcmp(dir, top) != 0) { /* remove the folders, deepest first */
        rmdir(dir);
        *strrchr(dir, '/') = '\0';
    }
    rmdir(top);
}

void test_outfile_register(void)
{
    TEST_SUITE("outfile", {"commit and abort", test_commit_and_abort},
               {"unwritable path", test_unwritable},
               {"symlinks and devices", test_symlink_and_device},
               {"long paths", test_long_paths});
}
