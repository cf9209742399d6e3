/* test_outfile.c - output files appear whole, or not at all. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
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

void test_outfile_register(void)
{
    TEST_SUITE("outfile", {"commit and abort", test_commit_and_abort},
               {"unwritable path", test_unwritable});
}
