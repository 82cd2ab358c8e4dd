/* handlers.h - private to src/api: the request handlers the route table names. */
#ifndef HX_API_HANDLERS_H
#define HX_API_HANDLERS_H

#include "http/server.h"

void hx_api_healthz(void *a, hx_req *req, hx_resp *resp);
void hx_api_readyz(void *a, hx_req *req, hx_resp *resp);
void hx_api_metrics(void *a, hx_req *req, hx_resp *resp);
void hx_api_openapi(void *a, hx_req *req, hx_resp *resp);
void hx_api_docs(void *a, hx_req *req, hx_resp *resp);
void hx_api_jobs_create(void *a, hx_req *req, hx_resp *resp);
void hx_api_jobs_get(void *a, hx_req *req, hx_resp *resp);
void hx_api_vectors_mock(void *a, hx_req *req, hx_resp *resp);
void hx_api_vectors_get(void *a, hx_req *req, hx_resp *resp);
void hx_api_vectors_delete(void *a, hx_req *req, hx_resp *resp);
void hx_api_vectors_embed(void *a, hx_req *req, hx_resp *resp);
void hx_api_vectors_embed_batch(void *a, hx_req *req, hx_resp *resp);
void hx_api_vectors_search(void *a, hx_req *req, hx_resp *resp);
void hx_api_vectors_delete_asset(void *a, hx_req *req, hx_resp *resp);
void hx_api_models(void *a, hx_req *req, hx_resp *resp);
void hx_api_assets_get(void *a, hx_req *req, hx_resp *resp);
extern const hx_stream_handler hx_api_assets_upload;

#endif
