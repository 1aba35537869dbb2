"""Strict configs: YAML round trip and helpful unknown-key errors."""

from __future__ import annotations

import pytest

from drg.config import Config
from drg.errors import InputError
from drg.quickstart import QuickstartConfig


class Inner(Config):
    kernel_size: int = 15
    activation: str = "gelu"


class Outer(Config):
    seed: int = 0
    first_layer: Inner = Inner()


def test_yaml_round_trip(tmp_path):
    cfg = Outer(seed=3, first_layer=Inner(kernel_size=9))
    path = tmp_path / "c.yaml"
    cfg.to_yaml(path)
    assert Outer.from_yaml(path) == cfg
    assert "kernel_size: 9" in path.read_text()


def test_unknown_key_names_closest_valid_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 1\nfirst_layer:\n  kernel_sise: 3\n")
    with pytest.raises(InputError) as err:
        Outer.from_yaml(path)
    message = str(err.value)
    assert str(path) in message
    assert "first_layer.kernel_sise" in message
    assert "did you mean 'kernel_size'" in message


def test_unknown_top_level_key_suggestion():
    with pytest.raises(InputError, match="did you mean 'n_sequences'"):
        QuickstartConfig.from_dict({"n_sequence": 10})


def test_wrong_type_is_reported_with_value():
    with pytest.raises(InputError, match="seed.*'abc'"):
        Outer.from_dict({"seed": "abc"})


def test_invalid_yaml_names_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("seed: 1\nfirst_layer: [1, 2\n")
    with pytest.raises(InputError, match="not valid YAML") as err:
        Outer.from_yaml(path)
    assert err.value.line is not None


def test_missing_config_file(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        Outer.from_yaml(tmp_path / "nope.yaml")


class Block(Config):
    n_layers: int = 1


class WithOptional(Config):
    tower: Block | None = None
    heads: list[Block] = []


def test_unknown_key_inside_optional_and_list_blocks_suggests_at_its_level():
    with pytest.raises(InputError, match="'tower.n_layer'; did you mean 'n_layers'"):
        WithOptional.from_dict({"tower": {"n_layer": 2}})
    with pytest.raises(InputError, match="'heads.0.n_layer'; did you mean 'n_layers'"):
        WithOptional.from_dict({"heads": [{"n_layer": 2}]})
