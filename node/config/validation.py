"""Validate a config against ``schema.json`` and fill in the schema's defaults.

jsonschema reports every error at once; each becomes one line
``config.json: workers[0].transports[1].endpoint.port: 70000 is greater than the
maximum of 65535``. Defaults are filled by a second, mutating pass that runs only
on a valid config, so the schema is the single place where defaults live.
"""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any, Dict, Iterator, List, Optional

from node.errors import ConfigError

try:  # Python 3.9+: importlib.resources.files
    from importlib.resources import files as _resource_files
except ImportError:  # pragma: no cover
    _resource_files = None  # type: ignore[assignment]


@lru_cache(maxsize=1)
def load_schema() -> Dict[str, Any]:
    """The packaged JSON Schema (draft 2020-12)."""
    text = _resource_files("node.config").joinpath("schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _validator_class(fill_defaults: bool) -> Any:
    from jsonschema import Draft202012Validator, validators

    if not fill_defaults:
        return Draft202012Validator
    properties = Draft202012Validator.VALIDATORS["properties"]

    def properties_with_defaults(validator: Any, props: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, dict):
            for name, subschema in props.items():
                subschema = _resolve_local(subschema)
                if isinstance(subschema, dict) and "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from properties(validator, props, instance, schema)

    return validators.extend(Draft202012Validator, {"properties": properties_with_defaults})


def _resolve_local(subschema: Any) -> Any:
    """Follow ``{"$ref": "#/$defs/x"}`` so a default stated on a definition applies."""
    while isinstance(subschema, dict) and "default" not in subschema \
            and str(subschema.get("$ref", "")).startswith("#/$defs/"):
        subschema = load_schema()["$defs"][subschema["$ref"][len("#/$defs/"):]]
    return subschema


def _location(error: Any) -> str:
    path = error.json_path
    return path[2:] if path.startswith("$.") else ("(top level)" if path == "$" else path)


_TYPE_WORDS = {"integer": "a whole number", "string": "a string", "object": "an object",
               "array": "a list", "boolean": "true or false", "number": "a number"}


def _message(error: Any) -> str:
    """jsonschema's message, made specific where its wording helps nobody.

    A subschema may say what a value must look like in ``errorMessage`` (the
    ajv-errors keyword; other validators ignore it): a regular expression is no
    explanation. Every ``const``/``enum`` error names the value found and the
    values allowed, whichever key it is on.
    """
    if error.validator in ("pattern", "not") and isinstance(error.schema, dict) and "errorMessage" in error.schema:
        return f"{error.instance!r} {error.schema['errorMessage']}"
    if error.validator in ("oneOf", "anyOf") and isinstance(error.schema, dict) and "errorMessage" in error.schema:
        return error.schema["errorMessage"]
    if error.validator == "oneOf" and "directory" in json.dumps(error.validator_value):
        return "a static path needs `directory`, or `package` and `resource` (not both)"
    if error.validator == "oneOf" and error.context:
        specific = [e for e in error.context if e.validator not in ("type", "required")]
        if specific:
            return _message(specific[0])
        if all(e.validator == "type" for e in error.context):
            wanted = " or ".join(_TYPE_WORDS.get(e.validator_value, str(e.validator_value)) for e in error.context)
            return f"{error.instance!r} is not {wanted}"
    if error.validator in ("const", "enum"):
        return _not_allowed(error)
    if error.validator == "additionalProperties" and error.validator_value is False:
        allowed = sorted(error.schema.get("properties", {}))
        allowed = [a for a in allowed if a not in ("type",)] or allowed
        return f"{error.message}; known keys: {', '.join(allowed)}"
    return error.message


def _show(value: Any) -> str:
    """A config value as the message quotes it: strings and numbers as Python writes
    them (``'web'``, ``3``), the rest as JSON writes them (``true``, ``null``)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return repr(value)
    return json.dumps(value)


def _not_allowed(error: Any) -> str:
    """A ``const``/``enum`` error naming the value found and the values allowed.

    jsonschema's own wording names only the expected value (``2 was expected``) or
    lists the allowed ones as a Python list. A key whose message needs its own
    words (``version``) says them in the schema's ``errorMessage``, after the value.
    """
    if isinstance(error.schema, dict) and "errorMessage" in error.schema:
        return f"{_show(error.instance)} {error.schema['errorMessage']}"
    if error.validator == "const":
        return f"{_show(error.instance)} is not allowed here; the only allowed value is {_show(error.validator_value)}"
    allowed = ", ".join(v if isinstance(v, str) else _show(v) for v in error.validator_value)
    return f"{_show(error.instance)} is not one of the allowed values: {allowed}"


def _definition_schema(name: str) -> Dict[str, Any]:
    """The schema's ``$defs/<name>`` as a schema of its own."""
    return {"$defs": load_schema()["$defs"], "$ref": f"#/$defs/{name}"}


def validation_errors(config: Any, where: str, definition: Optional[str] = None) -> List[ConfigError]:
    """All schema violations of ``config`` (or, with ``definition``, of one object of
    that ``$defs`` entry) as one-line errors, in document order."""
    schema = load_schema() if definition is None else _definition_schema(definition)
    validator = _validator_class(False)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.path])
    result: List[ConfigError] = []
    seen = set()
    refused = {_location(leaf) for error in errors for leaf in _leaves(error) if _is_refusal(leaf)}
    for error in errors:
        for leaf in _leaves(error):
            if leaf.validator in ("enum", "const") and _location(leaf) in refused:
                continue  # the refusal says why this value is not allowed; the list of others adds nothing
            line = (f"{where}: {_location(leaf)}", _message(leaf))
            if line not in seen:
                seen.add(line)
                result.append(ConfigError(line[0], line[1]))
    return result


def _is_refusal(error: Any) -> bool:
    """A value the schema names only to refuse it with its own words (``"not": true`` and an
    ``errorMessage``: Crossbar.io's ``upload`` path type, for one)."""
    return error.validator == "not" and isinstance(error.schema, dict) and "errorMessage" in error.schema


def _leaves(error: Any) -> Iterator[Any]:
    """Errors inside ``allOf``/``if-then`` are reported at their own path, not the branch's."""
    if error.validator in ("allOf", "$ref") and error.context:
        for sub in error.context:
            yield from _leaves(sub)
    else:
        yield error


@lru_cache(maxsize=None)
def _definition_defaults(name: str) -> str:
    return json.dumps(with_definition_defaults(name, {}))


def definition_defaults(name: str) -> Dict[str, Any]:
    """A new object of the schema's ``$defs/<name>`` holding only its defaults: what a
    config that leaves the whole object out means (e.g. the ``web`` options of a
    universal transport without ``web``)."""
    return json.loads(_definition_defaults(name))


def with_defaults(config: Any) -> Any:
    """A copy of a valid ``config`` with every schema default filled in."""
    filled = copy.deepcopy(config)
    for _ in _validator_class(True)(load_schema()).iter_errors(filled):
        pass
    return filled


def with_definition_defaults(name: str, instance: Any) -> Any:
    """A copy of a valid object of ``$defs/<name>`` with the schema's defaults filled in."""
    filled = copy.deepcopy(instance)
    for _ in _validator_class(True)(_definition_schema(name)).iter_errors(filled):
        pass
    return filled
