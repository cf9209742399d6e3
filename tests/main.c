/*
 * main.c - runs every CUnit suite (or those named on the command line) and
 * exits non-zero if any assertion failed.
 */
#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#define SUITE(n) void test_##n##_register(void);
#include "suites.inc"
#undef SUITE

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
#define SUITE(n)                                                                        \
    do {                                                                                \
        int want_ = argc < 2;                                                           \
        for (int i_ = 1; i_ < argc; i_++)                                               \
            want_ |= strcmp(argv[i_], #n) == 0;                                         \
        if (want_)                                                                      \
            test_##n##_register();                                                      \
    } while (0);
#include "suites.inc"
#undef SUITE
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (ran == 0) {
        fprintf(stderr, "no test ran\n");
        return 1;
    }
    return failed ? 1 : 0;
}
