"""`python -m haven.encoder --verify [DIR]`: checks the pinned model files (for scripts/bootstrap.sh).

Exit status 0 when every file matches, 1 with the clear message of EncoderIntegrityError otherwise.
Imports neither onnxruntime nor the weights: only hashes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import pins


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m haven.encoder", description=__doc__)
    parser.add_argument("--verify", action="store_true", help="check the model files' sha256 hashes")
    parser.add_argument(
        "dir", nargs="?", type=Path, help="model folder (default: HAVEN_ENCODER_DIR, else the package's)"
    )
    args = parser.parse_args(argv)
    if not args.verify:
        parser.print_help()
        return 2
    try:
        directory = pins.model_dir(args.dir)
        found = pins.verify(directory)
    except pins.EncoderIntegrityError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    for name, digest in found.items():
        print(f"ok  {name}  sha256 {digest}")
    print(f"Sentence encoder files verified ({pins.MODEL_NAME}@{pins.REVISION[:12]}) in {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
