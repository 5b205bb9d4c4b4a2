"""sightgraph: movement and association analytics over sighting events."""

from sightgraph.errors import SightgraphError, UsageError

__all__ = ["SightgraphError", "UsageError", "__version__"]
__version__ = "0.1.0"
