"""A computed step as the caches keep it: bytes that hold its arrays as they are in memory.

A step's outputs, in the form its data types give them (``DataType.to_stored``: dicts, lists,
strings, numbers, None and numpy arrays), become one blob: a marker, the length of a JSON
head, the head (the outputs with each numeric array replaced by a reference, and each array's
dtype and shape), then the arrays' bytes. Writing an array costs a copy of its memory rather
than a decimal text per number (10⁶ points of JSON took minutes to write); reading it back is
a view of the blob. Nothing in a blob is ever run: the head is JSON and the dtypes are
numbers only.
"""

import json
import struct

import numpy as np

MARK = b"beamtime step 1\n"
ARRAY, DICT = "__array__", "__dict__"  # the head's two tags; a dict using them is wrapped
NUMBERS = "biufc"  # the dtype kinds kept as bytes: booleans, integers, floats, complexes
ALIGN = 8


def encode(outputs) -> bytes:
    arrays: list[np.ndarray] = []

    def strip(value):
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in NUMBERS:
                return strip(value.tolist())
            arrays.append(value)
            return {ARRAY: len(arrays) - 1}
        if isinstance(value, dict):
            plain = {key: strip(item) for key, item in value.items()}
            return {DICT: plain} if ARRAY in value or DICT in value else plain
        if isinstance(value, (list, tuple)):
            return [strip(item) for item in value]
        return value

    tree = strip(outputs)
    layout = [[a.dtype.str, list(a.shape)] for a in arrays]
    head = json.dumps({"tree": tree, "arrays": layout}).encode()
    parts = [MARK, struct.pack("<Q", len(head)), head]
    size = sum(map(len, parts))
    for array in arrays:
        padding = -size % ALIGN
        parts.append(b"\0" * padding)
        data = np.ascontiguousarray(array).tobytes()
        parts.append(data)
        size += padding + len(data)
    return b"".join(parts)


def decode(blob: bytes):
    """The outputs ``encode`` was given (arrays as read-only views of ``blob``), or None
    when ``blob`` is not such a blob (damaged, or written by an older Beamtime)."""
    if not blob.startswith(MARK):
        return None
    try:
        return _decode(blob)
    except (ValueError, TypeError, LookupError, OverflowError, RecursionError, struct.error):
        return None


def _decode(blob: bytes):
    start = len(MARK) + 8
    (length,) = struct.unpack_from("<Q", blob, len(MARK))
    head = json.loads(blob[start : start + length])
    offset, arrays = start + length, []
    for kind, shape in head["arrays"]:
        dtype = np.dtype(kind)
        if dtype.kind not in NUMBERS:
            raise ValueError(f"{kind!r} is not a dtype of numbers")
        offset += -offset % ALIGN
        array = np.frombuffer(blob, dtype, int(np.prod(shape, dtype=np.int64)), offset)
        arrays.append(array.reshape(shape))
        offset += array.nbytes
    if offset != len(blob):
        raise ValueError("the arrays do not end where the blob does")

    def restore(value, wrapped=False):
        if isinstance(value, dict):
            if not wrapped and len(value) == 1 and ARRAY in value:
                return arrays[value[ARRAY]]
            if not wrapped and len(value) == 1 and DICT in value:
                return restore(value[DICT], wrapped=True)
            return {key: restore(item) for key, item in value.items()}
        if isinstance(value, list):
            return [restore(item) for item in value]
        return value

    return restore(head["tree"])
