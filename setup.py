"""Package discovery, the one thing pyproject.toml cannot say: every subpackage of
`securestore`, plus the top-level `migrations/` folder shipped inside it as
`securestore.migrations` (so an installed wheel can run `flask db upgrade`)."""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["securestore", "securestore.*"]),
        *(f"securestore.{name}" for name in find_packages(include=["migrations*"])),
    ],
    package_dir={"securestore.migrations": "migrations"},
)
