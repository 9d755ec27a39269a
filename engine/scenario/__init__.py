"""Reading and checking scenario files: the first thing every author touches."""

from engine.scenario.diagnostics import Diagnostic, Position, Severity
from engine.scenario.includes import ScenarioSource
from engine.scenario.validation import ValidationReport, discover, validate_file
from engine.scenario.yaml_loader import DEFAULT_LIMITS, LoaderLimits, SourceMap, YamlDocument

__all__ = [
    "DEFAULT_LIMITS",
    "Diagnostic",
    "LoaderLimits",
    "Position",
    "ScenarioSource",
    "Severity",
    "SourceMap",
    "ValidationReport",
    "YamlDocument",
    "discover",
    "validate_file",
]
