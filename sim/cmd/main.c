/* main.c - moesim's entry point: the command line decides the exit status. */
#include "moesim/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
