"""Downloads against a local HTTP server: verified archives land in the cache, anything else
(bad checksum, a transfer cut short, an archive member escaping its folder) leaves nothing."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile

import pytest

from langmodels import datasets
from langmodels.datasets.catalog import CORPORA, CorpusSpec
from langmodels.datasets.download import Resource
from langmodels.errors import DownloadError

SPLIT_TEXT = {"train": "a b a c\nb a\n", "valid": "a c\n", "test": "c b d\n"}


def _zip(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buf.getvalue()


def _tgz(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class _Server:
    """Serves `files` (path -> bytes); paths listed in `cut` send half the body, then hang up."""

    def __init__(self):
        self.files, self.cut, self.requests = {}, set(), []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if self.path in outer.cut else body)
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("LANGMODELS_HOME", str(root))
    return root


def _register(monkeypatch, server, path, body, *, sha=None, archive=True, files=None):
    server.files[path] = body
    sha = sha or hashlib.sha256(body).hexdigest()
    name = path.rsplit("/", 1)[-1]
    res = Resource(server.url + path, sha, name, extract_to="x" if archive else None)
    files = files or {s: f"x/toy/{s}.txt" for s in SPLIT_TEXT}
    monkeypatch.setitem(CORPORA, "toy", CorpusSpec("toy", "test corpus", resources=(res,), files=files))


def _files_under(root):
    found = root.rglob("*") if root.exists() else []
    return sorted(p.relative_to(root).as_posix() for p in found if p.is_file())


@pytest.mark.parametrize("pack, ext", [(_zip, "zip"), (_tgz, "tar.gz")])
def test_good_archive_is_verified_extracted_and_loaded(server, cache, monkeypatch, pack, ext):
    _register(monkeypatch, server, f"/toy.{ext}", pack({f"toy/{s}.txt": t for s, t in SPLIT_TEXT.items()}))
    ds = datasets.load("toy", progress=False)
    assert ds.train.vocab.tokens == ["<unk>", "<s>", "</s>", "a", "b", "c"]  # a:3, b:2, c:1
    assert ds.test.n_oov == 1 and ds.test.vocab is ds.train.vocab  # "d" is not in train
    extracted = [f"toy/x/toy/{s}.txt" for s in ("test", "train", "valid")]
    assert _files_under(cache) == [f"toy/toy.{ext}"] + extracted
    datasets.load("toy")  # the cached copy is used: no second request
    assert server.requests == [f"/toy.{ext}"]


def test_download_returns_the_dataset_directory(server, cache, monkeypatch):
    _register(monkeypatch, server, "/toy.zip", _zip({f"toy/{s}.txt": t for s, t in SPLIT_TEXT.items()}))
    other = cache.parent / "elsewhere"
    assert datasets.download("toy", cache_dir=other, progress=False) == other / "toy"
    assert (other / "toy" / "x" / "toy" / "train.txt").read_text() == SPLIT_TEXT["train"]


def test_bad_checksum_raises_and_leaves_nothing(server, cache, monkeypatch):
    _register(monkeypatch, server, "/toy.zip", _zip({"toy/train.txt": "a\n"}), sha="0" * 64)
    with pytest.raises(DownloadError, match="SHA-256"):
        datasets.load("toy", progress=False)
    assert _files_under(cache) == []


def test_interrupted_transfer_raises_and_leaves_no_partial_file(server, cache, monkeypatch):
    body = ("hello world\n" * 5000).encode()
    _register(monkeypatch, server, "/train.txt", body, archive=False, files={"train": "train.txt"})
    server.cut.add("/train.txt")
    with pytest.raises(DownloadError, match="closed after"):
        datasets.load("toy", splits=("train",), progress=False)
    assert _files_under(cache) == []
    server.cut.clear()  # the next attempt starts afresh and succeeds
    assert len(datasets.load("toy", splits=("train",), progress=False).train) == 5000


def test_unreachable_server_is_a_download_error(cache, monkeypatch, server):
    _register(monkeypatch, server, "/toy.zip", b"")
    del server.files["/toy.zip"]  # 404
    with pytest.raises(DownloadError, match="download failed"):
        datasets.load("toy", progress=False)
    assert _files_under(cache) == []


@pytest.mark.parametrize("pack, ext", [(_zip, "zip"), (_tgz, "tgz")])
def test_archive_member_escaping_its_folder_is_refused(server, cache, monkeypatch, tmp_path, pack, ext):
    _register(monkeypatch, server, f"/evil.{ext}", pack({"toy/train.txt": "a\n", "../../evil.txt": "x\n"}))
    with pytest.raises(DownloadError, match="outside"):
        datasets.load("toy", progress=False)
    assert not list(tmp_path.rglob("evil.txt"))
    assert not (cache / "toy" / "x").exists()


def test_no_download_when_not_allowed(server, cache, monkeypatch):
    _register(monkeypatch, server, "/toy.zip", _zip({"toy/train.txt": "a\n"}))
    with pytest.raises(DownloadError, match="not in the cache"):
        datasets.load("toy", download=False)
    assert server.requests == []
