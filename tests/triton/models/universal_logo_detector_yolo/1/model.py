"""Deterministic YOLO test model (python backend) for the Robotoff detectors.

The same file serves universal_logo_detector_yolo, nutrition_table (1 class) and
nutriscore (5 classes: a..e); the class count comes from the output dims in
config.pbtxt (rows - 4).

Input `images` FP32 [1,3,640,640]: a letterboxed image in [0,1] (padding 114/255).
Dark pixels (mean over the 3 channels < 0.25) are grouped into 4-connected components;
each component of >= 16 pixels yields one output column, components sorted by
(y_min, x_min):
  rows 0..3 = cx, cy, w, h of the component's bounding box in letterboxed pixels
              (x_min = first column, x_max = last column + 1, w = x_max - x_min; same in y)
  1 class   : row 4 = 0.9
  nutriscore: the component's mean grey (mean over its pixels of the channel mean)
              picks the class: [0,.05) a, [.05,.10) b, [.10,.15) c, [.15,.20) d,
              [.20,.25) e; score 0.9, or 0.4 if the component has < 400 pixels;
              the other class rows stay 0.
Every other column is all zeros.
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

DARK = 0.25
MIN_PIXELS = 16
SMALL_AREA = 400
NUM_COLUMNS = 8400


def find_components(image):
    """4-connected components of dark pixels of a (3, H, W) image.

    Returns dicts sorted by (y_min, x_min) with x_min, x_max, y_min, y_max (exclusive
    max), area (pixels) and grey (mean channel-mean over the component's pixels).
    Works on horizontal runs of dark pixels joined with union-find, so the Python loop
    is over runs, not pixels.
    """
    grey = image.mean(axis=0, dtype=np.float64)
    mask = grey < DARK
    height, width = mask.shape
    padded = np.zeros((height, width + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    run_row, run_start = np.nonzero(edges == 1)
    _, run_end = np.nonzero(edges == -1)  # exclusive; same row-major order as starts
    n = len(run_row)
    if n == 0:
        return []
    cum = np.zeros((height, width + 1), dtype=np.float64)
    np.cumsum(grey, axis=1, out=cum[:, 1:])
    run_sum = cum[run_row, run_end] - cum[run_row, run_start]

    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    rows = run_row.tolist()
    starts = run_start.tolist()
    ends = run_end.tolist()
    row_first = np.searchsorted(run_row, np.arange(height + 1)).tolist()
    for r in range(1, height):
        i, i_end = row_first[r - 1], row_first[r]
        j, j_end = row_first[r], row_first[r + 1]
        while i < i_end and j < j_end:
            if starts[i] < ends[j] and starts[j] < ends[i]:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            if ends[i] <= ends[j]:
                i += 1
            else:
                j += 1

    comps = {}
    for k in range(n):
        root = find(k)
        c = comps.get(root)
        length = ends[k] - starts[k]
        if c is None:
            comps[root] = c = {
                "x_min": starts[k], "x_max": ends[k], "y_min": rows[k], "y_max": rows[k] + 1,
                "area": 0, "grey_sum": 0.0,
            }
        else:
            c["x_min"] = min(c["x_min"], starts[k])
            c["x_max"] = max(c["x_max"], ends[k])
            c["y_min"] = min(c["y_min"], rows[k])
            c["y_max"] = max(c["y_max"], rows[k] + 1)
        c["area"] += length
        c["grey_sum"] += float(run_sum[k])
    result = []
    for c in comps.values():
        c["grey"] = c.pop("grey_sum") / c["area"]
        result.append(c)
    result.sort(key=lambda c: (c["y_min"], c["x_min"]))
    return result


def detect(image, num_classes):
    out = np.zeros((1, 4 + num_classes, NUM_COLUMNS), dtype=np.float32)
    comps = [c for c in find_components(image) if c["area"] >= MIN_PIXELS]
    for col, c in enumerate(comps[:NUM_COLUMNS]):
        w = c["x_max"] - c["x_min"]
        h = c["y_max"] - c["y_min"]
        out[0, 0, col] = c["x_min"] + w / 2.0
        out[0, 1, col] = c["y_min"] + h / 2.0
        out[0, 2, col] = w
        out[0, 3, col] = h
        if num_classes == 1:
            out[0, 4, col] = 0.9
        else:
            cls = min(max(int(c["grey"] / 0.05), 0), num_classes - 1)
            out[0, 4 + cls, col] = 0.9 if c["area"] >= SMALL_AREA else 0.4
    return out


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        dims = [int(d) for d in config["output"][0]["dims"]]
        self.num_classes = dims[1] - 4

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                images = pb_utils.get_input_tensor_by_name(request, "images").as_numpy()
                out = detect(np.asarray(images[0], dtype=np.float32), self.num_classes)
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("output0", out)]))
            except Exception as exc:  # report, never crash the stub
                responses.append(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(f"{type(exc).__name__}: {exc}")))
        return responses
