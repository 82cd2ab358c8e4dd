/* routes.c - the route table of the HTTP API. */
#include "api/app.h"
#include "api/handlers.h"

const hx_route hx_api_routes[] = {
    {"GET", "/healthz", hx_api_healthz, NULL},
    {"GET", "/readyz", hx_api_readyz, NULL},
    {"GET", "/metrics", hx_api_metrics, NULL},
    {"GET", "/openapi.json", hx_api_openapi, NULL},
    {"GET", "/docs", hx_api_docs, NULL},
    {"POST", "/jobs", hx_api_jobs_create, NULL},
    {"GET", "/jobs/{job_id}", hx_api_jobs_get, NULL},
    {"POST", "/vectors/mock", hx_api_vectors_mock, NULL},
    {"POST", "/vectors/embed", hx_api_vectors_embed, NULL},
    {"POST", "/vectors/embed/batch", hx_api_vectors_embed_batch, NULL},
    {"GET", "/models", hx_api_models, NULL},
    {"POST", "/vectors/search", hx_api_vectors_search, NULL},
    {"DELETE", "/vectors/asset/{asset_id}", hx_api_vectors_delete_asset, NULL},
    {"GET", "/vectors/{point_id}", hx_api_vectors_get, NULL},
    {"DELETE", "/vectors/{point_id}", hx_api_vectors_delete, NULL},
    {"POST", "/assets", NULL, &hx_api_assets_upload},
    {"GET", "/assets/{asset_id}", hx_api_assets_get, NULL},
    {NULL, NULL, NULL, NULL},
};
