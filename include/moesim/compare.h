/*
 * compare.h - `moesim compare`: one scenario under every combination of
 * varied keys, side by side.
 *
 * `moesim compare SCENARIO --vary KEY=V1,V2,... [--vary ...]` (cmd_compare,
 * cmd.h) runs the scenario once per variant of a sweep plan (sweep.h): the
 * common --set overrides and then one "KEY=Vi" per varied key. Each child
 * of the sweep pool sends back one fixed-size compare_result, filed by
 * variant index, so the table, the JSON (schema "moesim.compare/1") and the
 * CSV do not depend on --jobs or on which child finished first. A variant
 * that fails is a row with its error, and the others still run.
 * docs/compare.md documents the options and the outputs.
 *
 * The outputs (the table, JSON and CSV from result records) are
 * compare_out.h's, on floor 4, tested without running a simulation.
 */
#ifndef MOESIM_COMPARE_H
#define MOESIM_COMPARE_H

#include <stdint.h>

#include "moesim/base.h"
#include "moesim/compare_out.h"
#include "moesim/sweep.h"

/* What one variant measured, or why it failed. A plain record of fixed size:
 * a child process writes its bytes to a pipe and the parent (the same
 * binary) reads them back. */
typedef struct compare_result {
    int32_t code;           /* ERR_OK, or the err_code of a failure */
    int32_t pad_;           /* zero; keeps the record free of holes */
    compare_out_record fig; /* the figures (compare_out.h), when code is ERR_OK */
    char error[1400];       /* "file:line: key: msg" when code != ERR_OK */
} compare_result;

#endif
