/*
 * uuid.h - parse, print and generate UUIDs.
 *
 * Org and job ids are compared canonically: parse accepts upper or lower case
 * hex, with or without braces/"urn:uuid:" and with or without hyphens (as
 * Python's uuid.UUID does), and hx_uuid_str always prints lowercase 8-4-4-4-12.
 */
#ifndef HX_UTIL_UUID_H
#define HX_UTIL_UUID_H

#include <stdint.h>

typedef struct { uint8_t b[16]; } hx_uuid;

#define HX_UUID_STRLEN 36

int hx_uuid_parse(const char *s, hx_uuid *out);           /* 0 or HX_EINVAL */
void hx_uuid_str(const hx_uuid *u, char out[HX_UUID_STRLEN + 1]);
void hx_uuid_v4(hx_uuid *out);                            /* random (getrandom) */
/* RFC 9562 version 7: 48-bit Unix milliseconds, then random bits. Ids made
 * close in time sort close together, so B-tree inserts of new jobs and events
 * land on the same few pages instead of one random page each. */
void hx_uuid_v7(hx_uuid *out);
/* Canonicalise s into out (lowercase hyphenated); HX_EINVAL if s is not a UUID. */
int hx_uuid_canon(const char *s, char out[HX_UUID_STRLEN + 1]);

#endif
