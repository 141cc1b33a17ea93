"""Rendering the notebooks into a report folder (``python -m analysis render``).

What the command guarantees (data validated first, nothing half-written, one writer,
cache, no machine paths) and its exit codes are described in
:mod:`analysis.render.command`. The package has one room per concern; open

- ``command.py`` to change the options, the run itself, the data validation before any
  notebook runs, exit codes or the failure text on the terminal;
- ``params.py`` to change how ``-p`` values are read, matched to the notebooks that declare
  them and checked against each notebook's declaration (``metadata.analysis.parameters``);
- ``folders.py`` to change what invalidates a report (data fingerprint, cache key,
  ``.render-stamp.json``), the output lock, what render owns in the output folder (the
  manifest), the atomic swap-in of a finished report or the clean-up after a crash (also
  :class:`RenderError` and the exit-code constants);
- ``jobs.py`` to change the kernelspec JupyterLab lists, the worker processes that run the
  notebooks, the parallel pool or the progress lines;
- ``factory.py`` to change what the kernel factory imports for the kernels it forks, or its
  handle in the main process; ``forks.py`` is the factory process itself (its serving loop,
  the validation, the forked kernels); ``kernels.py`` is a worker's side (the
  jupyter_client provisioner of a forked kernel, the kernel started ahead, the shutdown);
- ``html.py`` to change how machine paths are scrubbed from a report or how the executed
  notebook becomes sanitised, self-contained HTML;
- ``index.py`` to change ``OUT/index.html``.

Imports run one way: ``command`` → ``jobs`` → ``html`` → ``folders``; ``command`` also
uses ``params`` and ``index``, which use only ``folders``; ``command`` and ``jobs`` use
``factory``, which the worker-side ``kernels`` and the factory-side ``forks`` build on.
Heavy libraries (papermill, nbconvert, bleach, yaml, jupyter_client, pandas through
``analysis.load``) are imported inside the functions that use them, so
``python -m analysis render`` with nothing to do stays fast.

``python -m analysis.render [options]`` runs the command on its own;
``python -m analysis.render --worker`` is a worker process (:mod:`analysis.render.jobs`),
``python -m analysis.render --kernel-factory`` the kernel factory (:mod:`analysis.render.forks`).
"""

from analysis.render.command import (
    DEFAULT_TIMEOUT,
    MAX_PROBLEM_LINES,
    add_arguments,
    main,
    printable,
    reads_dataset,
    run,
    validate_data,
)
from analysis.render.folders import (
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_PIPE,
    EXIT_USAGE,
    FAILED_DIR,
    INDEX_FILE,
    KEY_PACKAGES,
    LOCK_FILE,
    MANIFEST_FILE,
    OLD_PREFIX,
    RENDER_PREFIX,
    STAMP_FILE,
    TMP_PREFIX,
    Manifest,
    RenderError,
    cache_key,
    clean_stale,
    data_fingerprint,
    find_notebooks,
    output_lock,
    package_source_hash,
    package_versions,
    stdout_closed,
    swap_in,
    write_text_atomic,
)
from analysis.render.html import clean_html, markdown_output_to_html, notebook_to_html, path_replacements, scrub
from analysis.render.index import index_html, write_index
from analysis.render.params import (
    RESERVED_PARAMETERS,
    TYPES,
    assign_parameters,
    check_parameters,
    check_value,
    declared_parameters,
    expectation,
    parameter_declaration,
    parameter_defaults,
    parse_parameters,
)
from analysis.render.jobs import (
    KERNEL_DISPLAY_NAME,
    KERNEL_NAME,
    RENDER_ENV,
    Job,
    Progress,
    install_kernelspec,
    kernel_argv,
)

__all__ = [
    # command
    "add_arguments", "run", "main", "printable", "reads_dataset", "validate_data", "DEFAULT_TIMEOUT",
    "MAX_PROBLEM_LINES",
    # params
    "parse_parameters", "declared_parameters", "parameter_defaults", "assign_parameters", "parameter_declaration",
    "check_parameters", "check_value", "expectation", "RESERVED_PARAMETERS", "TYPES",
    # folders
    "RenderError", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_LOCKED", "EXIT_PIPE",
    "KEY_PACKAGES", "STAMP_FILE", "LOCK_FILE", "RENDER_PREFIX", "MANIFEST_FILE", "TMP_PREFIX", "OLD_PREFIX",
    "FAILED_DIR", "INDEX_FILE", "Manifest",
    "data_fingerprint", "cache_key", "package_source_hash", "package_versions",
    "find_notebooks", "output_lock", "clean_stale", "swap_in", "write_text_atomic", "stdout_closed",
    # jobs
    "KERNEL_NAME", "KERNEL_DISPLAY_NAME", "RENDER_ENV", "kernel_argv", "install_kernelspec", "Job", "Progress",
    # html
    "path_replacements", "scrub", "notebook_to_html", "markdown_output_to_html", "clean_html",
    # index
    "write_index", "index_html",
]
