/*
 * jsonout.h - JSON documents through jansson, in moesim's one number format
 * and layout.
 *
 * Every JSON file moesim writes from floor 4 up is a jansson tree written by
 * jsonout_write. Numbers: an integer is written exactly; a real as the
 * shortest of %.15g, %.16g and %.17g that reads back (strtod) to the same
 * double, so a reader gets every bit and 0.1 stays "0.1"; a real that is not
 * finite has no JSON spelling and is null. Strings are valid UTF-8 whatever
 * the input: a byte that does not start a well-formed UTF-8 sequence becomes
 * U+FFFD (as Python's errors="replace"), so every file parses with a strict
 * reader. Keys keep their insertion order. The layout: the objects and
 * arrays named in `expand` have one member per line, everything else is on
 * one line with ", " and ": " between members, so reports stay readable and
 * diff line by line.
 */
#ifndef MOESIM_JSONOUT_H
#define MOESIM_JSONOUT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/* Longest text jsonout_format_real writes, its NUL included. */
#define JSONOUT_REAL_MAX 32

/* The number format of every JSON and CSV file: writes the shortest of
 * %.15g, %.16g, %.17g that strtod reads back to v's bits into buf (n bytes,
 * at least JSONOUT_REAL_MAX) and returns buf; "" when v is not finite
 * (JSON writes null, CSV an empty field). `collective` and `place` should
 * print their reals with it. */
char *jsonout_format_real(double v, char *buf, size_t n);

/* New references (the caller owns them, or hands them to a container with
 * jsonout_set / jsonout_push, which take them): a real (null when not
 * finite), an integer, a string made valid UTF-8 (null when s is NULL; s is
 * borrowed), and an unsigned integer (above INT64_MAX, which jansson cannot
 * hold, written as a string of its digits). jansson returns NULL only when
 * memory ran out: these exit as xmalloc does and never return NULL. */
json_t *jsonout_real(double v);
json_t *jsonout_int(int64_t v);
json_t *jsonout_u64(uint64_t v);
json_t *jsonout_str(const char *s);
json_t *jsonout_object(void);
json_t *jsonout_array(void);

/* Sets obj[key] to v, taking v (key borrowed and copied; made valid UTF-8
 * first). */
void jsonout_set(json_t *obj, const char *key, json_t *v);
/* Appends v to the array arr, taking v. */
void jsonout_push(json_t *arr, json_t *v);

/* Copies s (NUL-terminated, borrowed) into a new string, each byte that is
 * not part of well-formed UTF-8 replaced by U+FFFD; the caller frees. */
char *jsonout_utf8(const char *s);

/* Writes v (borrowed) and a newline. expand: NULL-terminated paths of the
 * containers written one member per line: "" the document itself, "totals"
 * the member "totals" of the document, "layers[]" every element of the array
 * "layers" (borrowed; NULL: all on one line). Returns 0, or -1 if writing
 * failed. */
int jsonout_write(FILE *f, const json_t *v, const char *const *expand);

#endif
