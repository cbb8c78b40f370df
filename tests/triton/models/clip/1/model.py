"""Deterministic CLIP test model (python backend).

Inputs pixel_values FP32 [B,3,224,224], attention_mask INT64 [B,2], input_ids INT64 [B,2]
(the text inputs are accepted and ignored). Output image_embeds FP32 [B,512], for each row:
  p = average-pool of the 3x224x224 pixels over 14x14 blocks -> 3x16x16 = 768 values
  v = p - mean(p)            (centred, so unrelated images are far apart; if |v| ~ 0,
                              v = p; if that is 0 too, the result is W's first column)
  e = v @ W, W = numpy.random.default_rng(1234).standard_normal((768, 512))
  image_embeds = e / |e|     (float64 maths, cast to float32)
Each row is computed on its own, so a row's embedding does not depend on the batch.
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

W = np.random.default_rng(seed=1234).standard_normal((768, 512))


def embed(pixels):
    pooled = np.asarray(pixels, dtype=np.float64).reshape(3, 16, 14, 16, 14).mean(axis=(2, 4)).reshape(768)
    v = pooled - pooled.mean()
    if np.linalg.norm(v) < 1e-9:
        v = pooled
    e = v @ W
    n = np.linalg.norm(e)
    if n < 1e-12:
        e, n = W[:, 0].copy(), np.linalg.norm(W[:, 0])
    return (e / n).astype(np.float32)


class TritonPythonModel:
    def initialize(self, args):
        pass

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                pixels = pb_utils.get_input_tensor_by_name(request, "pixel_values").as_numpy()
                out = np.stack([embed(row) for row in pixels]).astype(np.float32)
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("image_embeds", out)]))
            except Exception as exc:
                responses.append(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(f"{type(exc).__name__}: {exc}")))
        return responses
