"""What pynomaly does with its plugins' answers, one module per plugin kind.

The :class:`~pynomaly.PluginManager` keeps the registry and calls hooks; these modules sit above
it and turn hook calls into detection: :mod:`~pynomaly.services.detectors` (detector index,
parameters, fit and score framed by their events, explanations), :mod:`~pynomaly.services.data`
(connections, reading, writing), :mod:`~pynomaly.services.processing` (preprocess, validate,
steps, postprocess) and :mod:`~pynomaly.services.outputs` (formats, exports, notifications).
Every function takes the manager first.
"""
