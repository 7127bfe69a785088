"""The download limit under real concurrency, on SQLite and PostgreSQL, and a share link's
bytes through the real SeaweedFS."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from flask import Flask

from securestore.config import engine_options
from securestore.extensions import db
from securestore.shares.models import ShareLink
from tests.fixtures.databases import app_on_database
from tests.fixtures.servers import served
from tests.shares.conftest import CONTENT, make_owner

CONCURRENT = 10


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_ten_concurrent_downloads_of_a_link_limited_to_three_serve_exactly_three(
    request: pytest.FixtureRequest, s3: Any, database_url: str, database: str
) -> None:
    options = engine_options(database_url, 2 * CONCURRENT)
    with (
        app_on_database(
            request, database_url, database=database, SQLALCHEMY_ENGINE_OPTIONS=options
        ) as app,
        served(app) as base,
    ):
        owner = make_owner(app)
        path = owner.path(max_downloads=3)

        def download(_: int) -> tuple[int, bytes]:
            answer = requests.get(base + path + "/download", timeout=60)
            return answer.status_code, answer.content

        with ThreadPoolExecutor(CONCURRENT) as pool:
            answers = list(pool.map(download, range(CONCURRENT)))
        assert Counter(status for status, _ in answers) == {200: 3, 404: 7}
        assert all(body == CONTENT for status, body in answers if status == 200)
        with app.app_context():
            assert db.session.scalar(db.select(ShareLink.downloads)) == 3


def test_a_link_serves_the_exact_bytes_and_ranges_from_seaweedfs(seaweed_app: Flask) -> None:
    content = bytes(range(256)) * 40_000  # 10 MB: more than one read from S3
    owner = make_owner(seaweed_app, content=content)
    path = owner.path(max_downloads=1) + "/download"
    visitor = seaweed_app.test_client()
    head = visitor.get(path, headers={"Range": "bytes=0-1048575"})
    assert (head.status_code, head.data) == (206, content[:1048576])
    rest = visitor.get(path, headers={"Range": "bytes=1048576-"})
    assert (rest.status_code, rest.data) == (206, content[1048576:])
    assert seaweed_app.test_client().get(path).status_code == 404  # used up
