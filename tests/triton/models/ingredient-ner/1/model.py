"""Deterministic ingredient-NER test model (python backend).

Inputs input_ids INT64 [B,T], attention_mask INT64 [B,T]; output logits FP32 [B,T,3]
with labels 0 = O, 1 = B-ING, 2 = I-ING. Rule, per row:
  every token is O, except: for each position p with input_ids[p] == 1000 (the marker,
  itself O), in order of p, token p+1 becomes B-ING and tokens p+2, p+3, p+4 become I-ING;
  the I-ING run stops early at the end of the row, at another 1000 marker, or at a
  token whose attention_mask is 0. Tokens with attention_mask 0 are always O.
Logits: 10.0 for the chosen label, 0.0 for the two others (softmax 0.99991).
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

MARKER = 1000
O, B_ING, I_ING = 0, 1, 2


def labels_for(ids, mask):
    t_len = len(ids)
    labels = [O] * t_len
    for p in range(t_len):
        if ids[p] != MARKER or p + 1 >= t_len or mask[p + 1] == 0 or ids[p + 1] == MARKER:
            continue
        labels[p + 1] = B_ING
        for q in range(p + 2, min(p + 5, t_len)):
            if ids[q] == MARKER or mask[q] == 0:
                break
            labels[q] = I_ING
    return labels


class TritonPythonModel:
    def initialize(self, args):
        pass

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                ids = pb_utils.get_input_tensor_by_name(request, "input_ids").as_numpy()
                mask = pb_utils.get_input_tensor_by_name(request, "attention_mask").as_numpy()
                batch, t_len = ids.shape
                out = np.zeros((batch, t_len, 3), dtype=np.float32)
                for b in range(batch):
                    for t, label in enumerate(labels_for(ids[b].tolist(), mask[b].tolist())):
                        out[b, t, label] = 10.0
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("logits", out)]))
            except Exception as exc:
                responses.append(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(f"{type(exc).__name__}: {exc}")))
        return responses
