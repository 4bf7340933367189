"""Builds the offline spaCy pipeline Rasa's SpacyNLP loads (config.yml: model: build/spacy-en).

Pretrained spaCy models are downloaded from hosts that are not reachable here, so Haven uses a blank
English pipeline with the rule/lookup lemmatizer whose tables ship in `spacy-lookups-data`.
The tables are saved inside the pipeline, so loading it needs no network and no extra package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import spacy


def build(target: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    probe = [t.lemma_ for t in nlp("feeling hurt and attached")]
    if probe[0] != "feel":
        raise SystemExit(f"lookup lemmatizer did not load its tables (got {probe})")
    nlp.meta["name"] = "haven_en"
    nlp.meta["description"] = "Blank English + lookup lemmatizer for Haven (offline)"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    nlp.to_disk(tmp)
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    print(f"spaCy pipeline written to {target}")


if __name__ == "__main__":
    build(Path(sys.argv[1] if len(sys.argv) > 1 else "build/spacy-en"))
