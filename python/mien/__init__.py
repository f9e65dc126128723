"""mien - face detection and recognition in Python over libmien (include/mien.h), with
Amazon Rekognition's request and response shapes.

    import mien
    eng = mien.Engine()                       # detection and comparison, no store
    faces = eng.detect(open("group.jpg", "rb").read())     # DetectFaces' FaceDetails
    vecs = eng.embed(jpeg)                    # numpy (n, 512) float32, largest face first
    svc = mien.Service(store="/srv/faces")    # collections, users, the audit log
    svc.call("CreateCollection", {"CollectionId": "staff"})
    rek = mien.client(store="/srv/faces")     # boto3's Rekognition client, answered locally
    rek.detect_faces(Image={"Bytes": jpeg})

Everything runs in this process: the numbers are those `mien detect` prints and `mien serve`
answers, because all three run the same operation table. mien never infers gender, age,
emotion or ethnicity; asking for them is refused with the reason, as the server does.
"""

import base64
import ctypes
import json

from . import _lib
from ._lib import EMBEDDING_DIM

__all__ = ["Engine", "Service", "client", "ClientError", "similarity", "EMBEDDING_DIM"]
__version__ = "0.1.0"

_ERRLEN = 1024


class ClientError(Exception):
    """A refused call, shaped as botocore's ClientError: .response["Error"]["Code"] is
    Rekognition's error type ("InvalidParameterException", ...), ["Message"] says why."""

    def __init__(self, error_response, operation_name):
        self.response = error_response
        self.operation_name = operation_name
        err = error_response.get("Error", {})
        super().__init__(
            f"An error occurred ({err.get('Code')}) when calling the {operation_name} "
            f"operation: {err.get('Message')}"
        )


_error_classes = {}


def _error_class(code):
    """The ClientError subclass named after one Rekognition error type (client.exceptions.X)."""
    if code not in _error_classes:
        _error_classes[code] = type(code, (ClientError,), {})
    return _error_classes[code]


def _b(s):
    return None if s is None else (s if isinstance(s, bytes) else str(s).encode())


