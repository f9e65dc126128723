"""aws_model.py - teaches Debian's AWS clients Rekognition's user operations.

Debian's awscli (2.9) and python3-botocore (1.29) were released before Rekognition gained
CreateUser, AssociateFaces, SearchUsers and the rest (June 2023), so neither knows those
operations. botocore looks for service models in AWS_DATA_PATH before its own data, so this
script writes the client's own Rekognition model, merged with tests/server/rekognition-users.json,
under OUTDIR; the tests then point AWS_DATA_PATH at OUTDIR. Signing, serialization and error
parsing stay the client's own code: only the operation list grows.

    /usr/bin/python3 tests/server/aws_model.py OUTDIR botocore|awscli
"""
import importlib
import json
import os
import sys

outdir, client = sys.argv[1], sys.argv[2]
package = importlib.import_module({"botocore": "botocore", "awscli": "awscli.botocore"}[client])
version = "2016-06-27"
base = os.path.join(os.path.dirname(package.__file__), "data", "rekognition", version)
with open(os.path.join(base, "service-2.json")) as f:
    model = json.load(f)
with open(os.path.join(os.path.dirname(__file__), "rekognition-users.json")) as f:
    ext = json.load(f)

for name, shape in ext["shapes"].items():
    old = model["shapes"].get(name)
    if old:  # an existing structure gains members
        old["members"].update(shape["members"])
    else:
        model["shapes"][name] = shape
for name, io in ext["operations"].items():
    model["operations"][name] = {
        "name": name,
        "http": {"method": "POST", "requestUri": "/"},
        "input": {"shape": io["input"]},
        "output": {"shape": io["output"]},
    }

dest = os.path.join(outdir, "rekognition", version)
os.makedirs(dest, exist_ok=True)
with open(os.path.join(dest, "service-2.json"), "w") as f:
    json.dump(model, f)
