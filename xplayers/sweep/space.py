"""The search space of a sweep: which ``xplayers train`` settings vary, and over what.

A space maps a :class:`~xplayers.experiment.TrainConfig` field to one of

- a :class:`Range` (``low..high``, sampled on a log scale for learning rate, weight scale and
  reg unless told otherwise; integers when both ends are integers),
- a :class:`Choice` (``a|b|c``), or
- a fixed value (the same in every trial).

Written on the command line as ``--param learning_rate=1e-4..1e-2`` ``--param
normalization=none|batchnorm`` ``--param epochs=20``, or in a TOML/JSON file
(``learning_rate = {low = 1e-4, high = 1e-2, log = true}``, ``optimizer = ["adam", "sgd"]``,
``epochs = 20``). Hidden sizes are written ``128x64`` (or as lists in a file).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..backend.checks import as_integer, as_real
from ..training.experiment import TrainConfig

__all__ = ["DEFAULT_SPACE", "Choice", "Range", "SearchSpace", "load_space_file", "parse_param"]

LOG_BY_DEFAULT = ("learning_rate", "weight_scale", "reg")
_NOT_SETTINGS = ("dataset", "data_dir", "device", "seed", "verbose")


@dataclass(frozen=True)
class Range:
    """A number between ``low`` and ``high`` (inclusive); integers when both ends are ints."""

    low: float
    high: float
    log: bool = False

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (numbers, strings or None)."""

    options: tuple[Any, ...]


Spec = Range | Choice | Any


def _hidden_to_text(value: Any) -> str:
    if isinstance(value, int | str):
        return str(value)
    return "x".join(str(int(v)) for v in value)


def _hidden_from_text(text: str | int) -> list[int]:
    parts = str(text).replace(",", "x").split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"hidden_dims must be widths such as 128 or 128x64, got {text!r}"
                         ) from None
    if not dims or min(dims) < 1:
        raise ValueError(f"hidden_dims must be positive widths such as 128x64, got {text!r}")
    return dims


def _scalar(text: str) -> Any:
    low = text.strip().lower()
    if low == "none":
        return None
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


