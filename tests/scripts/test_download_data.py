"""Tests for scripts/download_data.py (no internet needed: local zips and a local server)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from huggingface_hub import constants

from tests.conftest import REPO, load_script

SCRIPT = REPO / "scripts" / "download_data.py"
UNREACHABLE = "http://127.0.0.1:9/GUE.zip"  # discard port: closed on any normal machine
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


dd = load_script("download_data")

TASKS = {
    "prom/prom_300_tata": "TATAAAAGGCCGCGCGATATAT",
    "EMP/H3": "ACGTACGTACGTACGT",
    "mouse/0": "GGGGCCCCAAAATTTT",
}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep requests to 127.0.0.1 off any proxy configured in the environment."""
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("LINGO_DATA_DIR", raising=False)


def make_gue_zip(path: Path, *, top: str = "GUE/", header: str = "sequence,label") -> Path:
    """Write a tiny zip shaped like the real GUE.zip (top folder + macOS junk)."""
    with zipfile.ZipFile(path, "w") as zf:
        if top:
            zf.writestr(top, "")  # explicit directory entry, as zip tools write
        for task, seq in TASKS.items():
            for split in ("train", "dev", "test"):
                rows = "".join(f"{seq},{i % 2}\n" for i in range(4))
                zf.writestr(f"{top}{task}/{split}.csv", f"{header}\n{rows}")
        zf.writestr(f"__MACOSX/{top}prom/._prom_300_tata", "junk")
        zf.writestr(f"{top}.DS_Store", "junk")
        zf.writestr(f"{top}prom/._notes", "junk")
    return path


def make_bad_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("GUE/EMP/H3/train.csv", "sequence,label\nACGT,1\n")
        zf.writestr("README.txt", "not the benchmark")
    return path


def leftovers(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir()) if data_dir.exists() else []


def assert_gue_layout(gue: Path) -> None:
    for task in TASKS:
        for split in ("train", "dev", "test"):
            csv = gue / task / f"{split}.csv"
            assert csv.is_file(), csv
            assert csv.read_text().splitlines()[0] == "sequence,label"
    assert not (gue / "GUE").exists()
    assert not any(p.name.startswith("._") or p.name == ".DS_Store" for p in gue.rglob("*"))
    assert not (gue.parent / "__MACOSX").exists()


# --------------------------------------------------------------------------- --archive


