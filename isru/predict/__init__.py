"""Dry runs: ``isru seq predict`` runs a sequence on the flight software's core and the
simulated boards, in one process on virtual time, and says what it would do.

* :mod:`isru.predict.vtime`: the event loop whose clock jumps over idle waits, and the two
  clocks (flight, simulator) on its time,
* :mod:`isru.predict.run`: one dry run (:func:`~isru.predict.run.predict`) and its
  :class:`~isru.predict.run.Prediction`,
* :mod:`isru.predict.record`: what the run listens to (energy, power, events),
* :mod:`isru.predict.cli`: the ``predict`` action of ``isru seq``.
"""
