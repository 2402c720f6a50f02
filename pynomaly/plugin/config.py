"""Validation of a plugin's configuration against the JSON Schema in its metadata."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynomaly.errors import ConfigurationError


def check_schema(plugin: str, schema: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigurationError` if ``schema`` is not a valid JSON Schema."""
    if not schema:
        return
    import jsonschema  # imported here: it costs ~40 ms and most runs never need it

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ConfigurationError(
            f"plugin {plugin!r}: config_schema is not valid JSON Schema: {exc.message}"
        ) from None


def validate_config(
    plugin: str,
    schema: Mapping[str, Any],
    config: Mapping[str, Any],
    origin: str | None = None,
) -> None:
    """Raise :class:`ConfigurationError` naming the plugin and the offending key; with
    ``origin`` (the configuration file it came from), the file, the table, the key and the
    schema rule broken.

    The schema itself is checked here, when a configuration is validated, rather than at
    discovery: that keeps jsonschema (~30 ms to import) out of every command's start-up.
    """
    if not schema:
        return
    # An empty configuration can only violate a schema that demands keys; skipping the check
    # then keeps jsonschema out of the start-up path of every command.
    if not config and not schema.get("required") and not schema.get("minProperties"):
        return
    import jsonschema

    check_schema(plugin, schema)
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path)
        if origin is not None:
            import json

            rule = json.dumps(err.validator_value, default=str)
            raise ConfigurationError(
                f"{origin}: [plugins.{plugin}] {where + ': ' if where else ''}{err.message} "
                f"(schema rule {err.validator}: {rule})"
            )
        key = f"key {where!r}: " if where else ""
        raise ConfigurationError(f"plugin {plugin!r}: invalid configuration: {key}{err.message}")
