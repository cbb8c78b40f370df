"""Generates the conformance cases of `robotoff::ml` (YOLO letterbox and decoding, CLIP
inputs) with the reference implementation Robotoff runs.

Writes tests/conformance/ml/{letterbox,postprocess,clip}.json; tests/ml_conformance.rs
reads them. The reference is the Open Food Facts SDK 3.4.5 (`ObjectDetector.preprocess`,
`ObjectDetector.postprocess`), OpenCV's `cv2.resize` and `cv2.dnn.NMSBoxes`, and the
`transformers` `CLIPImageProcessor`, at the versions Robotoff pins (uv.lock). The logo
crop is Robotoff's slicing `image[int(y_min*H):int(y_max*H), int(x_min*W):int(x_max*W)]`
followed by `cv2.resize(crop, (224, 224), interpolation=cv2.INTER_LINEAR)`, written out
below. The pre-November-2025 NMS (boxes passed unconverted) is `cv2.dnn.NMSBoxes` on the
SDK's un-suppressed boxes.

Images are synthetic: every pixel is a function of (x, y, channel, seed) with 32-bit
integer arithmetic (`pattern` below; the Rust test computes the same), so only the
generator parameters are stored. Tensors are compared through a checksum of their float32
bit patterns (sum of bits[i] * (i % 65521 + 1) modulo 2**64) plus sampled exact values.

Not part of the test path; to regenerate (x86-64; the outputs were produced with Python
3.11.7):

    python3 -m venv /tmp/ml-venv
    /tmp/ml-venv/bin/pip install openfoodfacts==3.4.5 albumentations==2.0.8 \
        albucore==0.0.24 numpy==2.2.6 opencv-python-headless==4.12.0.88 \
        pillow==10.3.0 'tritonclient[grpc]==2.65.0' transformers==4.53.3
    /tmp/ml-venv/bin/python scripts/ml_cases.py
"""

import json
import os
import sys
import warnings
from importlib.metadata import version

import albumentations as A
import cv2
import numpy as np

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from openfoodfacts.ml.object_detection import ObjectDetector  # noqa: E402
from transformers import CLIPImageProcessor  # noqa: E402
from tritonclient.grpc import service_pb2  # noqa: E402

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "conformance", "ml"
)
MASK = 0xFFFFFFFF


def pattern(kind: str, width: int, height: int, seed: int) -> np.ndarray:
    """The synthetic RGB image (height, width, 3) uint8 of the given kind."""
    y, x, c = np.meshgrid(
        np.arange(height, dtype=np.uint64),
        np.arange(width, dtype=np.uint64),
        np.arange(3, dtype=np.uint64),
        indexing="ij",
    )
    if kind == "blocks":
        hx, hy = x // np.uint64(13), y // np.uint64(17)
    else:
        hx, hy = x, y
    h = (
        hx * np.uint64(0x9E3779B1)
        + hy * np.uint64(0x85EBCA77)
        + c * np.uint64(0xC2B2AE3D)
        + np.uint64(seed) * np.uint64(0x27D4EB2F)
    ) & np.uint64(MASK)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x2C1B3C6D)) & np.uint64(MASK)
    h ^= h >> np.uint64(12)
    h = (h * np.uint64(0x297A2D39)) & np.uint64(MASK)
    h ^= h >> np.uint64(15)
    if kind == "noise" or kind == "blocks":
        v = h & np.uint64(255)
    elif kind == "gradient":
        v = (
            (x * np.uint64(7) + y * np.uint64(3)) // np.uint64(5)
            + np.uint64(85) * c
            + (h & np.uint64(7))
        ) & np.uint64(255)
    else:
        raise ValueError(kind)
    return np.ascontiguousarray(v.astype(np.uint8))


def checksum_f32(values: np.ndarray) -> int:
    bits = np.ascontiguousarray(values, dtype=np.float32).reshape(-1).view(np.uint32)
    weights = (np.arange(bits.size, dtype=np.uint64) % np.uint64(65521)) + np.uint64(1)
    return int((bits.astype(np.uint64) * weights).sum(dtype=np.uint64))


def samples(values: np.ndarray, rng: np.random.Generator, count: int) -> list:
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    idx = np.unique(rng.integers(0, flat.size, size=count))
    return [[int(i), float(flat[i])] for i in idx]


# ---------------------------------------------------------------- letterbox

LETTERBOX = [
    # (width, height, kind, seed, size)
    (640, 640, "noise", 1, 640),
    (37, 53, "noise", 2, 640),
    (53, 37, "gradient", 3, 640),
    (1, 1, "noise", 4, 640),
    (1, 1000, "noise", 5, 640),
    (3000, 200, "blocks", 6, 640),
    (1200, 1600, "noise", 7, 640),
    (1200, 1600, "blocks", 8, 640),
    (4000, 3000, "noise", 9, 640),
    (3000, 4000, "gradient", 10, 960),
    (1280, 960, "noise", 11, 640),
    (320, 240, "noise", 12, 640),
    (100, 303, "noise", 13, 640),
    (1920, 3, "gradient", 14, 640),
    (2448, 3264, "blocks", 15, 640),
    (641, 480, "noise", 16, 640),
    (1000, 1000, "noise", 17, 960),
]


