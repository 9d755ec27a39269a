"""Operations: the one place failures are reported (and, later, metrics and alerts)."""

from engine.ops.problems import Problem, ProblemSink

__all__ = ["Problem", "ProblemSink"]
