"""_client.py - mien.client(): the methods of boto3's Rekognition client (detect_faces,
index_faces, search_faces_by_image, ...) answered in this process by a mien Service, with the
response shapes boto3 gives for `mien serve`: image bytes given raw and sent base64, timestamps
as datetimes, ResponseMetadata added, refusals raised as ClientError with .response["Error"]
and caught as client.exceptions.<Rekognition error type>.

When botocore is importable, each response is read through its Rekognition model (the one
boto3 would use, $AWS_DATA_PATH included), so members the model does not know are dropped and
types converted exactly as boto3 does for a server's answer; without it (or for an operation
its model lacks) the response is passed on whole, the known timestamps made datetimes."""

import base64
import datetime
import re
import uuid

# Response members whose Rekognition shape is a timestamp (botocore makes them datetimes).
_TIMESTAMPS = {"CreationTimestamp", "LastUpdateTimestamp"}


def _encode(v):
    """The request as JSON wants it: a blob (Bytes) as base64 text, recursively."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k == "Bytes" and not isinstance(x, str):
                from . import _bytes_of

                x = base64.b64encode(_bytes_of(x)).decode()
            out[k] = _encode(x)
        return out
    if isinstance(v, (list, tuple)):
        return [_encode(x) for x in v]
    return v


def _tz():
    try:
        from dateutil.tz import tzlocal  # what botocore uses

        return tzlocal()
    except ImportError:
        return datetime.timezone.utc


def _decode(v):
    if isinstance(v, dict):
        return {k: (datetime.datetime.fromtimestamp(x, _tz())
                    if k in _TIMESTAMPS and isinstance(x, (int, float)) else _decode(x))
                for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


def _model():
    """botocore's Rekognition service model, or None."""
    try:
        import botocore.session

        return botocore.session.get_session().get_service_model("rekognition")
    except Exception:  # no botocore, or no model for it: pass responses on whole
        return None


def _parse(shape, v):
    """v read as botocore reads a JSON response of that shape."""
    t = shape.type_name
    if t == "structure" and isinstance(v, dict):
        return {k: _parse(shape.members[k], x) for k, x in v.items() if k in shape.members}
    if t == "list" and isinstance(v, list):
        return [_parse(shape.member, x) for x in v]
    if t == "map" and isinstance(v, dict):
        return {k: _parse(shape.value, x) for k, x in v.items()}
    if t == "timestamp" and isinstance(v, (int, float)):
        return datetime.datetime.fromtimestamp(v, _tz())
    if t == "blob" and isinstance(v, str):
        return base64.b64decode(v)
    return v


def _snake(op):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower()


class _Exceptions:
    """client.exceptions.InvalidParameterException and the like: ClientError subclasses."""

    ClientError = None

    def __getattr__(self, name):
        if not name.endswith(("Exception", "Error")):
            raise AttributeError(name)
        from . import _error_class

        return _error_class(name)


class Client:
    def __init__(self, service):
        from . import ClientError

        self._service = service
        self._ops = {_snake(op): op for op in service.operations()}
        self._model = _model()
        self.exceptions = _Exceptions()
        self.exceptions.ClientError = ClientError

    def _read(self, op, resp):
        if self._model is not None and op in self._model.operation_names:
            out = self._model.operation_model(op).output_shape
            return _parse(out, resp) if out is not None else {}
        return _decode(resp)

    def can_paginate(self, name):
        return False

    def close(self):
        self._service.close()

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._ops))

    def __getattr__(self, name):
        ops = self.__dict__.get("_ops", {})
        if name not in ops:
            raise AttributeError(f"'Client' object has no attribute '{name}'")
        op = ops[name]

        def method(**params):
            from . import ClientError

            request_id = str(uuid.uuid4())
            meta = {"RequestId": request_id, "HTTPStatusCode": 200,
                    "HTTPHeaders": {"x-amzn-requestid": request_id,
                                    "content-type": "application/x-amz-json-1.1"},
                    "RetryAttempts": 0}
            try:
                resp = self._read(op, self._service.call(op, _encode(params)))
            except ClientError as e:
                meta["HTTPStatusCode"] = 500 if e.response["Error"]["Code"] in (
                    "InternalServerError", "ThrottlingException") else 400
                e.response["ResponseMetadata"] = meta
                raise
            resp["ResponseMetadata"] = meta
            return resp

        method.__name__ = name
        method.__doc__ = f"Rekognition {op}, answered locally by mien."
        return method


def client(service_name="rekognition", store=None, service=None, **options):
    """A Rekognition client answered by mien in this process. store (a directory) and options
    as mien.Service; or give an open service. service_name must be "rekognition" (accepted so
    that `mien.client("rekognition")` reads like boto3.client)."""
    if service_name != "rekognition":
        raise ValueError("mien answers only the rekognition service")
    from . import Service

    return Client(service if service is not None else Service(store=store, **options))