class SearchSpace:
    """Settings that vary between trials (ranges, choices) and settings that stay fixed.

    Parameters
    ----------
    specs : mapping
        ``TrainConfig`` field name -> :class:`Range`, :class:`Choice` or a fixed value.
    """

    def __init__(self, specs: Mapping[str, Spec]) -> None:
        known = {f.name for f in fields(TrainConfig)} - set(_NOT_SETTINGS)
        self.specs: dict[str, Spec] = {}
        for name, spec in specs.items():
            if name not in known:
                raise ValueError(f"search space parameter {name!r} is not a train setting; "
                                 f"expected one of {sorted(known)}")
            self.specs[name] = _normalise(name, spec)

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Ask an Optuna ``trial`` for one value of every parameter; returns name -> value."""
        values: dict[str, Any] = {}
        for name, spec in self.specs.items():
            if isinstance(spec, Range):
                if spec.integer:
                    values[name] = trial.suggest_int(name, spec.low, spec.high, log=spec.log)
                else:
                    values[name] = trial.suggest_float(name, spec.low, spec.high, log=spec.log)
            elif isinstance(spec, Choice):
                values[name] = trial.suggest_categorical(name, list(spec.options))
            else:
                values[name] = spec
        return values

    def contains(self, values: Mapping[str, Any]) -> bool:
        """Whether the varying part of ``values`` lies inside this space."""
        return not self.outside(values)

    def outside(self, values: Mapping[str, Any]) -> list[str]:
        """One ``'name=value not in ...'`` text per varying entry ``values`` lies outside."""
        found = []
        for name, spec in self.specs.items():
            value = values.get(name)
            if isinstance(spec, Range):
                if value is None or not spec.low <= value <= spec.high:
                    found.append(f"{name}={value!r} not in {spec.low}..{spec.high}")
            elif isinstance(spec, Choice) and value not in spec.options:
                found.append(f"{name}={value!r} not in {'|'.join(map(str, spec.options))}")
        return found

    def varying(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The entries of ``values`` that this space varies (what Optuna records as params)."""
        return {name: values[name] for name, spec in self.specs.items()
                if isinstance(spec, Range | Choice) and name in values}

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description that :meth:`from_json` reads back."""
        out: dict[str, Any] = {}
        for name, spec in self.specs.items():
            if isinstance(spec, Range):
                out[name] = {"low": spec.low, "high": spec.high, "log": spec.log}
            elif isinstance(spec, Choice):
                out[name] = {"choices": list(spec.options)}
            else:
                out[name] = {"value": spec}
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchSpace:
        """Read what :meth:`to_json` (or a space file) wrote."""
        return cls({name: _from_mapping(name, value) for name, value in data.items()})

    def updated(self, other: Mapping[str, Spec]) -> SearchSpace:
        """This space with the entries of ``other`` added or replaced."""
        return SearchSpace({**self.specs, **other})

    def describe(self) -> str:
        """One line per parameter, for the start of a sweep."""
        lines = []
        for name, spec in self.specs.items():
            if isinstance(spec, Range):
                scale = "log" if spec.log else "linear"
                lines.append(f"  {name}: {spec.low} .. {spec.high} ({scale})")
            elif isinstance(spec, Choice):
                lines.append(f"  {name}: one of {' | '.join(map(str, spec.options))}")
            else:
                lines.append(f"  {name}: {spec} (fixed)")
        return "\n".join(lines)


def to_train_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Turn suggested values into ``TrainConfig`` keyword arguments (hidden sizes to lists)."""
    settings = dict(values)
    if "hidden_dims" in settings:
        settings["hidden_dims"] = _hidden_from_text(settings["hidden_dims"])
    if settings.get("normalization") in ("none", "None"):
        settings["normalization"] = None
    return settings


def _check_value(name: str, value: Any) -> None:
    """Refuse a setting that every trial using it would fail on, before any trial runs."""
    from ..optim.rules import optimizer_names
    from ..training.experiment import MODEL_CHOICES

    number, integer = as_real(value), as_integer(value)
    if name in ("epochs", "batch_size", "num_filters", "filter_size"):
        ok, expected = integer is not None and integer >= 1, "a positive integer"
    elif name in ("learning_rate", "weight_scale", "lr_decay"):
        ok, expected = number is not None and math.isfinite(number) and number > 0, "a number > 0"
    elif name == "reg":
        ok, expected = number is not None and math.isfinite(number) and number >= 0, "a number >= 0"
    elif name == "dropout":
        ok, expected = number is not None and 0 <= number < 1, "a drop probability in [0, 1)"
    elif name == "optimizer":
        ok, expected = value in optimizer_names(), f"one of {sorted(optimizer_names())}"
    elif name == "normalization":
        ok, expected = value in (None, "none", "batchnorm", "layernorm"), (
            "none, batchnorm or layernorm")
    elif name == "model":
        ok, expected = value in MODEL_CHOICES, f"one of {list(MODEL_CHOICES)}"
    else:
        return
    if not ok:
        raise ValueError(f"search space value for {name!r} must be {expected}, got {value!r}")


