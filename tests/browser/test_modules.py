"""The file page's ES modules: every import names a file under static/, and the app serves the
whole graph, from the page's entry on, as JavaScript (a browser refuses a module of any other
type, and there is no bundler to catch a missing file before a browser does).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin

import pytest
from flask.testing import FlaskClient

from tests.fixtures.forms import AuthActions

STATIC = Path(__file__).resolve().parents[2] / "securestore" / "static"
MODULES = STATIC / "js"
# Static imports and re-exports at the start of a line: `import {a} from "./a.js"`,
# `import "./a.js"`, `export * from "./a.js"`; never a string inside a function.
IMPORT = re.compile(r"""^(?:import\s*|(?:import|export)\b[^;()"']*?\bfrom\s*)["']([^"']+)["']""",
                    re.MULTILINE)
ENTRY = re.compile(r'<script type="module" src="([^"]+)"></script>')
JAVASCRIPT_TYPES = {"text/javascript", "application/javascript"}


def imports(source: str) -> list[str]:
    """Return the specifiers of a module's static imports, in order."""
    return IMPORT.findall(source)


def test_import_pattern_finds_each_static_form_and_nothing_else() -> None:
    source = (
        'import { a, b } from "./a.js";\n'
        "import c from './c.js';\n"
        'import "./d.js";\n'
        'import {\n  e,\n} from "./e.js";\n'
        'export { f } from "../f.js";\n'
        'export function g() {\n  return "./not-an-import.js";\n}\n'
        "/* import \"./prose.js\" in a comment */\n"
    )
    assert imports(source) == ["./a.js", "./c.js", "./d.js", "./e.js", "../f.js"]


@pytest.mark.parametrize("module", sorted(MODULES.glob("*.js")), ids=lambda p: p.name)
def test_every_imported_module_exists_under_static(module: Path) -> None:
    specifiers = imports(module.read_text())
    for specifier in specifiers:
        # A bare name ("bootstrap") would need an import map, which the page does not have.
        assert specifier.startswith(("./", "../")), specifier
        target = (module.parent / specifier).resolve()
        assert target.is_relative_to(STATIC), specifier
        assert target.is_file(), f"{module.name} imports {specifier}, which does not exist"


# The pages with a script, each with one entry module.
PAGES_WITH_SCRIPTS = ("/files/", "/shares/")


def test_the_pages_load_every_module_as_javascript_from_their_entries(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    pending = []
    for path in PAGES_WITH_SCRIPTS:
        (entry,) = ENTRY.findall(client.get(path).get_data(as_text=True))
        pending.append(entry)
    served: set[str] = set()
    while pending:
        url = pending.pop()
        if url in served:
            continue
        served.add(url)
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype in JAVASCRIPT_TYPES, (url, response.mimetype)
        pending += [urljoin(url, s) for s in imports(response.get_data(as_text=True))]
        response.close()
    # Each module under static/js/ is reached from an entry: none is left over, unused.
    assert served == {f"/static/{p.relative_to(STATIC).as_posix()}" for p in MODULES.glob("*.js")}