def letterbox_cases() -> list:
    cases = []
    for width, height, kind, seed, size in LETTERBOX:
        img = pattern(kind, width, height, seed)
        case = {"width": width, "height": height, "kind": kind, "seed": seed, "size": size}
        detector = ObjectDetector("model", ["a"], image_size=size)
        try:
            tensor = detector.preprocess(img)
        except Exception as e:  # the SDK (OpenCV) refuses the image
            case["error"] = type(e).__name__
            cases.append(case)
            print(f"letterbox {width}x{height}: error {type(e).__name__}", file=sys.stderr)
            continue
        assert tensor.shape == (1, 3, size, size) and tensor.dtype == np.float32
        # Where the image is: albumentations' LongestMaxSize rounds the new sides.
        resized = A.LongestMaxSize(max_size=size, interpolation=cv2.INTER_LINEAR)(image=img)["image"]
        rh, rw = resized.shape[:2]
        # What the SDK's reverse_bbox_transform assumes: int() of the new sides.
        scale = size / max(height, width)
        th, tw = int(height * scale), int(width * scale)
        case.update(
            resized_width=rw,
            resized_height=rh,
            pad_left=(size - rw) // 2,
            pad_top=(size - rh) // 2,
            reverse_pad_left=(size - tw) // 2,
            reverse_pad_top=(size - th) // 2,
            checksum=checksum_f32(tensor),
            samples=samples(tensor, np.random.default_rng(seed), 96),
        )
        cases.append(case)
        print(f"letterbox {width}x{height} -> {rw}x{rh} in {size}", file=sys.stderr)
    return cases


# ---------------------------------------------------------------- post-processing

LABELS_1 = ["object"]
LABELS_5 = ["nutriscore-a", "nutriscore-b", "nutriscore-c", "nutriscore-d", "nutriscore-e"]


def raw_output(rng: np.random.Generator, labels: int, columns: int, size: int) -> np.ndarray:
    """A YOLO output (4 + labels, columns): clusters of overlapping boxes, quantised
    coordinates and scores (many ties), some boxes crossing the borders or empty."""
    out = np.zeros((4 + labels, columns), dtype=np.float32)
    centres = rng.uniform(-20, size + 20, size=(12, 2))
    sizes = rng.uniform(4, size / 2, size=(12, 2))
    for i in range(columns):
        k = rng.integers(0, len(centres))
        cx, cy = centres[k] + rng.normal(0, 6, size=2)
        w, h = sizes[k] * rng.uniform(0.8, 1.25, size=2)
        if rng.random() < 0.03:
            w = 0.0
        out[0, i] = np.round(cx * 64) / 64
        out[1, i] = np.round(cy * 64) / 64
        out[2, i] = np.round(w * 64) / 64
        out[3, i] = np.round(h * 64) / 64
        scores = np.round(rng.beta(0.6, 1.6, size=labels) * 128) / 128
        if rng.random() < 0.1:
            scores[rng.integers(0, labels)] = 0.1
        out[4:, i] = scores
    return out


def response_of(output: np.ndarray):
    response = service_pb2.ModelInferResponse()
    tensor = response.outputs.add()
    tensor.name = "output0"
    response.raw_output_contents.append(np.ascontiguousarray(output).tobytes())
    return response


def objects_of(boxes, scores, classes, labels) -> list:
    return [
        {
            "bounding_box": [float(v) for v in box],
            "score": float(score),
            "label": labels[int(cls)],
        }
        for box, score, cls in zip(boxes, scores, classes)
    ]


POSTPROCESS = [
    # (seed, labels, columns, (height, width), size, threshold, nms_threshold, nms_eta)
    (101, LABELS_1, 300, (1600, 1200), 640, 0.1, None, None),
    (102, LABELS_5, 300, (1200, 1600), 640, 0.1, None, None),
    (103, LABELS_1, 400, (3000, 4000), 960, 0.25, None, None),
    (104, LABELS_5, 250, (53, 37), 640, 0.1, 0.5, 0.9),
    (105, LABELS_1, 300, (1000, 1000), 640, 0.3, 0.45, None),
    (106, LABELS_1, 200, (303, 100), 640, 0.1, 0.7, 0.75),
]


