"""``isru ground`` from a shell: :func:`main` (``isru`` maps ``ground`` here).

Modules: ``entry`` (main: parse, delegate, run a verb), ``parser`` (options, verbs, exit
statuses), ``archive_parser`` (the archive verbs' options), ``words`` (arguments and sequence
files as a request), ``output`` (the lines printed), ``online`` (connecting for a verb), and
one module per verb: ``send``, ``watch``, ``events``, ``seq``, ``record``, ``archive``,
``plot``, ``console``.
"""

from ground.cli.entry import main

__all__ = ["main"]
