"""The sentence encoder (haven/encoder): published similarities, runtime vs numpy reference, pinned
hashes, chunking bounds, and the API others code against."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from haven.encoder import DIM, Encoder, EncoderIntegrityError, load_encoder, pins
from haven.settings import ROOT

# sentence-transformers' documentation for all-MiniLM-L6-v2 (shared/notes/sentence-encoder.md).
PUBLISHED = [
    ("The weather is lovely today.", "It's so sunny outside!", 0.6660),
    ("The weather is lovely today.", "He drove to the stadium.", 0.1046),
    ("It's so sunny outside!", "He drove to the stadium.", 0.1411),
    ("The new movie is awesome", "The dog plays in the garden", 0.0543),
    ("The new movie is awesome", "The new movie is so great", 0.8939),
    ("The new movie is awesome", "A woman watches TV", -0.0502),
    ("The cat sits outside", "The dog plays in the garden", 0.2838),
    ("The cat sits outside", "A woman watches TV", 0.1310),
    ("A man is playing guitar", "The dog plays in the garden", 0.2277),
    ("A man is playing guitar", "A woman watches TV", -0.0327),
]

CALM = [
    "I went for a long walk by the river this morning and the light on the water was beautiful, "
    "with ducks and a heron standing very still near the bridge where the old mill used to be.",
    "Afterwards I made pancakes with blueberries and lemon, which my grandmother used to make for us "
    "on Sundays when we stayed at her little house near the coast every summer holiday.",
    "In the afternoon I read a few chapters of a novel about a lighthouse keeper and his daughter, "
    "and then I watered the tomatoes and the basil on the balcony before it got dark outside.",
]
RISK = "Tonight I am going to take all of my pills because I do not want to be alive anymore."


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return Encoder(runtime="onnx", threads=1)


@pytest.fixture(scope="session")
def reference() -> Encoder:
    return Encoder(runtime="reference")


@pytest.fixture(scope="session", params=["onnx", "reference"])
def any_runtime(request, encoder, reference) -> Encoder:
    return encoder if request.param == "onnx" else reference


def text_of_positions(encoder: Encoder, positions: int) -> str:
    """A text of exactly `positions` positions with [CLS] and [SEP] (positions - 2 wordpieces)."""
    words = "she said that the long winter had finally ended and the garden was green again".split()
    text = " ".join(words[i % len(words)] for i in range(positions - 2))
    assert encoder.token_count(text) == positions - 2
    return text


# -- the published numbers ------------------------------------------------------------------------
@pytest.mark.parametrize("a, b, published", PUBLISHED, ids=[f"{a[:12]}|{b[:12]}" for a, b, _ in PUBLISHED])
def test_published_similarities_are_reproduced(any_runtime: Encoder, a: str, b: str, published) -> None:
    va, vb = any_runtime.encode([a, b])
    assert abs(float(va @ vb) - published) < 1e-4


# -- the shipped runtime against the numpy reference ------------------------------------------------
@pytest.mark.parametrize("positions", [2, 3, 10, 22, 64, 143, 256, 300, 700])
def test_runtime_agrees_with_the_reference(encoder: Encoder, reference: Encoder, positions: int) -> None:
    text = "" if positions == 2 else text_of_positions(encoder, positions)
    got, want = encoder.encode([text]), reference.encode([text])
    assert np.abs(got - want).max() < 1e-4


def test_runtime_agrees_with_the_reference_on_a_batch_of_mixed_lengths(encoder, reference) -> None:
    texts = ["", "Hi.", "I cut myself again 😢"]
    texts += [text_of_positions(encoder, 143), text_of_positions(encoder, 300)]
    texts += [pair[0] for pair in PUBLISHED] + ["日本語のテキスト", "  spaces  ", "x" * 150]
    got, want = encoder.encode(texts), reference.encode(texts)
    assert got.shape == want.shape == (len(texts), DIM)
    assert np.abs(got - want).max(axis=1).max() < 1e-4


def test_a_batch_gives_the_same_vectors_as_one_at_a_time(encoder: Encoder) -> None:
    texts = [pair[1] for pair in PUBLISHED] + [text_of_positions(encoder, 143)]
    encoder.cache_clear()
    batched = encoder.encode(texts)
    encoder.cache_clear()
    single = np.vstack([encoder.encode([t]) for t in texts])
    assert np.abs(batched - single).max() < 1e-5


def test_inputs_past_256_positions_are_cut_there(encoder: Encoder) -> None:
    long = text_of_positions(encoder, 300)
    longer = long + " and then something entirely different happened at the very end"
    assert np.abs(encoder.encode([long]) - encoder.encode([longer])).max() < 1e-6
    shorter = text_of_positions(encoder, 200)
    assert np.abs(encoder.encode([long]) - encoder.encode([shorter])).max() > 1e-3


# -- the API ---------------------------------------------------------------------------------------
def test_encode_gives_normalised_float32_rows_in_order(encoder: Encoder) -> None:
    texts = ["b", "", "a longer sentence here", "b"]
    vectors = encoder.encode(texts)
    assert DIM == 384 and vectors.shape == (4, DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[3])
    assert not np.allclose(vectors[0], vectors[2])
    assert encoder.encode([]).shape == (0, DIM)


def test_encode_refuses_a_bare_string(encoder: Encoder) -> None:
    with pytest.raises(TypeError, match="sequence"):
        encoder.encode("one text")


def test_the_cache_is_bounded_and_returns_copies(tmp_path) -> None:
    small = Encoder(runtime="onnx", cache_size=2, threads=1)
    first = small.encode(["one"])
    first[0, :] = 0  # the caller's array is theirs to change
    assert np.linalg.norm(small.encode(["one"])[0]) == pytest.approx(1.0, abs=1e-5)
    small.encode(["two", "three", "four"])
    assert len(small._cache) == 2 and "one" not in small._cache


def test_load_encoder_is_one_per_process() -> None:
    assert load_encoder() is load_encoder()
    assert load_encoder().runtime == "onnx"


def test_token_count_leaves_out_cls_and_sep(encoder: Encoder) -> None:
    assert encoder.token_count("") == 0
    assert encoder.token_count("The cat sits outside") == 4


# -- the pinned files ------------------------------------------------------------------------------
def copy_model(tmp_path: Path, skip: str = "") -> Path:
    target = tmp_path / "model"
    target.mkdir()
    for pinned in pins.PINNED_FILES:
        if pinned.name != skip:
            shutil.copy(pins.default_model_dir() / pinned.name, target / pinned.name)
    return target


def change_one_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json"])
def test_one_changed_byte_is_refused_with_a_clear_message(tmp_path: Path, name: str) -> None:
    model = copy_model(tmp_path)
    change_one_byte(model / name, at=(model / name).stat().st_size // 2)
    expected = next(p.sha256 for p in pins.PINNED_FILES if p.name == name)
    found = pins.sha256_of(model / name)
    with pytest.raises(EncoderIntegrityError) as caught:
        Encoder(model, runtime="onnx")
    message = str(caught.value)
    assert name in message and expected in message and found in message
    assert "does not match the pinned revision" in message
    assert caught.value.found == found and caught.value.expected == expected


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json"])
def test_a_missing_file_is_refused_with_a_clear_message(tmp_path: Path, name: str) -> None:
    model = copy_model(tmp_path, skip=name)
    with pytest.raises(EncoderIntegrityError, match=f"{name} is missing"):
        Encoder(model)


def test_the_intact_copy_loads_and_the_verify_command_agrees(tmp_path: Path) -> None:
    model = copy_model(tmp_path)
    assert Encoder(model, runtime="onnx").encode(["ok"]).shape == (1, DIM)
    command = [sys.executable, "-m", "haven.encoder", "--verify", str(model)]
    assert subprocess.run(command, cwd=ROOT, capture_output=True, timeout=120).returncode == 0
    change_one_byte(model / "tokenizer.json", at=10)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "tokenizer.json does not match" in done.stderr and pins.PINNED_FILES[1].sha256 in done.stderr


# -- chunks ----------------------------------------------------------------------------------------
def test_short_text_is_one_chunk(encoder: Encoder) -> None:
    assert encoder.chunks("I feel a bit better today.") == ["I feel a bit better today."]
    assert encoder.chunks("") == [""]
    assert encoder.encode_chunks("").shape == (1, DIM)


@pytest.mark.parametrize("max_tokens", [24, 48, 64, 128])
def test_a_risk_sentence_after_three_calm_ones_is_inside_a_chunk(encoder: Encoder, max_tokens: int) -> None:
    text = " ".join(CALM + [RISK])
    assert encoder.token_count(text) > max_tokens  # really more than one chunk
    chunks = encoder.chunks(text, max_tokens=max_tokens, max_chunks=20)
    assert len(chunks) > 1
    assert any(RISK in chunk for chunk in chunks)
    assert all(encoder.token_count(chunk) <= max_tokens for chunk in chunks)
    assert all(chunk in text for chunk in chunks)


def test_consecutive_chunks_overlap_by_one_sentence(encoder: Encoder) -> None:
    sentences = [f"This is calm sentence number {n} about the garden and the weather." for n in range(12)]
    chunks = encoder.chunks(" ".join(sentences), max_tokens=40)
    assert len(chunks) > 2
    for before, after in zip(chunks, chunks[1:], strict=False):
        last = [s for s in sentences if s in before][-1]
        assert after.startswith(last)


@pytest.mark.parametrize(
    "text",
    [
        "This is a sentence that goes on. " * 3031,  # 100 000 characters
        "word " * 20_000,  # 100 000 characters, one sentence
        "x" * 100_000,  # one 100 000-character word
        "😢" * 10_000,  # 10 000 emoji in one run
        "😢 " * 10_000,  # 10 000 emoji as words
        "I can't do this anymore. " + "🙂🙃" * 5_000,
    ],
    ids=["100k-sentences", "100k-one-sentence", "100k-one-word", "10k-emoji-run", "10k-emoji-words", "mixed"],
)
def test_long_input_gives_bounded_chunks(encoder: Encoder, text: str) -> None:
    chunks = encoder.chunks(text)
    assert 1 <= len(chunks) <= encoder.max_chunks == 8
    assert all(len(chunk) <= encoder.max_chars == 20_000 for chunk in chunks)
    assert all(encoder.token_count(chunk) <= encoder.max_tokens == 128 for chunk in chunks)
    vectors = encoder.encode_chunks(text)
    assert vectors.shape == (len(chunks), DIM)
    assert np.isfinite(vectors).all()


def test_a_sentence_longer_than_max_tokens_is_cut_by_tokens(encoder: Encoder) -> None:
    sentence = " ".join(f"word{n}" for n in range(400))  # no full stop: one sentence
    chunks = encoder.chunks(sentence, max_tokens=100, max_chunks=50)
    assert len(chunks) > 1
    assert all(encoder.token_count(chunk) <= 100 for chunk in chunks)
    assert " ".join(chunks).split() == sentence.split()  # nothing lost or doubled at the cuts


# -- emoji: the vocabulary has none, so each is read by its Unicode name (wordpieces.readable) ---------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not sure 😀", "not sure  grinning face "),
        ("😭😭😭 i cant", " loudly crying face  i cant"),  # a run of one emoji: one name
        ("😢 😢 😢", " crying face   "),
        ("👍🏽 ok", " thumbs up sign  ok"),  # the skin tone only shapes the picture
        ("👨\u200d👩\u200d👧", " man  woman  girl "),  # joiners dropped
        ("🇺🇸 flag", " flag"),  # flag letters dropped
        ("I ♥ you", "I ♥ you"),  # in the vocabulary: kept as it is
        ("café naïve", "café naïve"),
        ("plain text, unchanged", "plain text, unchanged"),
    ],
)
def test_symbols_the_vocabulary_lacks_are_read_by_name(encoder: Encoder, text: str, expected: str) -> None:
    assert encoder._wordpieces.readable(text) == expected


def test_emoji_carry_their_meaning_into_the_embedding(any_runtime: Encoder) -> None:
    grin, sob, named = any_runtime.encode(["not sure 😀", "not sure 😭", "not sure loudly crying face"])
    # before: both emoji were the same [UNK] and the first two vectors were identical
    assert float(grin @ sob) < 0.9
    assert float(sob @ named) > 0.999


def test_the_input_preparation_is_part_of_the_fingerprint() -> None:
    from haven.encoder.wordpieces import INPUT_PREPARATION

    assert f"input={INPUT_PREPARATION}" in pins.fingerprint()