def test_archive_unpacks_gue_layout(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    archive = make_gue_zip(tmp_path / "GUE.zip")
    assert dd.main(["--archive", str(archive), "--data-dir", str(data_dir), "-q"]) == 0
    assert_gue_layout(data_dir / "GUE")
    assert leftovers(data_dir) == ["GUE"]  # no temp folders left behind
    assert archive.exists()  # a user-supplied archive is never deleted


def test_archive_without_top_folder(tmp_path: Path) -> None:
    archive = make_gue_zip(tmp_path / "flat.zip", top="")
    out = dd.unpack_archive(archive, tmp_path / "data")
    assert out == tmp_path / "data" / "GUE"
    assert_gue_layout(out)
    assert leftovers(tmp_path / "data") == ["GUE"]


def test_data_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINGO_DATA_DIR", str(tmp_path / "envdata"))
    archive = make_gue_zip(tmp_path / "GUE.zip")
    assert dd.main(["--archive", str(archive), "-q"]) == 0
    assert_gue_layout(tmp_path / "envdata" / "GUE")


def test_bad_archive_gives_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    archive = make_bad_zip(tmp_path / "bad.zip")
    assert dd.main(["--archive", str(archive), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "does not look like the GUE benchmark" in err
    assert "prom/prom_300_tata/train.csv" in err
    assert "No data was written" in err
    assert "Traceback" not in err
    assert leftovers(data_dir) == []

    with pytest.raises(dd.DownloadError, match=r"prom/prom_300_tata/train\.csv not found"):
        dd.unpack_archive(archive, data_dir)
    assert leftovers(data_dir) == []


def test_wrong_header_is_rejected(tmp_path: Path) -> None:
    archive = make_gue_zip(tmp_path / "GUE.zip", header="seq,lab")
    with pytest.raises(dd.DownloadError, match="expected 'sequence,label'"):
        dd.unpack_archive(archive, tmp_path / "data")
    assert leftovers(tmp_path / "data") == []


def test_not_a_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "GUE.zip"
    fake.write_text("<html>quota exceeded</html>")
    assert dd.main(["--archive", str(fake), "--data-dir", str(tmp_path / "data")]) == 2
    assert "not a valid zip archive" in capsys.readouterr().err
    assert leftovers(tmp_path / "data") == []


def test_unsafe_member_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escape.csv", "sequence,label\n")
    with pytest.raises(dd.DownloadError, match="unsafe path"):
        dd.unpack_archive(archive, tmp_path / "data")
    assert not (tmp_path / "escape.csv").exists()


def test_existing_target_is_skipped_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "GUE").mkdir(parents=True)
    marker = data_dir / "GUE" / "mine.txt"
    marker.write_text("keep me")
    archive = make_gue_zip(tmp_path / "GUE.zip")

    assert dd.main(["--archive", str(archive), "--data-dir", str(data_dir)]) == 0
    assert "already exists" in capsys.readouterr().out
    assert marker.read_text() == "keep me"
    assert not (data_dir / "GUE" / "prom").exists()
    # Skipping needs no network either.
    assert dd.main(["--url", UNREACHABLE, "--data-dir", str(data_dir), "-q"]) == 0

    assert dd.main(["--archive", str(archive), "--data-dir", str(data_dir), "--force", "-q"]) == 0
    assert not marker.exists()
    assert_gue_layout(data_dir / "GUE")
    assert leftovers(data_dir) == ["GUE"]


def test_force_with_bad_archive_keeps_old_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    good = make_gue_zip(tmp_path / "GUE.zip")
    assert dd.main(["--archive", str(good), "--data-dir", str(data_dir), "-q"]) == 0
    bad = make_bad_zip(tmp_path / "bad.zip")
    assert dd.main(["--archive", str(bad), "--data-dir", str(data_dir), "--force", "-q"]) == 2
    assert_gue_layout(data_dir / "GUE")
    assert leftovers(data_dir) == ["GUE"]


# --------------------------------------------------------------------------- network


def test_unreachable_host_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    start = time.monotonic()
    rc = dd.main(["--url", UNREACHABLE, "--data-dir", str(data_dir), "-q", "--timeout", "5"])
    assert time.monotonic() - start < 10
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    assert "could not reach" in err and "127.0.0.1:9" in err
    assert "No data was written" in err
    assert "--archive" in err and "LINGO_DATA_DIR" in err
    assert "Traceback" not in err
    assert not data_dir.exists()


def test_unreachable_host_as_a_process(tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if k not in PROXY_VARS}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--url", UNREACHABLE, "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    assert "could not reach" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "d").exists()


class _Handler(BaseHTTPRequestHandler):
    """Serves .../GUE.zip, .../missing (404), .../html (an HTML page) and .../truncated, also
    under a hub's paths (/datasets/<repo>/resolve/main/<file>, with the hub's headers)."""

    payload = b""

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _answer(self, *, send_body: bool) -> None:
        body, ctype, length = self.payload, "application/zip", None
        name = self.path.rsplit("/", 1)[-1]
        if name == "missing":
            self.send_error(404)
            return
        if name == "html":
            body, ctype = b"<html><body>Sign in</body></html>", "text/html; charset=utf-8"
        elif name == "truncated":
            body, length = self.payload[: len(self.payload) // 2], len(self.payload)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length or len(body)))
        self.send_header("ETag", f'"{len(body)}"')
        self.send_header("X-Repo-Commit", "0" * 40)
        self.end_headers()
        if send_body:
            self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    _Handler.payload = make_gue_zip(tmp_path / "served.zip").read_bytes()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_falls_through_to_working_mirror(tmp_path: Path, server: str) -> None:
    data_dir = tmp_path / "data"
    argv = ["--data-dir", str(data_dir), "-q"]
    for path in ("/missing", "/html", "/truncated", "/GUE.zip"):
        argv += ["--url", server + path]
    assert dd.main(argv) == 0
    assert_gue_layout(data_dir / "GUE")
    assert leftovers(data_dir) == ["GUE"]  # downloaded zip removed, no .part files


def test_download_keep_archive(tmp_path: Path, server: str) -> None:
    data_dir = tmp_path / "data"
    argv = ["--url", server + "/GUE.zip", "--data-dir", str(data_dir), "--keep-archive", "-q"]
    assert dd.main(argv) == 0
    assert leftovers(data_dir) == ["GUE", "GUE.zip"]


def test_all_sources_fail_leaves_nothing(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    argv = ["--data-dir", str(data_dir), "-q"]
    for path in ("/missing", "/truncated"):
        argv += ["--url", server + path]
    assert dd.main(argv) == 2
    err = capsys.readouterr().err
    assert "could not download GUE from any source" in err
    assert "HTTP 404" in err and "incomplete" in err
    assert "--archive" in err
    assert leftovers(data_dir) == []


def hub_sources(monkeypatch: pytest.MonkeyPatch, *sources: tuple[str, dd.Source]) -> None:
    """GUE's sources for this test (its hub online, which the test environment is not)."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    spec = dd.DATASETS["gue"]
    monkeypatch.setitem(dd.DATASETS, "gue", dataclasses.replace(spec, sources=list(sources)))


def on_hub(server: str, *names: str) -> list[tuple[str, dd.Source]]:
    return [(name, dd.HubFile("leannmlindsey/GUE", name, endpoint=server)) for name in names]


def test_hub_source_downloads_with_huggingface_hub(
    tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    hub_sources(monkeypatch, *on_hub(server, "GUE.zip"))
    assert dd.main(["--data-dir", str(data_dir)]) == 0
    assert f"{server}/datasets/leannmlindsey/GUE/resolve/main/GUE.zip" in capsys.readouterr().err
    assert_gue_layout(data_dir / "GUE")
    assert leftovers(data_dir) == ["GUE"]  # the hub client's folder went with the download


def test_a_hub_source_that_fails_leaves_nothing(
    tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hub_sources(monkeypatch, *on_hub(server, "missing", "html"))
    assert dd.main(["--data-dir", str(tmp_path / "data"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "could not download GUE from any source" in err  # answered: not "could not reach"
    assert "missing (127.0.0.1" in err and "404" in err
    assert "html (127.0.0.1" in err and "not a zip archive" in err
    assert not (tmp_path / "data").exists()


def test_hub_offline_gives_the_offline_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hub_sources(monkeypatch, dd.SOURCES[0])
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert dd.main(["--data-dir", str(tmp_path / "data"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    assert "could not reach" in err and "huggingface.co: HF_HUB_OFFLINE=1" in err
    assert "--archive" in err and "Traceback" not in err
    assert not (tmp_path / "data").exists()


def test_drive_confirm_form_is_followed() -> None:
    page = (
        '<form id="download-form" action="https://drive.usercontent.google.com/download" '
        'method="get"><input type="hidden" name="id" value="abc">'
        '<input type="hidden" name="export" value="download">'
        '<input type="hidden" name="confirm" value="t">'
        '<input type="hidden" name="uuid" value="u-1"></form>'
    )
    url = dd._confirm_url(page, "https://drive.usercontent.google.com/download?id=abc", [])
    assert url == (
        "https://drive.usercontent.google.com/download?id=abc&export=download&confirm=t&uuid=u-1"
    )
    legacy = '<a href="/uc?export=download&amp;confirm=Xy_9&amp;id=abc">Download anyway</a>'
    url = dd._confirm_url(legacy, "https://docs.google.com/uc?export=download&id=abc", [])
    assert url == "https://docs.google.com/uc?export=download&id=abc&confirm=Xy_9"
    assert dd._confirm_url("<html>nothing</html>", "https://x/y", []) is None


def test_sources_and_datasets_are_editable_constants() -> None:
    hub, *urls = dd.SOURCES
    assert hub[1] == dd.HubFile("leannmlindsey/GUE", "GUE.zip")
    assert hub[1].url == "https://huggingface.co/datasets/leannmlindsey/GUE/resolve/main/GUE.zip"
    assert urls and all(isinstance(n, str) and u.startswith("https://") for n, u in urls)
    assert "gue" in dd.DATASETS
