"""Crosswalks: a framework's competencies mapped to external educator frameworks' codes.

A district scores classroom observations on Danielson Framework for Teaching components
(``2a``, ``3b``, ...) or reports InTASC standards (``1``..``10``); a crosswalk says which of our
competencies each such code relates to, so that evidence coded that way lands on them. The
mapping is data (``recommender/data/crosswalk_<framework>.yaml``), shaped::

    framework: educator
    schemes:                      # the external frameworks: codes and names only
      danielson: {title: ..., aliases: [fft], codes: {1a: Demonstrating Knowledge of ...}}
      intasc: {title: ..., codes: {"1": Learner Development, ...}}
    mappings:                     # competency -> scheme -> codes
      INS.FORMATIVE: {danielson: [3b, 3d], intasc: ["6"]}
    unmapped:                     # competencies that deliberately map to nothing, with why
      INT.SELF_MANAGEMENT: ...

:func:`build_crosswalk` validates it against the framework graph (every code is one of its
scheme's codes, every competency id is the framework's, each competency is mapped or listed as
unmapped, never both) and raises :class:`~recommender.errors.InvalidInputError` naming the
field, the value and what was expected. :func:`expand_coded_records` turns evidence coded by
a framework code into one record per mapped competency.

A framework code is written ``<scheme>:<code>`` (``danielson:3b``, ``intasc:7``); the scheme is
matched case-insensitively (or by an alias), the code too, a leading ``#`` and ``standard`` are
dropped and leading zeros of a number are ignored (``InTASC:#07`` is ``intasc:7``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd
import yaml

from recommender.errors import InvalidInputError
from recommender.graph.framework import read_mapping

__all__ = ["CODE_PATTERN", "Scheme", "Crosswalk", "build_crosswalk", "load_crosswalk",
           "default_crosswalk", "normalize_code", "parse_codes", "CodedRecords",
           "expand_coded_records", "CODE_FIELD"]

CODE_PATTERN = r"^\s*([A-Za-z][\w\-]*)\s*:\s*(.+?)\s*$"
"""``<scheme>:<code>``: the scheme a word, the code anything after the colon."""


def normalize_code(code: Any) -> str:
    """A code as the crosswalk compares it: lower case, without ``#``, ``standard`` or leading
    zeros of a number (``"#07"`` -> ``"7"``, ``"3B"`` -> ``"3b"``); ``""`` for a non-scalar."""
    if isinstance(code, bool) or not isinstance(code, (str, int)):
        return ""
    text = re.sub(r"^(standard|std\.?)\s*", "", str(code).strip().lower()).lstrip("#").strip()
    return text.lstrip("0") or "0" if text.isdigit() else text


@dataclass(frozen=True)
class Scheme:
    """An external framework: its key (``danielson``), title, aliases and ``{code: name}``."""

    key: str
    title: str
    codes: dict[str, str]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Crosswalk:
    """A validated crosswalk of one framework.

    ``table`` holds one row per (scheme, code, competency_id) link, the form coded evidence is
    joined with; ``unmapped`` maps the deliberately unmapped competencies to the reason.
    """

    framework: str
    schemes: dict[str, Scheme]
    table: pd.DataFrame
    unmapped: dict[str, str] = field(default_factory=dict)

    def scheme_key(self, name: Any) -> str | None:
        """The scheme a name (or alias) stands for, case-insensitively; ``None`` if none."""
        if not isinstance(name, str):
            return None
        name = name.strip().lower()
        for key, scheme in self.schemes.items():
            if name == key or name in scheme.aliases:
                return key
        return None

    @cached_property
    def _links(self) -> dict[tuple[str, str], list[str]]:
        out: dict[tuple[str, str], list[str]] = {}
        for key, code, comp in zip(self.table["scheme"].tolist(), self.table["code"].tolist(),
                                   self.table["competency_id"].tolist(), strict=True):
            out.setdefault((key, code), []).append(comp)
        return out

    def competencies_for(self, scheme: str, code: str) -> list[str]:
        """The competencies a (normalized) code of a scheme maps to, in framework order."""
        return list(self._links.get((scheme, code), ()))

    def mappings(self) -> dict[str, dict[str, list[str]]]:
        """``{competency: {scheme: [codes]}}``, the YAML's ``mappings`` after validation."""
        out: dict[str, dict[str, list[str]]] = {}
        for (comp, scheme), group in self.table.groupby(["competency_id", "scheme"], sort=False):
            out.setdefault(comp, {})[scheme] = group["code"].tolist()
        return out

    def to_dict(self) -> dict[str, Any]:
        """The crosswalk as JSON: schemes with their codes and names, mappings, unmapped."""
        return {"framework": self.framework,
                "schemes": {k: {"title": s.title, "aliases": list(s.aliases),
                                "codes": [{"code": c, "name": n} for c, n in s.codes.items()]}
                            for k, s in self.schemes.items()},
                "mappings": self.mappings(), "unmapped": dict(self.unmapped)}


