/* uuid.c - UUID parsing/printing with Python uuid.UUID's accepted spellings. */
#include "util/uuid.h"
#include "util/err.h"

#include <ctype.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int hx_uuid_parse(const char *s, hx_uuid *out) {
  char hex[33];
  size_t n = 0;
  if (!s) return HX_EINVAL;
  if (strncmp(s, "urn:", 4) == 0) s += 4;
  if (strncmp(s, "uuid:", 5) == 0) s += 5;
  size_t len = strlen(s);
  if (len >= 2 && s[0] == '{' && s[len - 1] == '}') { s++; len -= 2; }
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '-') continue;
    if (n == 32 || hexval((unsigned char)s[i]) < 0) return HX_EINVAL;
    hex[n++] = s[i];
  }
  if (n != 32) return HX_EINVAL;
  for (int i = 0; i < 16; i++)
    out->b[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
  return 0;
}

void hx_uuid_str(const hx_uuid *u, char out[HX_UUID_STRLEN + 1]) {
  static const char d[] = "0123456789abcdef";
  int o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = d[u->b[i] >> 4];
    out[o++] = d[u->b[i] & 15];
  }
  out[o] = '\0';
}

/* Random bytes come from the kernel CSPRNG in 4 KiB refills per thread: a
 * getrandom call costs tens of microseconds here, a UUID is needed per job,
 * event and request. */
static void fill_random(uint8_t *out, size_t n) {
  static __thread uint8_t pool[4096];
  static __thread size_t left;
  while (n) {
    if (left == 0) {
      size_t got = 0;
      while (got < sizeof pool) {
        ssize_t r = getrandom(pool + got, sizeof pool - got, 0);
        if (r > 0) got += (size_t)r;
      }
      left = sizeof pool;
    }
    size_t take = n < left ? n : left;
    memcpy(out, pool + sizeof pool - left, take);
    memset(pool + sizeof pool - left, 0, take); /* never hand out the same bytes twice */
    left -= take;
    out += take;
    n -= take;
  }
}

void hx_uuid_v4(hx_uuid *out) {
  fill_random(out->b, 16);
  out->b[6] = (out->b[6] & 0x0f) | 0x40;
  out->b[8] = (out->b[8] & 0x3f) | 0x80;
}

void hx_uuid_v7(hx_uuid *out) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
  fill_random(out->b + 6, 10);
  for (int i = 0; i < 6; i++) out->b[i] = (uint8_t)(ms >> (40 - 8 * i));
  out->b[6] = (out->b[6] & 0x0f) | 0x70;
  out->b[8] = (out->b[8] & 0x3f) | 0x80;
}

int hx_uuid_canon(const char *s, char out[HX_UUID_STRLEN + 1]) {
  hx_uuid u;
  if (hx_uuid_parse(s, &u) != 0) return HX_EINVAL;
  hx_uuid_str(&u, out);
  return 0;
}
