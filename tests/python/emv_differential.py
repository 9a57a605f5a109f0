"""Driver of tests/tests/emv_differential.rs: decodes BER-TLV blobs with pyemv's
independent decoder (pyemv.tlv, EMV 4.3 Book 3 Annex B) and prints what it found.

stdin: one blob per line in hex. stdout: one JSON object per line, in input order:
  {"ok": true, "tree": {TAG: HEX | {...}}, "prims": [[TAG, HEX], ...]}
  {"ok": false, "offset": N, "error": "..."}
"tree" is pyemv's nested dictionary (a repeated tag at one level keeps the last
value); "prims" lists every primitive object depth first, repeats included.

pyemv/tlv.py is loaded on its own: the package's __init__ imports its
cryptography modules, which need the `cryptography` wheel this test does not install.
"""

import importlib.util
import json
import os
import sys


def load_tlv():
    spec = importlib.util.find_spec("pyemv")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pyemv is not installed in this interpreter")
    path = os.path.join(list(spec.submodule_search_locations)[0], "tlv.py")
    tlv_spec = importlib.util.spec_from_file_location("pyemv_tlv", path)
    module = importlib.util.module_from_spec(tlv_spec)
    tlv_spec.loader.exec_module(module)
    return module


def main():
    tlv = load_tlv()
    # Templates nest at most a few levels in EMV; a generous limit keeps a
    # deeply nested input from exhausting Python's stack.
    sys.setrecursionlimit(10000)
    for line in sys.stdin:
        data = bytes.fromhex(line.strip())
        prims = []

        def convert(tag, value):
            prims.append([tag, bytes(value).hex().upper()])
            return bytes(value).hex().upper()

        try:
            tree = tlv.decode(data, convert=convert)
            out = {"ok": True, "tree": tree, "prims": prims}
        except tlv.DecodeError as e:
            out = {"ok": False, "offset": e.offset, "error": str(e)}
        except RecursionError:
            out = {"ok": False, "offset": -1, "error": "recursion limit"}
        sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
