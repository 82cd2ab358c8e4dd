/* status.c - ledger status words and the original API's words for them. */
#include "jobs/store.h"

#include <string.h>

const char *hx_job_status_api(const char *s) {
  if (!strcmp(s, "queued")) return "pending";
  if (!strcmp(s, "running")) return "processing";
  if (!strcmp(s, "succeeded")) return "completed";
  if (!strcmp(s, "failed") || !strcmp(s, "dead_letter")) return "failed";
  if (!strcmp(s, "canceled")) return "canceled";
  return s;
}

int hx_job_status_terminal(const char *s) {
  return !strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "canceled") || !strcmp(s, "dead_letter");
}
