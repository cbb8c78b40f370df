"""Deterministic nutrition-extractor (LayoutLMv3) test model (python backend).

Inputs input_ids INT64 [B,T], attention_mask INT64 [B,T], bbox INT64 [B,T,4],
pixel_values FP32 [B,3,224,224]; output logits FP32 [B,T,71]. Rule, per token:
  label k (1..70) if input_ids == 2000 + k and attention_mask == 1, else label 0 ("O").
Logits: 10.0 for the chosen label, 0.0 elsewhere. bbox and pixel_values are ignored.
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

NUM_LABELS = 71
BASE = 2000


class TritonPythonModel:
    def initialize(self, args):
        pass

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                ids = pb_utils.get_input_tensor_by_name(request, "input_ids").as_numpy()
                mask = pb_utils.get_input_tensor_by_name(request, "attention_mask").as_numpy()
                label = ids.astype(np.int64) - BASE
                label[(label < 1) | (label >= NUM_LABELS) | (mask == 0)] = 0
                out = np.zeros(ids.shape + (NUM_LABELS,), dtype=np.float32)
                np.put_along_axis(out, label[..., None], 10.0, axis=-1)
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("logits", out)]))
            except Exception as exc:
                responses.append(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(f"{type(exc).__name__}: {exc}")))
        return responses
