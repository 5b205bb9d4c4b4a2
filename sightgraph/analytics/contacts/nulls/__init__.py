"""Null models of :mod:`sightgraph.analytics.contacts`, one module each (today only the
day-swap null, :mod:`sightgraph.analytics.contacts.nulls.day_swap`)."""
