"""Deterministic ingredient-NER test model (python backend).

Inputs input_ids INT64 [B,T], attention_mask INT64 [B,T]; output logits FP32 [B,T,3]
with labels 0 = O, 1 = B-ING, 2 = I-ING. Rule, per row (ids of the test tokenizer in
tests/triton/model_dirs/ingredient-ner: 1000 "ingredients", 1001 ".", 1002 ":"):
  every token is O, except after each marker 1000 (itself O): a 1002 right after the
  marker stays O and is skipped; the next token becomes B-ING and the tokens after it
  I-ING, until (excluded) a 1001 full stop, another marker, a token whose
  attention_mask is 0, or the end of the row. A 1001 right after the marker gives no
  entity. Tokens with attention_mask 0 are always O.
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

MARKER, STOP, COLON = 1000, 1001, 1002
O, B_ING, I_ING = 0, 1, 2


def labels_for(ids, mask):
    t_len = len(ids)
    labels = [O] * t_len
    for p in range(t_len):
        if ids[p] != MARKER:
            continue
        q = p + 1
        if q < t_len and ids[q] == COLON and mask[q] != 0:
            q += 1
        first = True
        while q < t_len and mask[q] != 0 and ids[q] not in (MARKER, STOP):
            labels[q] = B_ING if first else I_ING
            first = False
            q += 1
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
