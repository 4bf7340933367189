"""The crisis risk model's training: the training encoder keeps every vector for one training."""

from __future__ import annotations

import numpy as np
import pytest

from nlu_components.crisis.risk_model import TrainingEncoder


class CountingEncoder:
    def __init__(self) -> None:
        self.encoded: list = []

    def encode(self, texts):
        self.encoded += list(texts)
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)

    def chunks(self, text):
        return [text]


def test_the_training_encoder_encodes_each_text_once() -> None:
    inner = CountingEncoder()
    encoder = TrainingEncoder(inner)
    first = encoder.encode(["a", "bb", "a"])
    second = encoder.encode(["bb", "ccc"])
    assert inner.encoded == ["a", "bb", "ccc"]
    assert first.tolist() == [[1.0, 1.0], [2.0, 1.0], [1.0, 1.0]]
    assert second.tolist() == [[2.0, 1.0], [3.0, 1.0]]
    assert encoder.chunks("x. y") == ["x. y"]


@pytest.mark.parametrize("texts", [[], ()])
def test_the_training_encoder_gives_an_empty_matrix_for_no_texts(texts) -> None:
    from haven.encoder import DIM

    assert TrainingEncoder(CountingEncoder()).encode(texts).shape == (0, DIM)


def test_a_change_to_the_training_code_changes_the_cache_key(tmp_path, monkeypatch) -> None:
    """Rasa's cache key knows the config and the NLU data, not our code: CrisisRiskModel adds the bytes of
    the crisis package (the data reader, the model, the patterns and judgement training uses), so an
    edited training step retrains instead of restoring the old model."""
    import shutil

    from nlu_components.crisis import risk_model
    from nlu_components.crisis.risk_model import CrisisRiskModel

    config = CrisisRiskModel.get_default_config()
    before = CrisisRiskModel.fingerprint_addon(config)
    assert CrisisRiskModel.fingerprint_addon(config) == before, "the key is stable"
    copy = tmp_path / "crisis"
    shutil.copytree(risk_model.TRAINING_CODE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(risk_model, "TRAINING_CODE", copy)
    assert CrisisRiskModel.fingerprint_addon(config) == before, "the same code, the same key"
    judgement = copy / "judgement.py"
    judgement.write_bytes(judgement.read_bytes() + b"\n# edited\n")
    assert CrisisRiskModel.fingerprint_addon(config) != before
