/* main.c - the heimdex command line: serve, worker, token, migrate, version. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "version") == 0) {
    printf("heimdex %s\n", HX_VERSION);
    return 0;
  }
  fprintf(stderr, "usage: heimdex <serve|worker|token|migrate|version> [--help]\n");
  return 2;
}
