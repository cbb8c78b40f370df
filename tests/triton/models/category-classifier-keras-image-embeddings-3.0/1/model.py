"""Deterministic category-classifier test model (python backend).

Inputs as the real Keras model (max_batch_size 0, batch dim 1): product_name STRING [1,1],
ingredients_tags / ingredients_ocr_tags STRING [1,n], nine FP32 [1,1] nutriment inputs,
image_embeddings FP32 [1,10,512], image_embeddings_mask FP32 [1,10]. Only product_name
is used. Outputs output_0 FP32 [1,3] scores and output_1 STRING [3] labels:
  labels  = en:biscuits, en:chocolates, en:beverages
  score_i = 0.9 if the lower-cased product_name contains "biscuit" / "chocolat" / "drink"
            respectively, else 0.1
(The real model has 3891 labels; clients must take N from the response.)
"""

import json
import os
import sys


def _use_venv_site_packages():
    # The stub embeds the system Python in isolated mode (PYTHONPATH is ignored); numpy
    # lives in the Triton venv. start_triton passes its site-packages in
    # ROBOTOFF_TRITON_SITE_PACKAGES; without it, derive it from the backend directory on
    # sys.path (<site-packages>/pytriton/tritonserver/backends/python).
    found = []
    env = os.environ.get("ROBOTOFF_TRITON_SITE_PACKAGES")
    if env:
        found.append(env)
    suffix = os.path.join("pytriton", "tritonserver", "backends", "python")
    for p in list(sys.path):
        if p.rstrip("/").endswith(suffix):
            found.append(os.path.normpath(os.path.join(p, "..", "..", "..", "..")))
    found = [p for p in dict.fromkeys(found) if os.path.isdir(p) and p not in sys.path]
    sys.path[0:0] = found
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


_use_venv_site_packages()
import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

LABELS = [("en:biscuits", "biscuit"), ("en:chocolates", "chocolat"), ("en:beverages", "drink")]


class TritonPythonModel:
    def initialize(self, args):
        pass

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                names = pb_utils.get_input_tensor_by_name(request, "product_name").as_numpy()
                name = names.reshape(-1)[0]
                if isinstance(name, bytes):
                    name = name.decode("utf-8", "replace")
                name = str(name).lower()
                scores = np.array([[0.9 if kw in name else 0.1 for _, kw in LABELS]], dtype=np.float32)
                labels = np.array([label.encode() for label, _ in LABELS], dtype=np.object_)
                responses.append(pb_utils.InferenceResponse([
                    pb_utils.Tensor("output_0", scores), pb_utils.Tensor("output_1", labels)]))
            except Exception as exc:
                responses.append(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(f"{type(exc).__name__}: {exc}")))
        return responses
