"""Look at the built manual as a reader would: ``python docs/_ext/check_html.py docs/_build/html``.

Headless Chromium renders the start page, the command reference and the API reference;
each rendered page must show what a reader comes for (the title, every page of the table
of contents, every command, a class with its documented parameters), and every link and
image on every page must lead to a file of the build. Exit status 0 when all holds, 1 with
one line per problem otherwise, 2 without Chromium.
"""

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlparse

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

#: What each rendered page must contain (as text a reader sees).
EXPECT = {
    "index.html": ["patchinr-accel", "Getting started", "The toolchain", "API reference",
                   "Command reference", "Results"],
    "cli.html": [],         # filled from the registry below
    "api.html": ["class accel.config. AccelConfig", "Parameters :", "accel.flows.synth. estimate",
                 "accel.host.driver. PatchINRDriver"],
}


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def rendered_text(browser, path):
    """The text of ``path`` after Chromium has rendered it (scripts run, DOM dumped)."""
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--dump-dom", f"file://{os.path.abspath(path)}"],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode:
        raise RuntimeError(f"chromium failed on {path}: {proc.stderr.strip()[-300:]}")
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", proc.stdout, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", text.replace("&lt;", "<").replace("&gt;", ">")
                  .replace("&amp;", "&").replace("&nbsp;", " "))


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.targets.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.targets.append(attrs["src"])


def broken_links(root):
    """``(page, target)`` of every internal link or image that leads to no file."""
    out = []
    for folder, _, files in os.walk(root):
        if "_static" in folder or "_sources" in folder:
            continue
        for name in files:
            if not name.endswith(".html"):
                continue
            page = os.path.join(folder, name)
            parser = _Links()
            with open(page, encoding="utf-8") as f:
                parser.feed(f.read())
            for target in parser.targets:
                url = urlparse(target)
                if url.scheme or target.startswith(("#", "mailto:")):
                    continue
                path = os.path.normpath(os.path.join(folder, unquote(url.path)))
                if not os.path.exists(path):
                    out.append((os.path.relpath(page, root), target))
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    root = argv[0] if argv else os.path.join("docs", "_build", "html")
    browser = _browser()
    if browser is None:
        print("check_html: no Chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    from accel.cli.registry import COMMANDS
    expect = dict(EXPECT)
    expect["cli.html"] = [f"patchinr {c.name}" for c in COMMANDS] + ["--precision", "--patch"]
    problems = []
    for page, words in expect.items():
        text = rendered_text(browser, os.path.join(root, page))
        problems += [f"{page}: no {word!r} in the rendered page" for word in words
                     if word not in text]
        if "Traceback" in text or "Error in" in text:
            problems.append(f"{page}: shows an error")
    problems += [f"{page}: broken link or image {target!r}" for page, target in
                 broken_links(root)]
    for problem in problems:
        print(f"check_html: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_html: {', '.join(expect)} rendered with everything expected; "
              f"no broken link or image in {root}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
