/* cli.h - subcommands of the heimdex binary that live outside main.c. */
#ifndef HX_CLI_CLI_H
#define HX_CLI_CLI_H

#include "vstore/vstore.h"

int hx_cli_vectors(int argc, char **argv);  /* heimdex vectors: inspect the engine offline */

#endif
