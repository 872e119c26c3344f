"""Checkpoint policy: which files stay, what checkpoints.json says, how objects save."""

from __future__ import annotations

import json
import math
import pickle
import zipfile
from pathlib import Path

import pytest

from runlab._atomic import current_umask
from runlab.errors import ConfigError
from runlab.store.checkpoints import (
    CheckpointKeeper,
    CheckpointPolicy,
    policy_from_config,
    read_checkpoints,
)

try:
    import torch
except ImportError:  # pragma: no cover - torch is an optional extra
    torch = None

if torch is not None:

    class Net(torch.nn.Module):
        """A user's model: a torch subclass defined outside torch (pickled by name)."""

        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(2, 1)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _load(path: Path) -> object:
    with open(path, "rb") as handle:
        return pickle.load(handle)


def test_every_10_over_25_epochs_keeps_e0_e10_e20(tmp_path: Path) -> None:
    keeper = CheckpointKeeper(tmp_path, CheckpointPolicy(every=10))
    for epoch in range(25):
        keeper.save({"epoch": epoch}, epoch=epoch)

    assert _files(tmp_path) == [
        "checkpoint_e_0.pt",
        "checkpoint_e_10.pt",
        "checkpoint_e_20.pt",
        "checkpoint_last.pt",
        "checkpoints.json",
    ]
    assert _load(tmp_path / "checkpoint_e_10.pt") == {"epoch": 10}
    assert _load(tmp_path / "checkpoint_last.pt") == {"epoch": 24}
    assert keeper.best_path() is None


@pytest.mark.parametrize(
    ("mode", "kept", "best"), [("max", [10, 20], 20), ("min", [0, 10], 0)]
)
def test_top_k_keeps_the_two_best_of_the_epoch_files(
    tmp_path: Path, mode: str, kept: list[int], best: int
) -> None:
    keeper = CheckpointKeeper(tmp_path, CheckpointPolicy(every=10, top_k=2, mode=mode))
    for epoch in range(25):
        # Scores rise with the epoch, except a dip at 24 that is never best.
        keeper.save({"epoch": epoch}, epoch=epoch, score=epoch if epoch < 24 else -1)

    names = [f"checkpoint_e_{e}.pt" for e in kept]
    index = read_checkpoints(tmp_path)
    best_epoch = 23 if mode == "max" else 24

    assert [p for p in _files(tmp_path) if p.startswith("checkpoint_e_")] == names
    assert [e["file"] for e in index["epochs"]] == names
    assert _load(tmp_path / "checkpoint_best.pt") == {"epoch": best_epoch}
    assert index["best"]["epoch"] == best_epoch
    assert best in kept


def test_nan_score_never_becomes_best(tmp_path: Path) -> None:
    keeper = CheckpointKeeper(tmp_path, CheckpointPolicy(mode="min"))
    keeper.save("first", epoch=0, score=math.nan)

    assert keeper.best_path() is None
    assert not (tmp_path / "checkpoint_best.pt").exists()

    keeper.save("second", epoch=1, score=5.0)
    keeper.save("third", epoch=2, score=math.nan)

    assert _load(tmp_path / "checkpoint_best.pt") == "second"
    assert _load(tmp_path / "checkpoint_last.pt") == "third"


def test_save_without_score_keeps_the_earlier_best(tmp_path: Path) -> None:
    keeper = CheckpointKeeper(tmp_path, CheckpointPolicy())
    keeper.save("scored", epoch=0, score=0.0)
    keeper.save("unscored", epoch=1)

    assert keeper.best_path() == tmp_path / "checkpoint_best.pt"
    assert _load(tmp_path / "checkpoint_best.pt") == "scored"