def _schemes(raw: Any) -> dict[str, Scheme]:
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInputError("schemes", raw, "a mapping of scheme keys to "
                                "{title, aliases, codes}")
    out: dict[str, Scheme] = {}
    for key, body in raw.items():
        where = f"schemes.{key}"
        if not isinstance(key, str) or not re.fullmatch(r"[a-z][\w\-]*", key):
            raise InvalidInputError("schemes", key, "a lower-case word as scheme key")
        if not isinstance(body, Mapping) or not isinstance(body.get("codes"), Mapping):
            raise InvalidInputError(f"{where}.codes", None if not isinstance(body, Mapping)
                                    else body.get("codes"), "a mapping of codes to names")
        codes = {}
        for code, name in body["codes"].items():
            norm = normalize_code(code)
            if not norm or not isinstance(name, str) or not name.strip() or norm in codes:
                raise InvalidInputError(f"{where}.codes.{code}", name,
                                        "a unique code with a non-empty name")
            codes[norm] = name.strip()
        aliases = body.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise InvalidInputError(f"{where}.aliases", aliases, "a list of names")
        out[key] = Scheme(key, str(body.get("title") or key), codes,
                          tuple(a.strip().lower() for a in aliases))
    return out


def _links(raw: Any, schemes: dict[str, Scheme], known: list[str]) -> pd.DataFrame:
    if not isinstance(raw, Mapping):
        raise InvalidInputError("mappings", raw, "a mapping of competency ids to "
                                "{scheme: [codes]}")
    order = {c: i for i, c in enumerate(known)}
    rows = []
    for comp, per in raw.items():
        if comp not in order:
            raise InvalidInputError("mappings", comp, "a competency id of the framework")
        if not isinstance(per, Mapping) or not per:
            raise InvalidInputError(f"mappings.{comp}", per, "a non-empty mapping of scheme "
                                    f"keys ({', '.join(schemes)}) to lists of codes")
        for key, codes in per.items():
            if key not in schemes:
                raise InvalidInputError(f"mappings.{comp}", key,
                                        f"a scheme key: one of {', '.join(schemes)}")
            if not isinstance(codes, list) or not codes:
                raise InvalidInputError(f"mappings.{comp}.{key}", codes, "a non-empty list")
            for code in codes:
                norm = normalize_code(code)
                if norm not in schemes[key].codes:
                    raise InvalidInputError(f"mappings.{comp}.{key}", code, f"a {key} code: one "
                                            f"of {', '.join(schemes[key].codes)}")
                rows.append((order[comp], key, norm, comp))
    table = pd.DataFrame(rows, columns=["order", "scheme", "code", "competency_id"])
    table = table.drop_duplicates(["scheme", "code", "competency_id"])
    return table.sort_values("order", kind="stable").drop(columns="order").reset_index(drop=True)


def build_crosswalk(data: Mapping[str, Any], graph: nx.DiGraph) -> Crosswalk:
    """Validate crosswalk data (the YAML's mapping) against a framework graph."""
    if not isinstance(data, Mapping):
        raise InvalidInputError("crosswalk", data, "a mapping")
    name = str(graph.graph.get("name") or "")
    framework = data.get("framework")
    if framework != name:
        raise InvalidInputError("framework", framework, f"the framework's name {name!r}")
    schemes = _schemes(data.get("schemes"))
    known = list(graph)
    table = _links(data.get("mappings"), schemes, known)
    unmapped = data.get("unmapped") or {}
    if not isinstance(unmapped, Mapping):
        raise InvalidInputError("unmapped", unmapped, "a mapping of competency ids to reasons")
    for comp, why in unmapped.items():
        if comp not in graph:
            raise InvalidInputError("unmapped", comp, "a competency id of the framework")
        if comp in set(table["competency_id"]):
            raise InvalidInputError("unmapped", comp, "a competency without mappings (it is "
                                    "also under mappings)")
        if not isinstance(why, str) or not why.strip():
            raise InvalidInputError(f"unmapped.{comp}", why, "a reason (text)")
    missing = [c for c in known if c not in unmapped and c not in set(table["competency_id"])]
    if missing:
        raise InvalidInputError("mappings", missing[0], "every competency under mappings or "
                                f"unmapped; {len(missing)} are in neither: "
                                f"{', '.join(missing[:10])}")
    return Crosswalk(name, schemes, table, {str(k): " ".join(v.split())
                                            for k, v in unmapped.items()})


