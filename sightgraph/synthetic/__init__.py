"""Synthetic data with planted truth: cities of sightings whose ties and routine strangers are
known (:mod:`sightgraph.synthetic.city`, ``sightgraph generate``), and the evaluation of a
contacts table against that truth (:mod:`sightgraph.synthetic.evaluation`)."""
