"""Parameters, profiles and their validation.

Every notebook declares its parameters once, here, as a :class:`Schema`: a name, a type, what is
accepted, and a default per *profile*:

``smoke``
    seconds, tiny data — what the test-suite executes;
``quick``
    the default: data that ships inside installed packages, a few CPU minutes;
``paper``
    the paper's data sets and sizes; needs the data under ``OODREPRO_DATA_ROOT``.

A notebook's ``parameters`` cell sets ``profile`` and leaves every other parameter at ``None``
("take it from the profile"); ``papermill -p k 3`` or ``oodrepro run ... -p k 3`` overrides one.
:func:`resolve` merges the two and validates the result, raising :class:`~oodrepro.errors.ParameterError`
with a message that names the parameter and what is accepted.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from .errors import ParameterError

PROFILES = ("smoke", "quick", "paper")
#: the largest integer any parameter accepts (int32), whatever its own bounds
INT_LIMIT = 2**31 - 1
#: ``seeds = n`` expands to ``range(n)``; more than this is a typo, not an experiment
MAX_SEEDS = 1000


def _as_list(name: str, value: Any) -> list:
    if isinstance(value, str):
        value = [v.strip() for v in value.strip("[]()").split(",") if v.strip()]
    elif not isinstance(value, (list, tuple)):
        value = [value]
    return list(value)


def _to_int(name: str, v: Any) -> int:
    if isinstance(v, bool):
        raise ParameterError(f"parameter {name!r} must be an integer, got {v!r}")
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, str):
        try:
            v = int(v.strip())
        except ValueError:
            raise ParameterError(f"parameter {name!r} must be an integer, got {v!r}") from None
    if not isinstance(v, int):
        raise ParameterError(f"parameter {name!r} must be an integer, got {v!r}")
    if abs(v) > INT_LIMIT:  # would overflow torch/NumPy/faiss integers further down
        raise ParameterError(f"parameter {name!r} = {v!r} is out of range; accepted: integers up to {INT_LIMIT}")
    return v


def _to_float(name: str, v: Any) -> float:
    if isinstance(v, bool):
        raise ParameterError(f"parameter {name!r} must be a number, got {v!r}")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ParameterError(f"parameter {name!r} must be a number, got {v!r}") from None
    if not math.isfinite(f):
        raise ParameterError(f"parameter {name!r} must be a finite number, got {v!r}")
    return f


@dataclass(frozen=True)
class Param:
    """One parameter: ``kind`` is ``int``, ``float``, ``str``, ``bool``, ``ints``, ``floats`` or ``strs``.

    ``low``/``high`` bound numbers (``high_open`` makes the upper bound exclusive); ``choices``
    restricts strings; ``min_len`` the length of lists; ``check`` is a last custom validator that
    returns an error message or ``None``. A list may not repeat a value unless ``allow_repeats``.
    """

    name: str
    kind: str
    doc: str
    low: float | None = None
    high: float | None = None
    high_open: bool = False
    choices: Sequence[str] | None = None
    min_len: int = 0
    allow_none: bool = False
    check: Callable[[Any], str | None] | None = None
    allow_repeats: bool = False

    def accepted(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(repr, self.choices))
        parts = []
        if self.low is not None:
            parts.append(f">= {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts) if parts else self.kind

    def _scalar(self, v: Any, kind: str) -> Any:
        if kind == "int":
            v = _to_int(self.name, v)
        elif kind == "float":
            v = _to_float(self.name, v)
        elif kind == "bool":
            if isinstance(v, str) and v.lower() in ("true", "false", "1", "0", "yes", "no"):
                v = v.lower() in ("true", "1", "yes")
            if not isinstance(v, bool):
                raise ParameterError(f"parameter {self.name!r} must be True or False, got {v!r}")
        elif kind == "str":
            if not isinstance(v, str):
                raise ParameterError(f"parameter {self.name!r} must be a string, got {v!r}")
            if self.choices is not None and v not in self.choices:
                raise ParameterError(f"parameter {self.name!r} = {v!r} is not accepted; use {self.accepted()}")
        if kind in ("int", "float"):
            ok_low = self.low is None or v >= self.low
            ok_high = self.high is None or (v < self.high if self.high_open else v <= self.high)
            if not (ok_low and ok_high):
                raise ParameterError(f"parameter {self.name!r} = {v!r} is out of range; accepted: {self.accepted()}")
        return v

    def coerce(self, v: Any) -> Any:
        if v is None:
            if self.allow_none:
                return None
            raise ParameterError(f"parameter {self.name!r} has no value; accepted: {self.accepted()}")
        if self.kind in ("ints", "floats", "strs"):
            items = _as_list(self.name, v)
            if len(items) < self.min_len:
                raise ParameterError(
                    f"parameter {self.name!r} needs at least {self.min_len} item(s), got {items!r}")
            v = [self._scalar(x, self.kind[:-1]) for x in items]
        else:
            v = self._scalar(v, self.kind)
        if self.check is not None:
            msg = self.check(v)
            if msg:
                raise ParameterError(f"parameter {self.name!r}: {msg}")
        if isinstance(v, list) and not self.allow_repeats:
            seen = set()
            for x in v:
                if x in seen:
                    raise ParameterError(f"parameter {self.name!r} lists {x!r} more than once; give each value once")
                seen.add(x)
        return v


def recipe_check(name: str) -> Callable[[Any], str | None]:
    """A :class:`Param` ``check`` that applies the training recipe's own bound on its field ``name``
    (:func:`oodrepro.recipes.check`), so a page refuses up front, under its own parameter, what training would
    refuse after the data are loaded."""
    def check(v):
        from . import recipes

        try:
            recipes.check(dataclasses.replace(recipes.Recipe("page"), **{name: v}))
        except ParameterError as exc:
            return str(exc)
        return None
    return check


@dataclass
class Schema:
    """The parameters of one notebook and their default per profile."""

    name: str
    params: Sequence[Param]
    profiles: Mapping[str, Mapping[str, Any]]
    derived: Callable[[dict], dict] | None = None
    by_name: dict = field(init=False)

    def __post_init__(self):
        self.by_name = {p.name: p for p in self.params}
        for prof, vals in self.profiles.items():
            unknown = set(vals) - set(self.by_name)
            if unknown:  # a programming error, caught by the tests
                raise AssertionError(f"profile {prof!r} of {self.name} sets unknown {sorted(unknown)}")


_SCHEMAS: dict[str, Schema] = {}


def register(schema: Schema) -> Schema:
    _SCHEMAS[schema.name] = schema
    return schema


def load_chapter(name: str) -> None:
    """Import the chapter that defines ``name`` (``"knn_ls.table1"`` or ``"knn_ls/table1"`` →
    ``oodrepro.experiments.knn_ls``), which registers its schemas and pages. Unknown chapters are left
    to the caller's lookup to report."""
    import importlib

    chapter = name.replace("/", ".").split(".")[0]
    if chapter.isidentifier():
        try:
            importlib.import_module(f"{__package__}.experiments.{chapter}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.experiments.{chapter}":
                raise


def schema(name: str) -> Schema:
    """The registered schema ``name`` (e.g. ``"knn_ls.table1"``), importing its chapter on demand."""
    if name not in _SCHEMAS:
        load_chapter(name)
    try:
        return _SCHEMAS[name]
    except KeyError:
        raise ParameterError(f"unknown experiment {name!r}; known: {', '.join(sorted(_SCHEMAS))}") from None


def resolve(name: str, profile: str = "quick", **overrides: Any) -> dict:
    """Merge a profile's defaults with the overrides that are not ``None``; validate everything.

    Unknown parameter names and unknown profiles raise :class:`ParameterError`.
    """
    sch = schema(name)
    if profile not in sch.profiles:
        raise ParameterError(
            f"parameter 'profile' = {profile!r} is not accepted; use one of {', '.join(map(repr, sch.profiles))}")
    unknown = [k for k in overrides if k not in sch.by_name]
    unknown += [k for k in _papermill_injected() if k not in sch.by_name and k != "profile" and k not in unknown]
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for {name}; known: {', '.join(sch.by_name)}")
    merged = dict(sch.profiles[profile])
    merged.update({k: v for k, v in overrides.items() if v is not None})
    if "seeds" in merged:
        merged["seeds"] = expand_seeds(merged["seeds"])
    out = {"profile": profile}
    for p in sch.params:
        out[p.name] = p.coerce(merged.get(p.name))
    if sch.derived is not None:
        out.update(sch.derived(out))
    return out


def seeds_param(doc: str = "random seeds; an integer n means seeds 0..n-1") -> Param:
    """The common ``seeds`` parameter: a list of non-negative ints, or n for ``range(n)``."""
    return Param("seeds", "ints", doc, low=0, min_len=1)


def expand_seeds(v: Any) -> Any:
    """``5`` → ``[0, 1, 2, 3, 4]``; lists pass through. Applied before validation."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        if v < 1 or v > MAX_SEEDS:
            raise ParameterError(f"parameter 'seeds' = {v!r} is out of range: give a number of seeds from 1 to "
                                 f"{MAX_SEEDS} or a list of seeds")
        return list(range(v))
    if isinstance(v, str) and v.strip().isdigit() and "," not in v:
        return expand_seeds(int(v))
    return v


def _papermill_injected() -> list[str]:
    """Names papermill injected into this kernel (``papermill -p NAME VALUE``), if running under papermill.

    Papermill only logs "Passed unknown parameter" and runs on; its injected cell starts with the line
    ``# Parameters``, and IPython keeps every executed cell's source in ``In``. Reading them back lets
    :func:`resolve` stop a run that was given a parameter the notebook does not declare.
    """
    import ast
    import sys

    ipy = sys.modules.get("IPython")
    shell = ipy.get_ipython() if ipy is not None and hasattr(ipy, "get_ipython") else None
    if shell is None:
        return []
    names: list[str] = []
    for src in shell.user_ns.get("In", []) or []:
        if isinstance(src, str) and src.lstrip().startswith("# Parameters\n"):
            try:
                tree = ast.parse(src)
            except SyntaxError:
                continue
            names = [t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)]
    return names