def load_crosswalk(source: str | Path | Mapping, graph: nx.DiGraph) -> Crosswalk:
    """A crosswalk from a YAML/JSON file (or a mapping), validated against ``graph``."""
    return build_crosswalk(read_mapping(source), graph)


def default_crosswalk(graph: nx.DiGraph) -> Crosswalk | None:
    """The crosswalk shipped for the framework ``graph`` is (by its name), or ``None``."""
    name = str(graph.graph.get("name") or "")
    if not re.fullmatch(r"[a-z][\w\-]*", name):
        return None
    ref = resources.files("recommender.data").joinpath(f"crosswalk_{name}.yaml")
    if not ref.is_file():
        return None
    return build_crosswalk(yaml.safe_load(ref.read_text(encoding="utf-8")), graph)


def parse_codes(values: pd.Series) -> pd.DataFrame:
    """Split ``<scheme>:<code>`` texts (vectorized): columns ``scheme`` (lower case) and
    ``code`` (normalized as :func:`normalize_code`); both NaN where a value is no such text."""
    text = values.where(values.map(lambda v: isinstance(v, str)), None).astype("string")
    parts = text.str.extract(CODE_PATTERN)
    scheme = parts[0].str.lower()
    code = (parts[1].str.lower().str.replace(r"^(standard|std\.?)\s*", "", regex=True)
            .str.lstrip("#").str.strip())
    digits = code.str.fullmatch(r"\d+").fillna(False).astype(bool)
    code = code.where(~digits, code.str.lstrip("0").replace("", "0"))
    return pd.DataFrame({"scheme": scheme, "code": code}, index=values.index)


CODE_FIELD = "framework_code"
"""The evidence field that carries a framework code (``competency_id`` may carry one too)."""


@dataclass(frozen=True)
class CodedRecords:
    """Evidence records after framework codes were expanded.

    ``records`` are the records to validate: an uncoded input record as it came, a coded one
    once per competency its code maps to, with ``competency_id`` set, ``framework_code`` the
    normalized ``scheme:code`` and ``evidence_id`` derived as ``<evidence_id>#<competency_id>``
    (stable: the same record always gives the same ids). ``origin[i]`` is the input position of
    ``records[i]``. ``rejections`` has one row per input record whose code could not be mapped:
    ``row``, ``evidence_id``, ``field``, ``value``, ``reason`` (the reason names the code).
    """

    records: list
    origin: list[int]
    rejections: pd.DataFrame

    @property
    def codes(self) -> list[str | None]:
        """The normalized code each output record was expanded from (``None``: uncoded)."""
        return [r.get(CODE_FIELD) if isinstance(r, dict) else None for r in self.records]


def _reject_reasons(coded: pd.DataFrame, crosswalk: Crosswalk | None) -> pd.Series:
    """Per coded record, why its code cannot be mapped (NaN where it can)."""
    reason = pd.Series(pd.NA, index=coded.index, dtype="object")
    shown = coded["value"].map(lambda v: repr(v) if isinstance(v, str) else str(v))
    name = "" if crosswalk is None else crosswalk.framework
    both = coded["both"]
    reason[both] = (f"send either competency_id or {CODE_FIELD}, not both; {CODE_FIELD} "
                    + shown[both] + " with competency_id " + coded.loc[both, "competency"])
    if crosswalk is None:
        reason[reason.isna()] = ("the framework has no crosswalk, so framework code "
                                 + shown[reason.isna()] + " maps to no competency")
        return reason
    bad_shape = reason.isna() & coded["scheme"].isna()
    reason[bad_shape] = (shown[bad_shape] + " is not a framework code; expected "
                         f"<scheme>:<code> such as danielson:3b or intasc:7 (schemes: "
                         f"{', '.join(crosswalk.schemes)})")
    no_scheme = reason.isna() & coded["key"].isna()
    reason[no_scheme] = (shown[no_scheme] + " names scheme " + coded.loc[no_scheme, "scheme"]
                         .map(repr) + f"; expected one of {', '.join(crosswalk.schemes)}")
    for key, scheme in crosswalk.schemes.items():
        mine = reason.isna() & (coded["key"] == key)
        unknown = mine & ~coded["code"].isin(list(scheme.codes))
        reason[unknown] = (shown[unknown] + f" is not a code of {scheme.title}; expected one "
                           f"of {', '.join(scheme.codes)}")
        mapped = set(crosswalk.table.loc[crosswalk.table["scheme"] == key, "code"])
        empty = mine & ~unknown & ~coded["code"].isin(list(mapped))
        reason[empty] = (shown[empty] + " (" + coded.loc[empty, "code"].map(scheme.codes)
                         + f") maps to no competency of framework {name!r}")
    return reason


