"""checks.py - the lines the shell tests count ("ok NAME", "FAIL NAME: why"), for the Python halves
of the server tests (boto3_ops.py, boto3_video.py, conformance.py), imported from beside them."""
import sys

failed = 0


def check(name, cond, detail=""):
    global failed
    if cond:
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}"[:600])


def finish():
    """Exit 1 when any check failed, else 0."""
    sys.exit(1 if failed else 0)