def test_path_to_an_existing_file_is_copied_byte_identical(tmp_path: Path) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(bytes(range(256)) * 1000)
    keeper = CheckpointKeeper(tmp_path / "state_dict", CheckpointPolicy())

    last = keeper.save(source, epoch=0, score=1.0)
    keeper.save(str(source), epoch=1)

    assert last == tmp_path / "state_dict" / "checkpoint_last.pt"
    assert last.read_bytes() == source.read_bytes()
    assert (tmp_path / "state_dict" / "checkpoint_best.pt").read_bytes() == (
        source.read_bytes()
    )


def test_pickled_object_round_trips(tmp_path: Path) -> None:
    state = {"weights": [0.5, -0.0, math.inf], "step": 2**53 + 1, "name": "损失"}
    CheckpointKeeper(tmp_path, CheckpointPolicy()).save(state, epoch=3)

    assert _load(tmp_path / "checkpoint_last.pt") == state


def test_checkpoints_json_lists_best_last_and_epochs(tmp_path: Path) -> None:
    keeper = CheckpointKeeper(tmp_path, CheckpointPolicy(every=2))
    keeper.save("a", epoch=0, score=0.1)
    keeper.save("b", epoch=1, score=0.9)

    data = json.loads((tmp_path / "checkpoints.json").read_text(encoding="utf-8"))

    assert {k: data["best"][k] for k in ("file", "epoch", "score")} == {
        "file": "checkpoint_best.pt",
        "epoch": 1,
        "score": 0.9,
    }
    assert {k: data["last"][k] for k in ("file", "epoch", "score")} == {
        "file": "checkpoint_last.pt",
        "epoch": 1,
        "score": 0.9,
    }
    assert [(e["file"], e["epoch"]) for e in data["epochs"]] == [
        ("checkpoint_e_0.pt", 0)
    ]
    assert isinstance(data["last"]["time"], float)


def test_a_new_keeper_goes_on_from_an_index_with_nan_and_inf_scores(
    tmp_path: Path,
) -> None:
    first = CheckpointKeeper(tmp_path, CheckpointPolicy(every=1, top_k=2))
    first.save("a", epoch=0, score=math.nan)
    first.save("b", epoch=1, score=math.inf)

    second = CheckpointKeeper(tmp_path, CheckpointPolicy(every=1, top_k=2))
    second.save("c", epoch=2, score=1.0)
    second.save("d", epoch=3, score=2.0)

    index = read_checkpoints(tmp_path)

    assert index["best"]["score"] == math.inf
    assert [e["epoch"] for e in index["epochs"]] == [1, 3]
    assert _load(tmp_path / "checkpoint_best.pt") == "b"


def test_missing_or_broken_index_reads_as_empty(tmp_path: Path) -> None:
    empty = {"best": None, "last": None, "epochs": []}
    assert read_checkpoints(tmp_path) == empty

    (tmp_path / "checkpoints.json").write_text("{", encoding="utf-8")
    assert read_checkpoints(tmp_path) == empty


def test_policy_rejects_a_bad_mode() -> None:
    with pytest.raises(
        ValueError, match=r"^Checkpoint mode must be 'max' or 'min', not 'best'\.$"
    ):
        CheckpointPolicy(mode="best")


