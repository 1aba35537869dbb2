"""Configuration objects: pydantic models that read and write YAML and reject unknown keys helpfully."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from drg.errors import InputError
from drg.utils import PathLike, atomic_write

C = TypeVar("C", bound="Config")


class Config(BaseModel):
    """Base class of every DRG config: strict keys, YAML in and out.

    Unknown keys raise :class:`InputError` naming the key and the closest valid one.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any], *, source: str | None = None) -> C:
        """Validate ``data``; ``source`` (a file name) is named in error messages."""
        if not isinstance(data, dict):
            raise InputError(f"expected a mapping of {cls.__name__} settings, got {type(data).__name__}",
                             path=source)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InputError(explain(cls, exc), path=source) from None

    @classmethod
    def from_yaml(cls: type[C], path: PathLike) -> C:
        """Read a YAML file into this config."""
        path = Path(path)
        if not path.exists():
            raise InputError("config file not found", path=path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise InputError(f"not valid YAML: {exc}", path=path,
                             line=None if line is None else line + 1) from None
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-serialisable dictionary."""
        return self.model_dump(mode="json")

    def to_yaml(self, path: PathLike | None = None) -> str:
        """Serialise to YAML; also write it atomically to ``path`` when given."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            with atomic_write(path) as handle:
                handle.write(text)
        return text


def _nested_model(annotation: Any) -> Any:
    """The pydantic model inside ``X``, ``X | None``, ``list[X]`` or ``dict[str, X]`` annotations, else ``None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def explain(cls: type[BaseModel], exc: ValidationError) -> str:
    """One readable message for a pydantic ValidationError.

    Unknown keys get the closest valid key of the block they are in; nested blocks are followed through
    optional, list and dict fields (``tower.n_layer`` suggests ``tower.n_layers``).
    """
    lines = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"])
        if err["type"] == "extra_forbidden":
            model: Any = cls
            for part in err["loc"][:-1]:
                field = getattr(model, "model_fields", {}).get(part) if isinstance(part, str) else None
                if field is not None:
                    model = _nested_model(field.annotation) or model
            valid = list(getattr(model, "model_fields", {}))
            key = str(err["loc"][-1])
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(sorted(valid))}"
            lines.append(f"unknown key {loc!r}{hint}")
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
            shown = err.get("input")
            got = "" if isinstance(shown, dict) else f" (got {shown!r})"
            lines.append(f"{loc}: {message}{got}" if loc else f"{message}{got}")
    return "invalid configuration: " + "; ".join(lines)
