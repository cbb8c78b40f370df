"""schemathesis hooks for scripts/fuzz-api: a check failing on every 5xx answer except
the documented 503s of features this node does not offer yet."""

import schemathesis

# `error` codes of deliberate 503 answers (see src/http): the logo index, annotations
# on a node without product shards, logo writes, dataset refresh, batch and image
# prediction imports.
UNAVAILABLE = {
    "index_not_ready",
    "annotation_unavailable",
    "logo_annotation_unavailable",
    "dataset_refresh_unavailable",
    "batch_import_unavailable",
    "image_prediction_import_unavailable",
}


@schemathesis.check
def not_a_server_error_except_unavailable(ctx, response, case):
    if response.status_code < 500:
        return None
    if response.status_code == 503:
        try:
            code = response.json().get("error")
        except Exception:  # noqa: BLE001 - any unreadable body is a failure below
            code = None
        if code in UNAVAILABLE:
            return None
    raise AssertionError(
        f"server error {response.status_code}: {response.text[:500]}"
    )
