"""sightgraph: movement and association analytics over sighting events."""

from sightgraph import _astguard
from sightgraph.errors import SightgraphError, UsageError

_astguard.install()  # CPython 3.11: threads must not build AST objects at once (gh-106905)

__all__ = ["SightgraphError", "UsageError", "__version__"]
__version__ = "0.1.0"