def test_torch_state_dict_is_saved_with_torch_save(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    model = torch.nn.Linear(3, 2)
    keeper = CheckpointKeeper(tmp_path, CheckpointPolicy())

    keeper.save(model.state_dict(), epoch=0, score=torch.tensor(0.5))
    loaded = torch.load(tmp_path / "checkpoint_last.pt", weights_only=True)

    assert set(loaded) == {"weight", "bias"}
    assert torch.equal(loaded["weight"], model.weight.detach())
    assert read_checkpoints(tmp_path)["best"]["score"] == 0.5


def test_nested_torch_state_is_saved_with_torch_save(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    model = torch.nn.Linear(2, 2)
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    state = {"model": model.state_dict(), "optim": optim.state_dict(), "epoch": 4}

    CheckpointKeeper(tmp_path, CheckpointPolicy()).save(state, epoch=4)
    loaded = torch.load(tmp_path / "checkpoint_last.pt", weights_only=True)

    assert loaded["epoch"] == 4
    assert torch.equal(loaded["model"]["bias"], model.bias.detach())


def test_list_of_state_dicts_is_saved_with_torch_save(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    model = torch.nn.Linear(2, 1)

    CheckpointKeeper(tmp_path, CheckpointPolicy()).save([model.state_dict()], epoch=0)
    loaded = torch.load(tmp_path / "checkpoint_last.pt", weights_only=True)

    assert set(loaded[0]) == {"weight", "bias"}


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_user_subclass_of_a_torch_module_is_saved_with_torch_save(
    tmp_path: Path,
) -> None:

    CheckpointKeeper(tmp_path, CheckpointPolicy()).save(Net(), epoch=0)

    # torch.save writes a zip archive; pickle.dump would not.
    assert zipfile.is_zipfile(tmp_path / "checkpoint_last.pt")
    loaded = torch.load(tmp_path / "checkpoint_last.pt", weights_only=False)
    assert type(loaded).__name__ == "Net"


@pytest.mark.parametrize("missing", ["missing.bin", "weights/model.pt"])
def test_a_path_to_no_file_is_an_error_not_a_pickled_string(
    tmp_path: Path, missing: str
) -> None:
    keeper = CheckpointKeeper(tmp_path / "state_dict", CheckpointPolicy())

    with pytest.raises(FileNotFoundError, match="does not exist"):
        keeper.save(missing, epoch=0)
    with pytest.raises(FileNotFoundError):
        keeper.save(tmp_path / "nothing", epoch=0)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        keeper.save(tmp_path, epoch=0)


def test_best_last_and_epoch_files_share_one_copy_and_are_readable(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "state_dict"
    keeper = CheckpointKeeper(folder, CheckpointPolicy(every=1))

    keeper.save({"w": list(range(1000))}, epoch=0, score=0.5)

    files = [
        folder / n
        for n in ("checkpoint_last.pt", "checkpoint_best.pt", "checkpoint_e_0.pt")
    ]
    assert len({f.stat().st_ino for f in files}) == 1
    expected = 0o666 & ~current_umask()
    assert all(f.stat().st_mode & 0o777 == expected for f in files)
    keeper.save({"w": []}, epoch=1, score=0.1)
    assert _load(folder / "checkpoint_best.pt") == {"w": list(range(1000))}
    assert _load(folder / "checkpoint_last.pt") == {"w": []}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"every": "ten"}, "checkpoint.every is 'ten'; give a whole number"),
        ({"every": 2.5}, "checkpoint.every is 2.5; give a whole number"),
        ({"every": -1}, "checkpoint.every is -1; give a whole number"),
        ({"top_k": 0}, "checkpoint.top_k is 0; give a whole number of at least 1"),
        ({"top_k": True}, "checkpoint.top_k is True; give a whole number"),
        ({"mode": "maximum"}, "checkpoint.mode is 'maximum'; give max"),
    ],
)
def test_a_policy_that_cannot_work_names_its_key(
    section: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        policy_from_config({"checkpoint": section})


def test_a_policy_is_read_from_the_section_and_a_plain_value_is_the_scripts() -> None:
    policy = policy_from_config({"checkpoint": {"every": 2, "top_k": 3, "dir": "x"}})

    assert (policy.every, policy.top_k, policy.mode) == (2, 3, "max")
    assert policy_from_config({"checkpoint": "runs/last.pt"}).every == 0
    assert policy_from_config({}, mode="min").mode == "min"


def test_an_epoch_that_is_not_whole_and_an_unpicklable_object_leave_nothing(
    tmp_path: Path,
) -> None:
    keeper = CheckpointKeeper(tmp_path, CheckpointPolicy())

    with pytest.raises(TypeError, match="epoch must be a whole number, not 'one'"):
        keeper.save({"w": 1}, epoch="one")  # type: ignore[arg-type]
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        keeper.save(lambda: 1, epoch=1)

    assert _files(tmp_path) == []
