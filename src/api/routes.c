/* routes.c - the route table of the HTTP API. */
#include "api/app.h"
#include "api/handlers.h"

const hx_route hx_api_routes[] = {
    {"GET", "/healthz", hx_api_healthz},
    {"GET", "/readyz", hx_api_readyz},
    {"GET", "/metrics", hx_api_metrics},
    {"GET", "/openapi.json", hx_api_openapi},
    {"GET", "/docs", hx_api_docs},
    {"POST", "/jobs", hx_api_jobs_create},
    {"GET", "/jobs/{job_id}", hx_api_jobs_get},
    {"POST", "/vectors/mock", hx_api_vectors_mock},
    {"POST", "/vectors/embed", hx_api_vectors_embed},
    {"POST", "/vectors/embed/batch", hx_api_vectors_embed_batch},
    {"GET", "/models", hx_api_models},
    {"POST", "/vectors/search", hx_api_vectors_search},
    {"DELETE", "/vectors/asset/{asset_id}", hx_api_vectors_delete_asset},
    {"GET", "/vectors/{point_id}", hx_api_vectors_get},
    {"DELETE", "/vectors/{point_id}", hx_api_vectors_delete},
    {NULL, NULL, NULL},
};