def _normalise(name: str, spec: Spec) -> Spec:
    if isinstance(spec, Range):
        for end_name, end in (("low", spec.low), ("high", spec.high)):
            if as_real(end) is None:
                raise ValueError(f"search space range for {name!r}: {end_name} must be a "
                                 f"number, got {end!r}")
        if not (math.isfinite(spec.low) and math.isfinite(spec.high)) or spec.low > spec.high:
            raise ValueError(f"search space range for {name!r} needs low <= high, got "
                             f"{spec.low}..{spec.high}")
        if spec.log and spec.low <= 0:
            raise ValueError(f"search space range for {name!r} is on a log scale and needs "
                             f"low > 0, got {spec.low}")
        if name == "hidden_dims":
            raise ValueError("hidden_dims takes choices such as 64|128x64, not a range")
        for end in (spec.low, spec.high):
            _check_value(name, end)
        return spec
    if isinstance(spec, Choice):
        if not spec.options:
            raise ValueError(f"search space choice for {name!r} is empty")
        for option in spec.options:
            _check_value(name, option)
        if name == "hidden_dims":
            options = tuple(_hidden_to_text(o) for o in spec.options)
            for option in options:
                _hidden_from_text(option)
            return Choice(options)
        if name == "normalization":
            return Choice(tuple("none" if o is None else o for o in spec.options))
        return spec
    if name == "hidden_dims":
        _hidden_from_text(_hidden_to_text(spec))
        return _hidden_to_text(spec)
    _check_value(name, spec)
    return spec


def _from_mapping(name: str, value: Any) -> Spec:
    if isinstance(value, Mapping):
        if "value" in value:
            return value["value"]
        if "choices" in value:
            return Choice(tuple(value["choices"]))
        if "low" in value and "high" in value:
            return Range(value["low"], value["high"],
                         bool(value.get("log", name in LOG_BY_DEFAULT)))
        raise ValueError(f"search space entry {name!r} must have low/high, choices or value, "
                         f"got {dict(value)}")
    if isinstance(value, list) and not (name == "hidden_dims" and all(
            isinstance(v, int) for v in value)):
        return Choice(tuple(value))
    return value


def parse_param(text: str) -> tuple[str, Spec]:
    """Read one ``--param`` option: ``name=low..high[:log|:linear]``, ``name=a|b`` or
    ``name=value``."""
    name, sep, rhs = text.partition("=")
    name = name.strip().replace("-", "_")
    if name == "lr":
        name = "learning_rate"
    if not sep or not name or not rhs.strip():
        raise ValueError(f"--param must look like name=low..high, name=a|b or name=value, "
                         f"got {text!r}")
    if "|" in rhs:
        return name, Choice(tuple(_scalar(p) for p in rhs.split("|")))
    if ".." in rhs:
        bounds, _, scale = rhs.partition(":")
        low_text, _, high_text = bounds.partition("..")
        low, high = _scalar(low_text), _scalar(high_text)
        if as_real(low) is None or as_real(high) is None:
            raise ValueError(f"--param {name} range needs two numbers, got {rhs!r}")
        if scale not in ("", "log", "linear"):
            raise ValueError(f"--param {name} scale must be log or linear, got {scale!r}")
        log = scale == "log" or (scale == "" and name in LOG_BY_DEFAULT)
        return name, Range(low, high, log)
    return name, _scalar(rhs)


def load_space_file(path: str | Path) -> dict[str, Spec]:
    """Read a search space from a ``.toml`` or ``.json`` file (a top-level ``[space]`` table
    or the entries themselves)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no search space file at {str(path)!r}")
    text = path.read_text()
    if path.suffix.lower() == ".toml":
        try:
            import tomllib  # type: ignore[import-not-found]  # stdlib from 3.11; mypy targets 3.10
        except ImportError:  # Python 3.10
            import tomli as tomllib
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"cannot read search space file {str(path)!r}: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"cannot read search space file {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"search space file {str(path)!r} must hold a table of settings")
    data = data.get("space", data)
    return {name: _from_mapping(name, value) for name, value in data.items()}


# The course's random search over the digits MLP; epochs as in ``xplayers train``.
DEFAULT_SPACE = SearchSpace({
    "learning_rate": Range(3e-4, 1e-2, log=True),
    "weight_scale": Range(1e-2, 2e-1, log=True),
    "reg": Range(1e-6, 1e-2, log=True),
    "hidden_dims": Choice(("64", "128", "128x64", "256x128")),
    "normalization": Choice(("none", "batchnorm", "layernorm")),
    "dropout": Range(0.0, 0.3),
    "optimizer": Choice(("adam", "rmsprop", "sgd_momentum")),
    "batch_size": Choice((32, 64, 128)),
})
