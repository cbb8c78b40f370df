"""Client CPU per image of the Python Robotoff's model steps, for comparison with
`benches/ml_images.rs` on the same photos.

For each photo (written by the Rust bench with ROBOTOFF_BENCH_IMAGES_DIR=DIR), times with
`time.process_time()` what Robotoff's jobs do on the client side, with the SDK and
library versions Robotoff pins:

* three detector jobs (universal logo detector, nutrition table, Nutri-Score), each
  decoding the image (`cv2.imdecode`, IMREAD_COLOR_RGB, as `get_image_from_url` does),
  `ObjectDetector.preprocess` (letterbox), building the gRPC request
  (`add_triton_infer_input_tensor`), and `ObjectDetector.postprocess` on an answer shaped
  like the real model's (8400 columns, a few high scores around each logo);
* the fingerprint job (Pillow open + `imagehash.phash`);
* the logo embeddings (crop, `cv2.resize` to 224, `CLIPImageProcessor`, request).

Not part of the test path. Run (after `scripts/bench-ml` with ROBOTOFF_BENCH_IMAGES_DIR):

    python3 -m venv /tmp/ml-venv
    /tmp/ml-venv/bin/pip install openfoodfacts==3.4.5 albumentations==2.0.8 \
        albucore==0.0.24 numpy==2.2.6 opencv-python-headless==4.12.0.88 \
        pillow==10.3.0 'tritonclient[grpc]==2.65.0' transformers==4.53.3 imagehash==4.3.2
    taskset -c 0 /tmp/ml-venv/bin/python scripts/bench_ml_python.py DIR
"""

import glob
import io
import json
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2  # noqa: E402
import imagehash  # noqa: E402
import numpy as np  # noqa: E402
from openfoodfacts.ml.object_detection import ObjectDetector  # noqa: E402
from openfoodfacts.ml.triton import add_triton_infer_input_tensor  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import CLIPImageProcessor  # noqa: E402
from tritonclient.grpc import service_pb2  # noqa: E402

cv2.setNumThreads(1)

DETECTORS = [
    ("universal_logo_detector_yolo", ["object"]),
    ("nutrition_table", ["nutrition-table"]),
    ("nutriscore", [f"nutriscore-{g}" for g in "abcde"]),
]


def answer(labels, boxes, seed):
    """A response shaped like the model's: (4 + labels, 8400) float32."""
    rng = np.random.default_rng(seed)
    n = 8400
    out = np.zeros((4 + len(labels), n), dtype=np.float32)
    out[:4] = rng.uniform(0, 640, (4, n))
    out[4:] = rng.uniform(0, 0.05, (len(labels), n))
    for k, (y0, x0, y1, x1) in enumerate(boxes):
        for j in range(20):
            i = (k * 97 + j * 13) % n
            out[0, i] = (x0 + x1) * 320
            out[1, i] = (y0 + y1) * 320
            out[2, i] = (x1 - x0) * 640
            out[3, i] = (y1 - y0) * 640
            out[4, i] = rng.uniform(0.3, 0.95)
    response = service_pb2.ModelInferResponse()
    o = response.outputs.add()
    o.name = "output0"
    o.datatype = "FP32"
    o.shape.extend([1, 4 + len(labels), n])
    response.raw_output_contents.append(out.tobytes())
    return response


def main(directory):
    paths = sorted(glob.glob(os.path.join(directory, "*.jpg")), key=lambda p: int(os.path.basename(p)[:-4]))
    if not paths:
        sys.exit(f"no photos in {directory}")
    processor = CLIPImageProcessor()
    stages = {k: [] for k in ("decode", "preprocess", "request", "postprocess", "fingerprint", "crops+CLIP")}
    for n, path in enumerate(paths):
        data = open(path, "rb").read()
        boxes = json.load(open(path[:-4] + ".json"))
        t = {k: 0.0 for k in stages}
        image = None
        for k, (model, labels) in enumerate(DETECTORS):
            c = time.process_time()
            image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR_RGB)
            t["decode"] += time.process_time() - c
            detector = ObjectDetector(model, labels, 640)
            c = time.process_time()
            array = detector.preprocess(image)
            t["preprocess"] += time.process_time() - c
            c = time.process_time()
            request = service_pb2.ModelInferRequest()
            request.model_name = model
            add_triton_infer_input_tensor(request, name="images", data=array, datatype="FP32")
            request.SerializeToString()
            t["request"] += time.process_time() - c
            response = answer(labels, boxes, n * 3 + k)
            c = time.process_time()
            detector.postprocess(response, threshold=0.1, original_shape=image.shape[:2])
            t["postprocess"] += time.process_time() - c
        c = time.process_time()
        imagehash.phash(Image.open(io.BytesIO(data)))
        t["fingerprint"] += time.process_time() - c
        c = time.process_time()
        h, w = image.shape[:2]
        crops = []
        for y0, x0, y1, x1 in boxes:
            crop = image[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)]
            crops.append(cv2.resize(crop, (224, 224), interpolation=cv2.INTER_LINEAR))
        pixel_values = processor(images=crops, return_tensors="np").pixel_values
        pixel_values.tobytes()
        t["crops+CLIP"] += time.process_time() - c
        for k in stages:
            stages[k].append(t[k] * 1000)
    print(f"Python Robotoff client CPU per image ({len(paths)} photos, one thread):")
    total = 0.0
    for k, v in stages.items():
        mean = sum(v) / len(v)
        total += mean
        print(f"  {k:<12} mean {mean:8.2f} ms   median {sorted(v)[len(v) // 2]:8.2f} ms")
    print(f"  {'total':<12} mean {total:8.2f} ms")
    print(f"  without decode: {total - sum(stages['decode']) / len(paths):.2f} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/robotoff-bench-photos")
