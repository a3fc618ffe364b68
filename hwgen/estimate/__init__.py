"""Resource and latency estimation: instant analytic counts and synthesis-backed ones."""

from .analytic import Resources, estimate

__all__ = ["Resources", "estimate"]
