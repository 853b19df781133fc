"""The run log's frame at scale: cold questions go to SQL, the cache grows by appending in place."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd

from workbench.ledger import SQLiteLedger


def _row(i: int, **values):
    return {
        "id": uuid.uuid4().hex,
        "batch_id": f"batch-{i % 3}",
        "kind": "generate",
        "backend": ["draft", "openai"][i % 2],
        "model": "gpt-image-2",
        "preset": [None, "marketing-poster", f"preset-{i}"][i % 3],  # new categories keep coming
        "prompt": f"a mug, take {i}",
        "width": 1024,
        "height": [1024, 1536][i % 2],
        "quality": ["low", "medium", "high"][i % 3],
        "n": 1,
        "status": ["ok", "cached", "failed"][i % 3],
        "credits": i % 5,
        "usd": 0.01 * i,
        "latency_ms": None if i % 4 == 0 else 10.0 * i,
        "fingerprint": f"{i:064d}",
        "images": [f"images/ab/{i}.png"],
        **values,
    }


def _same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Equal frames, up to the order of a categorical column's categories."""
    assert list(left.columns) == list(right.columns)
    assert [str(t) for t in left.dtypes] == [str(t) for t in right.dtypes]
    pd.testing.assert_frame_equal(left, right, check_categorical=False)


def test_a_warm_cache_grows_in_place_and_matches_a_fresh_read(tmp_path):
    path = tmp_path / "ledger.sqlite"
    ledger = SQLiteLedger(path)
    for i in range(30):
        ledger.record(_row(i))
    first = ledger.runs()
    usd = ledger._cache["usd"].to_numpy()
    for i in range(30, 45):
        ledger.record(_row(i))
        grown = ledger.runs()
    assert len(grown) == 45 and list(grown["prompt"])[-1] == "a mug, take 44"
    # The new rows went into the spare room of the same buffers: no copy of the rows before.
    assert np.shares_memory(ledger._cache["usd"].to_numpy(), usd)
    _same(grown, SQLiteLedger(path).runs())
    assert len(first) == 30  # a frame handed out earlier does not grow under its holder


def test_a_callers_changes_never_reach_the_cache(tmp_path):
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    for i in range(5):
        ledger.record(_row(i))
    frame = ledger.runs()
    frame.loc[0, "usd"] = 99.0
    frame.iloc[1, frame.columns.get_loc("prompt")] = "changed"
    frame.loc[2, "credits"] = 77
    frame.loc[3, "status"] = "ok"
    frame["usd"].to_numpy(copy=False)  # reading is fine
    ledger.record(_row(5))
    again = ledger.runs()
    assert again.loc[0, "usd"] == 0.0 and again.loc[1, "prompt"] == "a mug, take 1"
    assert again.loc[2, "credits"] == 2 and again.loc[3, "status"] == "ok"
    assert again.loc[2, "status"] == "failed"


def test_cold_limits_and_batch_filters_are_answered_by_sql(tmp_path):
    path = tmp_path / "ledger.sqlite"
    ledger = SQLiteLedger(path)
    for i in range(40):
        ledger.record(_row(i))
    warm = ledger.runs()
    cold = SQLiteLedger(path)
    newest = cold.runs(limit=5)
    assert cold._cache is None  # the newest five came from SQLite, not from reading the whole log
    _same(newest, warm.tail(5).reset_index(drop=True).astype(newest.dtypes.to_dict()))
    batch = cold.runs(batch_id="batch-1", limit=3)
    assert list(batch["prompt"]) == ["a mug, take 31", "a mug, take 34", "a mug, take 37"]
    assert cold._cache is None
    assert len(cold.runs(status="ok")) == 14
    cold.runs()  # warm: from now on the questions are answered from the frame
    assert cold._cache is not None and list(cold.runs(limit=2)["prompt"]) == [
        "a mug, take 38",
        "a mug, take 39",
    ]
