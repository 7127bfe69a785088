"""Write `.env.example` and the settings table of `docs/configuration.md` from `config.table`.

Run `python -m securestore.config.document` in a checkout after changing the table;
`tests/test_config.py` fails while either file says something else.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from securestore.config.table import SETTING_GROUPS, Setting

ENV_EXAMPLE_HEADER = """\
# SecureStore settings. The app reads ONLY the process environment (systemd's EnvironmentFile,
# your shell, ...). AWS credentials never go here: boto3's default chain finds them (the EC2
# instance role in production; `make run` exports a generated local key for SeaweedFS).
# Written from securestore/config/table.py by `python -m securestore.config.document`.
"""
TABLE_START = "<!-- settings-table:start -->"
TABLE_END = "<!-- settings-table:end -->"


def env_example() -> str:
    """The text of `.env.example`: every setting with its meaning and default, by group."""
    lines = [ENV_EXAMPLE_HEADER]
    for group, settings in SETTING_GROUPS.items():
        lines.append(f"\n# ---- {group} ----\n")
        for setting in settings:
            lines.extend(_comment(setting))
            lines.append(f"{setting.name}={setting.default or ''}\n")
    return "".join(lines)


def settings_table() -> str:
    """The markdown table of every setting, as `docs/configuration.md` shows it."""
    rows = ["| variable | default | read by | meaning |", "|---|---|---|---|"]
    for settings in SETTING_GROUPS.values():
        rows.extend(
            f"| `{s.name}` | {s.documented_default} | {s.read_by} | {s.meaning} |" for s in settings
        )
    return "\n".join(rows) + "\n"


def with_table(document: str) -> str:
    """Return `document` with the text between the table markers replaced by the table."""
    head, start, rest = document.partition(TABLE_START)
    _, end, tail = rest.partition(TABLE_END)
    if not (start and end):
        raise ValueError(f"the document lacks the {TABLE_START} ... {TABLE_END} markers")
    return f"{head}{start}\n{settings_table()}{end}{tail}"


def _comment(setting: Setting) -> list[str]:
    text = f"{setting.name}: {setting.meaning}. Default: {setting.documented_default}."
    text = text.replace("`", "")
    return [f"# {line}\n" for line in textwrap.wrap(text, width=94)]


def main(root: Path) -> None:
    """Rewrite both files under the checkout `root`."""
    (root / ".env.example").write_text(env_example())
    configuration = root / "docs" / "configuration.md"
    configuration.write_text(with_table(configuration.read_text()))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
