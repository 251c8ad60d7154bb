"""Sphinx configuration of the manual (``sphinx-build -W --keep-going docs docs/_build``)."""

import os
import sys
from importlib import metadata

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "docs", "_ext"))

import generated  # noqa: E402  (docs/_ext: the generated pages and tables)

generated.write_all()

project = "patchinr-accel"
author = "the patchinr-accel authors"
copyright = "the patchinr-accel authors, BSD-2-Clause"
try:
    release = metadata.version("patchinr-accel")
except metadata.PackageNotFoundError:
    release = "unreleased"

extensions = [
    "myst_parser",              # the Markdown pages (docs/*.md) as they are
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",      # numpy-style docstrings
    "sphinx.ext.doctest",       # `sphinx-build -b doctest`: examples in pages and docstrings
    "sphinx.ext.viewcode",
    "sphinxarg.ext",            # the command reference, from the parsers themselves
    "sphinx_copybutton",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "results/**"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Every cross-reference to a module, function, class member or attribute must resolve:
# a renamed or moved object fails the build. Types in numpy-style parameter lists
# ("int", "str or os.PathLike", "callable, optional") are prose, not references.
nitpicky = True
nitpick_ignore_regex = [
    # Undotted names are builtins or the words of numpy-style type prose ("optional").
    ("py:class", r"[^.]+"),
    # Other packages' objects: no intersphinx inventories offline.
    ("py:(class|exc|func|mod|meth|attr|data|obj)",
     r"(numpy|np|torch|amaranth|wiring|stream|data|memory|os|pathlib|collections|concurrent|subprocess|typing|"
     r"argparse|enum|dataclasses|json|serial|av|PIL|threading|io)\..*"),
]
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_param = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
# Members (documented or not) are listed per module by the generated API page; packages
# show their docstring only, so a re-exported object has one description.
autodoc_default_options = {"no-value": True}
napoleon_use_ivar = True
# The blocks document their ports the way Amaranth's standard library does.
napoleon_custom_sections = [("Ports", "params_style")]
# Importing the package must not start work: every module is import-safe.
autodoc_mock_imports = []

html_theme = "furo"
html_title = f"patchinr-accel {release}"
html_static_path = []

# Examples name files relative to the repository's root.
doctest_global_setup = f"""
import os
import numpy as np
os.chdir({ROOT!r})
"""
smartquotes = False
