"""``python -m analysis.render [options]``: the render command on its own.

``python -m analysis.render --worker`` starts a worker process; the pool in
:mod:`analysis.render.jobs` starts workers with this command line.
"""

from analysis.render.command import main

if __name__ == "__main__":
    raise SystemExit(main())
