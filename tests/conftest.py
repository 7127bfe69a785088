"""The suite's fixtures, one module per subject under tests/fixtures/.

- environment: no developer settings or AWS profile leak in; moto reads bytearray parts
- s3: moto's buckets (`s3`) or the session's real SeaweedFS (`seaweedfs`)
- apps: `app`, `client`, `runner` (moto) and `seaweed_app`, with `@pytest.mark.config`
- databases: a migrated SQLite copy per test, or a fresh PostgreSQL database
- forms: `auth` (register, log in, log out through the real forms), `upload`, CSRF tokens
Rows for listing tests come from tests/factories.py.
"""

# In import order: a module must be registered before another one imports it.
pytest_plugins = [
    "tests.fixtures.environment",
    "tests.fixtures.s3",
    "tests.fixtures.apps",
    "tests.fixtures.databases",
    "tests.fixtures.forms",
]
