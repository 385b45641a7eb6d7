"""Downloading published files (extract.downloads) against a loopback HTTP server: progress, hash checks
(md5, sha256, git blob id), refused mismatches leave nothing behind, and offline says where to put the file."""
from __future__ import annotations

import hashlib
import http.server
import socket
import threading

import pytest

from soccerspot.errors import DataError
from soccerspot.extract.downloads import download, ensure_file, file_digest
from soccerspot.extract.recipes import RESNET_TF2, recipe_weights
from soccerspot.models.backbones.keras_resnet import KERAS_IMAGENET, WeightsFile
from soccerspot.pipeline.inference.released_models import RELEASED, resolve_model

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = PAYLOAD
        length = len(body)
        if self.path == "/truncated":
            length = len(body) + 1000  # promises more than it sends
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


def test_download_checks_every_published_hash_and_shows_progress(tmp_path, server, capsys):
    dest = tmp_path / "cache" / "file.h5"
    download(f"{server}/file", dest, md5=hashlib.md5(PAYLOAD).hexdigest(), sha256=hashlib.sha256(PAYLOAD).hexdigest(),
             git_sha1=git_blob_id(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD and list(dest.parent.iterdir()) == [dest]
    assert "downloading file.h5" in capsys.readouterr().err
    assert file_digest(dest, "git blob sha1") == git_blob_id(PAYLOAD)


@pytest.mark.parametrize("kind", ["md5", "sha256", "git_sha1"])
def test_hash_mismatch_is_refused_and_the_partial_file_removed(tmp_path, server, kind):
    dest = tmp_path / "file.h5"
    with pytest.raises(DataError) as error:
        download(f"{server}/file", dest, progress=False, **{kind: "0" * (32 if kind == "md5" else 64 if kind == "sha256" else 40)})
    assert "refused" in error.value.reason and "partial file was removed" in error.value.reason
    assert list(tmp_path.iterdir()) == []


def test_a_cut_transfer_is_refused_and_removed(tmp_path, server):
    with pytest.raises(DataError) as error:
        download(f"{server}/truncated", tmp_path / "file.h5", progress=False)
    assert "transfer stopped" in error.value.reason or "cannot download" in error.value.reason
    assert list(tmp_path.iterdir()) == []


def test_offline_names_the_url_and_where_to_put_the_file(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/resnet152_weights_tf_dim_ordering_tf_kernels.h5"
    dest = tmp_path / "weights" / "resnet152_weights_tf_dim_ordering_tf_kernels.h5"
    with pytest.raises(DataError) as error:
        download(url, dest, progress=False, timeout=5)
    message = str(error.value)
    assert "\n" not in message and url in message and f"put it at {dest}" in message
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()


def test_recipe_weights_come_from_the_cache_or_are_downloaded_into_it(tmp_path, server, monkeypatch):
    monkeypatch.setenv("SOCCERSPOT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(DataError) as error:  # not cached, downloads not allowed: where to get it, where to put it
        recipe_weights(RESNET_TF2, download=False)
    assert KERAS_IMAGENET.url in str(error.value) and str(tmp_path / "cache" / "weights") in str(error.value)
    spec = WeightsFile("served.h5", f"{server}/file", md5=hashlib.md5(PAYLOAD).hexdigest())
    path = ensure_file(spec, progress=False)
    assert path == tmp_path / "cache" / "weights" / "served.h5" and path.read_bytes() == PAYLOAD
    assert ensure_file(WeightsFile("served.h5", f"http://127.0.0.1:{closed_port()}/x")) == path  # cached: no network
    keras_copy = tmp_path / "keras" / "models" / KERAS_IMAGENET.filename  # Keras's own cache is used too
    keras_copy.parent.mkdir(parents=True)
    keras_copy.write_bytes(b"x")
    assert recipe_weights(RESNET_TF2, download=False) == keras_copy


def test_released_model_not_here_says_where_to_get_and_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SOCCERSPOT_CACHE", str(tmp_path))
    with pytest.raises(DataError) as error:
        resolve_model("MAXPOOL_v2", download=False)
    entry = RELEASED["MAXPOOL_v2"]
    message = str(error.value)
    assert entry.head.url in message and entry.log.url in message and str(tmp_path / "models" / "MAXPOOL_v2") in message
    assert resolve_model("not-a-released-name") == "not-a-released-name"


def test_released_files_match_the_local_copies_of_the_published_heads(soccernet_data):
    """The registry's git blob ids are those of the sn-spotting files the shared data holds."""
    for name in ("MAXPOOL_v2", "NETVLAD_v1"):
        entry = RELEASED[name]
        folder = soccernet_data / "checkpoints" / name
        assert file_digest(folder / "model.pth.tar", "git blob sha1") == entry.head.git_sha1
        assert file_digest(folder / "training.log", "git blob sha1") == entry.log.git_sha1


def test_keras_imagenet_weights_offline_say_where_to_put_the_file(tmp_path, monkeypatch):
    from soccerspot.models.backbones import BackboneWeightsError, backbone_entry
    from soccerspot.models.backbones.registry import _PRETRAINED_LOADERS
    from soccerspot.models.backbones.keras_resnet import CAFFE_MEANS

    monkeypatch.setenv("SOCCERSPOT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(BackboneWeightsError) as error:
        _PRETRAINED_LOADERS["keras"]("keras_resnet152", "KERAS_IMAGENET")  # what weights="imagenet" calls
    assert KERAS_IMAGENET.url in str(error.value) and str(tmp_path / "cache" / "weights" / KERAS_IMAGENET.filename) in str(error.value)
    entry = backbone_entry("keras_resnet152")  # caffe: 0..255 pixels minus the BGR means, no scaling
    assert [round(m * 255, 3) for m in entry.mean] == list(CAFFE_MEANS) and all(abs(s * 255 - 1) < 1e-12 for s in entry.std)


def test_unknown_recipe_is_a_usage_error(tmp_path, capsys):
    from soccerspot.pipeline.cli import main

    assert main(["extract", str(tmp_path), "--out", str(tmp_path / "o"), "--features", "ResNET_TF3"]) == 2
    assert "--features ResNET_TF3" in capsys.readouterr().err


def test_soccernets_own_feature_files_are_not_overwritten(tmp_path):
    """1_ResNET_TF2.npy without a sidecar is SoccerNet's downloaded file, not an interrupted run: refused."""
    import numpy as np

    from soccerspot.extract.extractor import Extractor
    from soccerspot.extract.recipes import RESNET_TF2, recipe_config
    from soccerspot.models.backbones import create_backbone

    from video_helpers import constant_rate_times, write_video

    video = write_video(tmp_path / "1_224p.mp4", constant_rate_times(25, 1.0), width=398, height=224)
    game = tmp_path / "game"
    game.mkdir()
    official = np.ones((2, 2048), dtype=np.float32)
    np.save(game / "1_ResNET_TF2.npy", official)
    config = recipe_config(RESNET_TF2, weights_file="none", device="cpu", precision="fp32", progress=False)
    extractor = Extractor(config, backbone=create_backbone("resnet18", weights="none"))  # never runs: refused first
    with pytest.raises(DataError, match="not overwritten"):
        extractor.extract(video, game, 1)
    np.testing.assert_array_equal(np.load(game / "1_ResNET_TF2.npy"), official)