def expand_coded_records(records: list, crosswalk: Crosswalk | None) -> CodedRecords:
    """Expand evidence records coded by a framework code into one record per competency.

    A record is coded when it has a non-empty ``framework_code``, or when its
    ``competency_id`` reads ``<scheme>:<code>`` with a scheme of the crosswalk (a rubric export
    that put the component code where the competency goes). Uncoded records pass unchanged;
    coded ones whose code is malformed, names an unknown scheme or code, maps to nothing, or
    come with both fields are rejected with a reason naming the code. Pure: inputs are not
    mutated.
    """
    n = len(records)
    if not any(isinstance(r, dict) and (r.get(CODE_FIELD) is not None
                                        or ":" in str(r.get("competency_id") or ""))
               for r in records):  # nothing coded: the common case stays cheap
        return CodedRecords(list(records), list(range(n)),
                            pd.DataFrame(columns=["row", "evidence_id", "field", "value",
                                                  "reason"]))
    is_dict = [isinstance(r, dict) for r in records]
    given = pd.Series([r.get(CODE_FIELD) if d else None for r, d in zip(records, is_dict,
                                                                         strict=True)],
                      dtype="object")
    comp = pd.Series([r.get("competency_id") if d else None for r, d in zip(records, is_dict,
                                                                            strict=True)],
                     dtype="object")
    has_code = given.map(lambda v: v is not None and not (isinstance(v, str) and not v.strip()))
    in_comp = pd.Series(False, index=comp.index)
    colon = comp.map(lambda v: isinstance(v, str) and ":" in v).astype(bool)
    if crosswalk is not None and colon.any():
        comp_parts = parse_codes(comp[colon])
        in_comp[colon] = comp_parts["scheme"].map(crosswalk.scheme_key).notna().to_numpy()
        in_comp &= ~has_code
    coded_rows = has_code | in_comp
    value = given.where(has_code, comp)
    coded = pd.DataFrame({"value": value[coded_rows]})
    comp_text = comp.map(lambda v: v.strip() if isinstance(v, str) else "")
    coded["both"] = has_code[coded_rows] & (comp_text[coded_rows] != "")
    coded["competency"] = comp_text[coded_rows].map(repr)
    coded["field"] = has_code[coded_rows].map({True: CODE_FIELD, False: "competency_id"})
    parts = parse_codes(coded["value"])
    coded["scheme"], coded["code"] = parts["scheme"], parts["code"]
    coded["key"] = (coded["scheme"].map(crosswalk.scheme_key) if crosswalk is not None
                    else pd.Series(pd.NA, index=coded.index, dtype="object"))
    reason = _reject_reasons(coded, crosswalk)
    bad = coded[reason.notna()]
    rejections = pd.DataFrame({
        "row": bad.index.astype(int),
        "evidence_id": [_eid(records[i]) for i in bad.index],
        "field": bad["field"].tolist(),
        "value": bad["value"].map(lambda v: v if isinstance(v, str) else str(v)).tolist(),
        "reason": reason[bad.index].tolist()})
    good = coded[reason.isna()]
    links = (good.reset_index(names="row")[["row", "key", "code"]]
             .merge(crosswalk.table if crosswalk is not None else
                    pd.DataFrame(columns=["scheme", "code", "competency_id"]),
                    left_on=["key", "code"], right_on=["scheme", "code"], how="inner", sort=False)
             .sort_values("row", kind="stable"))
    by_row: dict[int, list[tuple[str, str]]] = {}
    for row, key, code, cid in zip(links["row"].tolist(), links["key"].tolist(),
                                   links["code"].tolist(), links["competency_id"].tolist(),
                                   strict=True):
        by_row.setdefault(row, []).append((f"{key}:{code}", cid))
    out, origin = [], []
    rejected = set(bad.index)
    for i in range(n):
        if i in rejected:
            continue
        if i not in by_row:
            out.append(records[i])
            origin.append(i)
            continue
        eid = _eid(records[i])
        for code, cid in by_row[i]:
            record = dict(records[i])
            record.update(competency_id=cid, framework_code=code)
            if eid is not None:
                record["evidence_id"] = f"{eid}#{cid}"
            out.append(record)
            origin.append(i)
    return CodedRecords(out, origin, rejections)


def _eid(record: Any) -> str | None:
    if isinstance(record, dict) and isinstance(v := record.get("evidence_id"), str):
        return v.strip() or None
    return None