def _bytes_of(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if hasattr(v, "read"):
        return v.read()
    raise TypeError("image bytes must be bytes, bytearray, memoryview or a readable file")


class Service:
    """A mien service (mien_service_open): the store at `store` (a directory; None: $MIEN_DATA,
    else ~/.local/share/mien), `workers` face pipelines for concurrent calls, and the options
    of mien_service_config (models, template_key, region, buckets as ["NAME=DIR", ...],
    threads, queue_timeout_ms, min_face, min_score, detector, max_image_bytes, ...)."""

    def __init__(self, store=None, *, no_store=False, models=None, template_key=None, region=None,
                 buckets=(), workers=1, threads=0, queue_timeout_ms=0, min_face=0, min_score=0.0,
                 detector=None, max_image_bytes=0, max_image_side=0, max_image_pixels=0):
        cfg = _lib.ServiceConfig()
        _lib.lib.mien_service_config_init(ctypes.byref(cfg))
        # The config's strings must live as long as the call that reads them: keep them here.
        self._keep = [_b(x) for x in (models, store, template_key, region, detector)]
        cfg.models, cfg.store, cfg.template_key, cfg.region, cfg.detector = self._keep
        cfg.no_store = 1 if no_store else 0
        specs = [_b(s) for s in buckets]
        arr = (ctypes.c_char_p * max(len(specs), 1))(*specs)
        self._keep.append(arr)
        cfg.buckets, cfg.nbuckets = (arr if specs else None), len(specs)
        cfg.workers, cfg.threads, cfg.queue_timeout_ms = workers, threads, queue_timeout_ms
        cfg.min_face, cfg.min_score = min_face, min_score
        cfg.max_image_bytes, cfg.max_image_side = max_image_bytes, max_image_side
        cfg.max_image_pixels = max_image_pixels
        self._h = ctypes.c_void_p()
        err = ctypes.create_string_buffer(_ERRLEN)
        st = _lib.lib.mien_service_open(ctypes.byref(cfg), ctypes.byref(self._h), err, _ERRLEN)
        if st != 0:
            self._h = None
            self._raise(st, err, "Open")

    # ---- life ----

    def close(self):
        if getattr(self, "_h", None):
            _lib.lib.mien_service_close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _handle(self):
        if not self._h:
            raise ValueError("the service is closed")
        return self._h

    @property
    def model_version(self):
        """FaceModelVersion of the models this service runs."""
        return _lib.lib.mien_service_model_version(self._handle()).decode()

    @staticmethod
    def operations():
        """The Rekognition operations mien answers, by name."""
        ops, i = [], 0
        while (name := _lib.lib.mien_service_operation(i)) is not None:
            ops.append(name.decode())
            i += 1
        return ops

    # ---- operations by name ----

    def call_json(self, op, body):
        """Runs operation op on a JSON request body (str or bytes); returns (status name,
        response body as str): the error body {"__type", "Message"} when refused."""
        data = _b(body)
        out = ctypes.c_void_p()
        err = ctypes.create_string_buffer(_ERRLEN)
        st = _lib.lib.mien_service_call(self._handle(), _b(op), data, len(data), ctypes.byref(out),
                                        err, _ERRLEN)
        try:
            text = ctypes.string_at(out.value).decode() if out.value else ""
        finally:
            _lib.lib.mien_free(out)
        status = _lib.lib.mien_status_name(st).decode()
        if not text:  # out of memory for even the error body
            text = json.dumps({"__type": status, "Message": err.value.decode(errors="replace")})
        return status, text

    def call(self, op, request=None):
        """Runs Rekognition operation op with the request dict (Image.Bytes as base64 text, as
        on the wire; mien.client() encodes bytes for you); returns the response dict or raises
        ClientError (client.exceptions.<Code>)."""
        status, text = self.call_json(op, json.dumps(request or {}))
        body = json.loads(text)
        if status != "OK":
            raise _error_class(status)(
                {"Error": {"Code": body.get("__type", status), "Message": body.get("Message", "")}},
                op)
        return body

    # ---- typed calls ----

    def detect(self, image, attributes=None):
        """DetectFaces on encoded image bytes (JPEG or PNG): the FaceDetails list, largest face
        first, with BoundingBox, Landmarks, Pose, Quality and Confidence as Rekognition gives
        them."""
        req = {"Image": {"Bytes": base64.b64encode(_bytes_of(image)).decode()}}
        if attributes is not None:
            req["Attributes"] = list(attributes)
        return self.call("DetectFaces", req)["FaceDetails"]

    def detect_rgb(self, pixels):
        """Faces of an upright RGB image given as a numpy uint8 array (height, width, 3):
        BoundingBox, Confidence, Pose and Quality as in detect, and the 68 landmark points
        (iBUG 300-W order) as ratios in a (68, 2) array under "Landmarks68"."""
        import numpy as np

        a = np.ascontiguousarray(pixels, dtype=np.uint8)
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError("pixels must be an array of shape (height, width, 3)")
        h, w = a.shape[:2]
        faces = ctypes.POINTER(_lib.FaceDetail)()
        n = ctypes.c_int()
        err = ctypes.create_string_buffer(_ERRLEN)
        st = _lib.lib.mien_service_detect_rgb(self._handle(), a.ctypes.data, w, h, a.strides[0],
                                              ctypes.byref(faces), ctypes.byref(n), err, _ERRLEN)
        self._raise(st, err, "DetectFaces")
        try:
            return [_face_dict(faces[i], np) for i in range(n.value)]
        finally:
            _lib.lib.mien_free(faces)

    def embed(self, image):
        """The 512-d L2-normalised embedding of each face of encoded image bytes, largest face
        first: a numpy float32 array of shape (faces, 512). Faces that cannot be aligned have
        a row of zeros."""
        import numpy as np

        data = _bytes_of(image)
        faces = ctypes.POINTER(_lib.FaceDetail)()
        emb = ctypes.POINTER(ctypes.c_float)()
        n = ctypes.c_int()
        err = ctypes.create_string_buffer(_ERRLEN)
        st = _lib.lib.mien_service_embed(self._handle(), data, len(data), ctypes.byref(faces),
                                         ctypes.byref(emb), ctypes.byref(n), err, _ERRLEN)
        self._raise(st, err, "Embed")
        try:
            if n.value == 0:
                return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
            return np.ctypeslib.as_array(emb, shape=(n.value, EMBEDDING_DIM)).copy()
        finally:
            _lib.lib.mien_free(faces)
            _lib.lib.mien_free(emb)

    def compare(self, source, target, threshold=None):
        """CompareFaces: the largest face of source against every face of target; the response
        dict (SourceImageFace, FaceMatches with Similarity, UnmatchedFaces)."""
        req = {"SourceImage": {"Bytes": base64.b64encode(_bytes_of(source)).decode()},
               "TargetImage": {"Bytes": base64.b64encode(_bytes_of(target)).decode()}}
        if threshold is not None:
            req["SimilarityThreshold"] = threshold
        return self.call("CompareFaces", req)

    @staticmethod
    def _raise(st, err, op):
        if st != 0:
            code = _lib.lib.mien_status_name(st).decode()
            raise _error_class(code)(
                {"Error": {"Code": code, "Message": err.value.decode(errors="replace")}}, op)


def _face_dict(f, np):
    d = {"BoundingBox": {"Width": f.width, "Height": f.height, "Left": f.left, "Top": f.top}}
    if f.has_landmarks:
        d["Landmarks68"] = np.array([[p.x, p.y] for p in f.landmarks], dtype=np.float32)
        d["Pose"] = {"Roll": f.roll, "Yaw": f.yaw, "Pitch": f.pitch}
        d["Quality"] = {"Brightness": f.brightness, "Sharpness": f.sharpness}
    d["Confidence"] = f.confidence
    return d


class Engine(Service):
    """Detection, embeddings and comparison with no store: no data directory is touched."""

    def __init__(self, **options):
        super().__init__(no_store=True, **options)


def similarity(a, b):
    """Rekognition's Similarity (0..100, calibrated) of two embeddings from embed()."""
    import numpy as np

    x = np.ascontiguousarray(a, dtype=np.float32)
    y = np.ascontiguousarray(b, dtype=np.float32)
    if x.shape != (EMBEDDING_DIM,) or y.shape != (EMBEDDING_DIM,):
        raise ValueError(f"embeddings must have shape ({EMBEDDING_DIM},)")
    fp = ctypes.POINTER(ctypes.c_float)
    return float(_lib.lib.mien_embedding_similarity(x.ctypes.data_as(fp), y.ctypes.data_as(fp)))


from ._client import client  # noqa: E402  (the client builds on Service)
