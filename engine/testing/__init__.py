"""Conversation tests: `NAME.tests.yaml` beside a scenario says what a user sends and what the
bot must answer; `python run.py --test` (and pytest) run them and report coverage."""

from engine.testing.conversation import (
    ConversationFile,
    ConversationTest,
    load_conversation_file,
    scenario_for,
)
from engine.testing.coverage import CoverageSummary, ScenarioCoverage
from engine.testing.runner import Conversation, ConversationResult, MockServices, run_test
from engine.testing.suite import Suite, discover_test_files, load_suite, run_test_files

__all__ = [
    "Conversation",
    "ConversationFile",
    "ConversationResult",
    "ConversationTest",
    "CoverageSummary",
    "MockServices",
    "ScenarioCoverage",
    "Suite",
    "discover_test_files",
    "load_conversation_file",
    "load_suite",
    "run_test",
    "run_test_files",
    "scenario_for",
]