def postprocess_cases() -> list:
    cases = []
    for seed, labels, columns, shape, size, threshold, nms_t, nms_eta in POSTPROCESS:
        rng = np.random.default_rng(seed)
        output = raw_output(rng, len(labels), columns, size)
        detector = ObjectDetector("model", labels, image_size=size)
        common = {
            "labels": labels,
            "height": shape[0],
            "width": shape[1],
            "size": size,
            "threshold": threshold,
            "nms_threshold": nms_t,
            "nms_eta": nms_eta,
            "output": [float(v) for v in output.reshape(-1)],
        }
        kwargs = dict(threshold=threshold, original_shape=shape, nms_threshold=nms_t, nms_eta=nms_eta)
        with_nms = detector.postprocess(response_of(output), nms=True, **kwargs)
        without = detector.postprocess(response_of(output), nms=False, **kwargs)
        # Before Robotoff PR #1806 the rows went to OpenCV unconverted.
        legacy_idx = cv2.dnn.NMSBoxes(
            without.detection_boxes,
            without.detection_scores,
            score_threshold=threshold,
            nms_threshold=0.7 if nms_t is None else nms_t,
            eta=1.0 if nms_eta is None else nms_eta,
        )
        legacy_idx = [int(i) for i in np.array(legacy_idx).reshape(-1)]
        legacy = objects_of(
            without.detection_boxes[legacy_idx],
            without.detection_scores[legacy_idx],
            without.detection_classes[legacy_idx],
            labels,
        )
        cases.append(
            {
                **common,
                "seed": seed,
                "objects": with_nms.to_list(),
                "objects_without_nms": without.to_list(),
                "objects_legacy": legacy,
            }
        )
        print(
            f"postprocess {seed}: {len(without.to_list())} candidates, "
            f"{len(with_nms.to_list())} kept, {len(legacy)} kept (legacy)",
            file=sys.stderr,
        )
    return cases


# ---------------------------------------------------------------- CLIP


def logo_crop(image: np.ndarray, box) -> np.ndarray:
    height, width = image.shape[:2]
    y_min, x_min, y_max, x_max = box
    left, right = int(x_min * width), int(x_max * width)
    top, bottom = int(y_min * height), int(y_max * height)
    crop = image[top:bottom, left:right]
    return cv2.resize(crop, (224, 224), interpolation=cv2.INTER_LINEAR)


CLIP_IMAGES = [
    # (width, height, kind, seed, boxes)
    (
        1200,
        1600,
        "noise",
        21,
        [
            [0.1, 0.2, 0.4, 0.6],
            [0.25, 0.25, 0.39, 0.6233333333333333],  # 448 x 448: exact 2x shrink
            [0.0, 0.0, 1.0, 1.0],
            [0.5, 0.5, 0.50125, 0.5025],  # 2 x 3 pixels, upscaled
            [0.6, 0.3, 0.74, 0.4866666666666667],  # 224 x 224: copied
            [float(np.float32(0.123456)), float(np.float32(0.0654321)), float(np.float32(0.8)), float(np.float32(0.333))],
            [0.3, 0.3, 0.3001, 0.5],  # empty rows: an error
        ],
    ),
    (
        1000,
        750,
        "blocks",
        22,
        [
            [0.05, 0.05, 0.95, 0.95],
            [0.7, 0.01, 0.99, 0.12],
        ],
    ),
]


def clip_cases() -> list:
    processor = CLIPImageProcessor()
    cases = []
    for width, height, kind, seed, boxes in CLIP_IMAGES:
        img = pattern(kind, width, height, seed)
        rng = np.random.default_rng(seed)
        entries = []
        for box in boxes:
            entry = {"bounding_box": box}
            try:
                crop = logo_crop(img, box)
            except cv2.error:
                entry["error"] = "empty crop"
                entries.append(entry)
                continue
            pixel_values = processor(images=[crop], return_tensors="np").pixel_values
            assert pixel_values.shape == (1, 3, 224, 224) and pixel_values.dtype == np.float32
            entry.update(
                crop_checksum=int(
                    (crop.reshape(-1).astype(np.uint64) * (np.arange(crop.size, dtype=np.uint64) + np.uint64(1))).sum(
                        dtype=np.uint64
                    )
                ),
                checksum=checksum_f32(pixel_values),
                samples=samples(pixel_values, rng, 48),
            )
            entries.append(entry)
        # One batch of every valid crop, as Robotoff sends them.
        valid = [logo_crop(img, e["bounding_box"]) for e in entries if "error" not in e]
        batch = processor(images=valid, return_tensors="np").pixel_values
        cases.append(
            {
                "width": width,
                "height": height,
                "kind": kind,
                "seed": seed,
                "crops": entries,
                "batch_checksum": checksum_f32(batch),
            }
        )
        print(f"clip {width}x{height}: {len(entries)} boxes", file=sys.stderr)
    return cases


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    versions = {
        name: version(name)
        for name in [
            "openfoodfacts",
            "albumentations",
            "albucore",
            "numpy",
            "opencv-python-headless",
            "pillow",
            "transformers",
        ]
    }
    versions["python"] = sys.version.split()[0]
    for name, cases in [
        ("letterbox", letterbox_cases()),
        ("postprocess", postprocess_cases()),
        ("clip", clip_cases()),
    ]:
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump({"versions": versions, "cases": cases}, f, separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    main()
