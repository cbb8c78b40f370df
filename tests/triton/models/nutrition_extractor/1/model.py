"""Deterministic nutrition-extractor (LayoutLMv3) test model (python backend).

Inputs input_ids INT64 [B,T], attention_mask INT64 [B,T], bbox INT64 [B,T,4],
pixel_values FP32 [B,3,224,224]; output logits FP32 [B,T,71]. Rule, per row (ids of the
test tokenizer in tests/triton/model_dirs/nutrition_extractor):
  a token with id 2000 + k (1 <= k <= 69, a nutrient word whose B- label is k) is O; the
  value pieces right after it (ids 3000..3099: digits, units, ".") get label k for the
  first and k + 1 (its I- label) for the others; every other token is O, and so is every
  token whose attention_mask is 0.
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
WORD_BASE = 2000
VALUE_LOW, VALUE_HIGH = 3000, 3100


def labels_for(ids, mask):
    labels = [0] * len(ids)
    current = 0
    first = False
    for p, (tok, m) in enumerate(zip(ids, mask)):
        if m == 0:
            current = 0
            continue
        if WORD_BASE < tok < WORD_BASE + NUM_LABELS - 1:
            current = tok - WORD_BASE
            first = True
            continue
        if current and VALUE_LOW <= tok < VALUE_HIGH:
            labels[p] = current if first else current + 1
            first = False
            continue
        current = 0
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
                out = np.zeros((batch, t_len, NUM_LABELS), dtype=np.float32)
                for b in range(batch):
                    for t, label in enumerate(labels_for(ids[b].tolist(), mask[b].tolist())):
                        out[b, t, label] = 10.0
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("logits", out)]))
            except Exception as exc:
                responses.append(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(f"{type(exc).__name__}: {exc}")))
        return responses
