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
    """Rasa's cache key knows the config and the NLU data, not our code: CrisisRiskModel adds its training
    modules' bytes, so an edited training step retrains instead of restoring the old model."""
    from nlu_components.crisis import risk_data
    from nlu_components.crisis.risk_model import CrisisRiskModel

    config = CrisisRiskModel.get_default_config()
    before = CrisisRiskModel.fingerprint_addon(config)
    assert CrisisRiskModel.fingerprint_addon(config) == before, "the key is stable"
    edited = tmp_path / "risk_data.py"
    edited.write_bytes(open(risk_data.__file__, "rb").read() + b"\n# edited\n")
    monkeypatch.setattr(risk_data, "__file__", str(edited))
    assert CrisisRiskModel.fingerprint_addon(config) != before
