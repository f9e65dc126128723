"""_lib.py - libmien.so through ctypes: finding the library and declaring the C API of
include/mien.h that the package uses. Nothing is compiled: the package is pure Python over the
shared library the C build makes (or the one installed).

Lookup order: $MIEN_LIBRARY (a path), then the build tree this package sits in
($MIEN_BUILD/libmien.so, else ../build/libmien.so beside python/), then the system's
(ctypes.util.find_library("mien"))."""

import ctypes
import ctypes.util
import os
from pathlib import Path

_c = ctypes


class ServiceConfig(_c.Structure):
    """mien_service_config, field for field (mien.h); zeroed means every default."""

    _fields_ = [
        ("models", _c.c_char_p),
        ("store", _c.c_char_p),
        ("no_store", _c.c_int),
        ("principal", _c.c_char_p),
        ("template_key", _c.c_char_p),
        ("region", _c.c_char_p),
        ("buckets", _c.POINTER(_c.c_char_p)),
        ("nbuckets", _c.c_int),
        ("workers", _c.c_int),
        ("threads", _c.c_int),
        ("queue_timeout_ms", _c.c_int),
        ("min_face", _c.c_int),
        ("min_score", _c.c_float),
        ("detector", _c.c_char_p),
        ("max_image_bytes", _c.c_size_t),
        ("max_image_side", _c.c_int),
        ("max_image_pixels", _c.c_int64),
        ("video_jobs", _c.c_int),
        ("video_retention_s", _c.c_double),
        ("log", _c.c_void_p),  # void (*)(void *, const char *); NULL: stderr
        ("log_ctx", _c.c_void_p),
    ]


class Point(_c.Structure):
    _fields_ = [("x", _c.c_float), ("y", _c.c_float)]


class FaceDetail(_c.Structure):
    """mien_face_detail: one face as DetectFaces describes it, coordinates as ratios."""

    _fields_ = [
        ("left", _c.c_float),
        ("top", _c.c_float),
        ("width", _c.c_float),
        ("height", _c.c_float),
        ("confidence", _c.c_float),
        ("has_landmarks", _c.c_int),
        ("landmarks", Point * 68),
        ("roll", _c.c_float),
        ("yaw", _c.c_float),
        ("pitch", _c.c_float),
        ("brightness", _c.c_float),
        ("sharpness", _c.c_float),
    ]


EMBEDDING_DIM = 512


def _candidates():
    env = os.environ.get("MIEN_LIBRARY")
    if env:
        yield env
        return
    build = os.environ.get("MIEN_BUILD")
    if build:
        yield str(Path(build) / "libmien.so")
    yield str(Path(__file__).resolve().parent.parent.parent / "build" / "libmien.so")
    found = ctypes.util.find_library("mien")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            return _c.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise OSError(
        "libmien.so not found; build mien (make), set MIEN_LIBRARY to the library, or install "
        "it. Tried: " + ", ".join(tried or ["nothing"])
    )


lib = _load()

_ERR = _c.c_char_p  # char *err, then size_t errlen
_svc = _c.c_void_p


def _declare(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


_declare("mien_status_name", _c.c_char_p, _c.c_int)
_declare("mien_free", None, _c.c_void_p)
_declare("mien_service_config_init", None, _c.POINTER(ServiceConfig))
_declare("mien_service_open", _c.c_int, _c.POINTER(ServiceConfig), _c.POINTER(_svc), _c.c_char_p,
         _c.c_size_t)
_declare("mien_service_close", None, _svc)
_declare("mien_service_call", _c.c_int, _svc, _c.c_char_p, _c.c_char_p, _c.c_size_t,
         _c.POINTER(_c.c_void_p), _c.c_char_p, _c.c_size_t)
_declare("mien_service_operation", _c.c_char_p, _c.c_int)
_declare("mien_service_model_version", _c.c_char_p, _svc)
_declare("mien_service_detect_rgb", _c.c_int, _svc, _c.c_void_p, _c.c_int, _c.c_int, _c.c_size_t,
         _c.POINTER(_c.POINTER(FaceDetail)), _c.POINTER(_c.c_int), _c.c_char_p, _c.c_size_t)
_declare("mien_service_embed", _c.c_int, _svc, _c.c_char_p, _c.c_size_t,
         _c.POINTER(_c.POINTER(FaceDetail)), _c.POINTER(_c.POINTER(_c.c_float)),
         _c.POINTER(_c.c_int), _c.c_char_p, _c.c_size_t)
_declare("mien_embedding_similarity", _c.c_float, _c.POINTER(_c.c_float), _c.POINTER(_c.c_float))
