"""Keep the page translation catalogues (``shared/web/locale/{ru,kk}``) in step with the code.

    python -m shared.web.catalogues          # add new texts to both catalogues, drop unused ones
    python -m shared.web.catalogues --check  # exit 1 if a text is missing or untranslated

Texts come from the page templates (``{{ _("…") }}``), the page code (``_("…")``, ``N_("…")``) and the
refusal texts of :mod:`shared.wire.refusals` (their message id is the Russian text itself).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po, write_po

from shared.web.i18n import LANGUAGES, catalogue_path
from shared.wire.refusals import REFUSAL_TEXTS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "shared" / "web" / "templates", *sorted((ROOT / "services").glob("*/templates"))]
PYTHON_FILES = [*sorted((ROOT / "shared" / "web").glob("*.py")), *sorted((ROOT / "services").glob("*/pages.py"))]


def extract() -> Catalog:
    """Every text the pages show, as a template catalogue."""
    template = Catalog(project="Emhana", fuzzy=False)
    sources: list[tuple[str, Path]] = [("python", path) for path in PYTHON_FILES]
    sources += [
        ("jinja2.ext:babel_extract", path) for folder in TEMPLATE_DIRS for path in sorted(folder.glob("*.html"))
    ]
    for method, path in sources:
        for line, message, _comments, context in extract_from_file(
            method, str(path), keywords=DEFAULT_KEYWORDS, options={"trimmed": "true"}
        ):
            template.add(message, locations=[(str(path.relative_to(ROOT)), line)], context=context)
    for text, _source in REFUSAL_TEXTS.values():
        template.add(text, locations=[("shared/wire/refusals.py", 0)])
    return template


def load(language: str) -> Catalog:
    path = catalogue_path(language)
    if not path.exists():
        return Catalog(locale=language, project="Emhana", fuzzy=False)
    with path.open("rb") as source:
        return read_po(source, locale=language)


def update() -> dict[str, list[str]]:
    """Bring both catalogues in step with the code; return the untranslated texts per language."""
    template = extract()
    missing: dict[str, list[str]] = {}
    for language in LANGUAGES:
        catalogue = load(language)
        catalogue.update(template, no_fuzzy_matching=True)
        catalogue.obsolete.clear()
        path = catalogue_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as target:
            write_po(target, catalogue, width=120, sort_output=True, omit_header=False, include_lineno=False)
        missing[language] = untranslated(catalogue)
    return missing


def untranslated(catalogue: Catalog) -> list[str]:
    return sorted(str(m.id) for m in catalogue if m.id and (not m.string or m.fuzzy))


def check() -> list[str]:
    """What is out of step: texts in the code missing from a catalogue, untranslated or left over."""
    wanted = {str(m.id) for m in extract() if m.id}
    problems = []
    for language in LANGUAGES:
        catalogue = load(language)
        present = {str(m.id) for m in catalogue if m.id}
        problems += [f"{language}: missing {text!r}" for text in sorted(wanted - present)]
        problems += [f"{language}: unused {text!r}" for text in sorted(present - wanted)]
        problems += [f"{language}: untranslated {text!r}" for text in untranslated(catalogue) if text in wanted]
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report what is out of step (exit 1 if anything)")
    if parser.parse_args().check:
        problems = check()
        print("\n".join(problems) or "catalogues are complete")
        sys.exit(1 if problems else 0)
    for language, texts in update().items():
        print(f"{language}: {len(texts)} untranslated" + "".join(f"\n  {t}" for t in texts[:20]))


if __name__ == "__main__":
    main()
