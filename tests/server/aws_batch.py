"""aws_batch.py - aws-cli's own driver run for many calls in one Python process (tests/lib.sh
aws_batch_start and aws_batch).

Each `aws` process spends about a second of CPU starting Python and importing aws-cli before it
sends anything; the suites that drive the server through aws-cli make some fifty calls each, so
that start was most of their time. Here the imports happen once, and every call still builds a
new driver from the call's own arguments and environment (aws-cli's argument parsing, model
loading, signing, retries, error codes and output, exactly the code `aws` runs): only the
interpreter is shared. Run it with the Python of the aws-cli under test (Debian's v2 is
/usr/bin/python3's, the v1 on PATH another's).

Protocol, on stdin and stdout (FIFOs): a call is NUL-terminated fields: the number of fields that
follow, the file for the call's stdout, the file for its stderr, the number of AWS_* environment
entries, those NAME=VALUE entries, then aws's arguments. The answer is the exit status on a line.
"""

import os
import sys

import awscli.clidriver

DATA = os.path.join(os.path.dirname(os.path.abspath(awscli.__file__)), "data")


def fields(stream):
    buf = b""
    while True:
        while b"\0" not in buf:
            more = stream.read1(65536)
            if not more:
                return
            buf += more
        field, buf = buf.split(b"\0", 1)
        yield os.fsdecode(field)


def run(argv):
    if hasattr(awscli.clidriver, "AWSCLIEntryPoint"):  # v2
        return awscli.clidriver.AWSCLIEntryPoint().main(argv)
    return awscli.clidriver.create_clidriver().main(argv)  # v1


def main():
    src = fields(sys.stdin.buffer)
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for count in src:
        call = [next(src) for _ in range(int(count))]
        out, err, nenv = call[0], call[1], int(call[2])
        env, argv = call[3 : 3 + nenv], call[3 + nenv :]
        os.environ.clear()
        os.environ.update(base)
        os.environ.update(kv.split("=", 1) for kv in env)
        # What importing awscli does to a new process's AWS_DATA_PATH: its own data last.
        paths = os.environ["AWS_DATA_PATH"].split(os.pathsep) if "AWS_DATA_PATH" in os.environ else []
        paths = [os.path.expanduser(os.path.expandvars(p)) for p in paths] + [DATA]
        os.environ["AWS_DATA_PATH"] = os.pathsep.join(paths)
        with open(out, "w") as o, open(err, "w") as e:
            sys.stdout, sys.stderr = o, e
            try:
                rc = run(argv)
            except SystemExit as exit:
                rc = exit.code if isinstance(exit.code, int) else 1
            except Exception as failure:  # what a crashing `aws` would print, and its status
                print(f"aws_batch: {failure!r}", file=e)
                rc = 255
            finally:
                sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        print(rc if rc is not None else 0, flush=True)


if __name__ == "__main__":
    main()
