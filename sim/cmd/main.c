/* main.c - moesim's entry point: the command table decides (cmd.h). */
#include "moesim/cmd.h"

int main(int argc, char **argv)
{
    return cmd_main(argc, argv);
}
