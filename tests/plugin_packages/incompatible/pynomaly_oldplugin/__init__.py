"""A plugin that declares it only works with pynomaly before 1.0."""

from pynomaly import hookimpl
from pynomaly.types import DetectorInfo, PluginMetadata


@hookimpl
def pynomaly_plugin_metadata():
    return PluginMetadata(
        name="oldplugin",
        version="0.1.0",
        plugin_types=["algorithm"],
        pynomaly_compat="<1.0",
    )


@hookimpl
def pynomaly_detectors():
    return [DetectorInfo("old:detector", "never loaded")]
