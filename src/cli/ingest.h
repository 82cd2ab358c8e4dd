/*
 * ingest.h - `heimdex ingest PATH... --server URL --token T [--asset-id ID]`:
 * the client side of document upload (libcurl).
 *
 * Files and whole directories (recursively, hidden entries skipped, in name
 * order) are streamed to POST /assets, one request each, with the type
 * declared from the file extension (the server sniffs it as well). The asset
 * id is --asset-id (one file only), else the path relative to the directory
 * given (or the file's name), with '/' replaced by ':' so it fits one path
 * segment of GET /assets/{asset_id}. Then every job is polled (GET /jobs/{id})
 * until it ends: a progress bar when stdout is a terminal, one plain line per
 * finished file otherwise; a summary at the end. Exit status 0 when every
 * file was ingested, 1 when any was refused or failed, 2 for usage errors.
 */
#ifndef HX_CLI_INGEST_H
#define HX_CLI_INGEST_H

int hx_cli_ingest(int argc, char **argv);

#endif
