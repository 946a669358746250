"""A hostile-input corpus built here (huge-dimension PNG, non-UTF-8 names, symlinks out, sidecar-name
clashes) through the one image reader, prepare's folder source, ingest and scan. Nothing here waits on
a clock: a bomb must be refused from its header, which the tests see as a refusal naming the budget."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganops.config.params import DataConfig
from ganops.data.dataset import load_source
from ganops.data.images import ImageRefused, read_for_model, read_image
from ganops.data.validate import check_image_batch
from pipeline.ingest import ingest_incoming

BAD_NAME = os.fsdecode(b"bad_\xff\xfe_name.png")  # not valid UTF-8: surrogate-escaped by the OS layer
REPO = Path(__file__).resolve().parents[2]


def png_bomb(path: Path, side: int = 13000) -> Path:
    """A valid grayscale PNG of side x side zero pixels: ~170 KB on disk, 169 megapixels decoded."""
    row = b"\x00" * (side + 1)  # filter byte + pixels
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    return png_bomb(tmp_path_factory.mktemp("bomb") / "bomb.png")


def small_png(path: Path, value: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (16, 16), value).save(path)
    return path


# --- the reader ---


def test_pixel_budget_is_checked_from_the_header(bomb, tmp_path):
    assert bomb.stat().st_size < 300_000
    with pytest.raises(ImageRefused, match=r"13000x13000 = 169.0 megapixels exceeds the pixel budget"):
        read_image(bomb)
    # a JPEG above the budget is decoded scaled down inside the decoder, then resized as usual
    Image.new("RGB", (5000, 5000), (200, 10, 10)).save(tmp_path / "big.jpg", quality=90)
    decoded = read_image(tmp_path / "big.jpg", "rgb", (28, 28), max_pixels=2_000_000)
    assert decoded.source_size == (5000, 5000) and decoded.pixels.shape == (3, 28, 28)
    assert abs(float(decoded.pixels[0].mean()) - 200 / 255) < 0.02


def test_root_confines_reads_with_one_refusal_for_outside_missing_and_unreadable(tmp_path):
    root, outside = tmp_path / "root", small_png(tmp_path / "outside.png")
    small_png(root / "ok.png")
    (root / "link.png").symlink_to(outside)
    os.mkfifo(root / "fifo.png")  # would block a plain open() forever
    assert read_for_model(root / "ok.png", (1, 16, 16), root=root).shape == (1, 16, 16)
    messages = set()
    for path in (
        outside,
        root / "link.png",
        root / ".." / "outside.png",
        root / "missing.png",
        root / "fifo.png",
    ):
        with pytest.raises(ImageRefused) as info:
            read_for_model(path, (1, 16, 16), root=root)
        messages.add(str(info.value).removeprefix(str(path)))
    assert messages == {": no readable image file there inside the allowed folder"}


def test_one_batch_validator_for_images_and_clips():
    clips = np.zeros((2, 5, 3, 8, 8), np.float32)  # (N, T, C, H, W)
    assert check_image_batch(clips, (3, 8, 8), "clips", leading_dims=None).shape == clips.shape
    assert check_image_batch(clips, (5, 3, 8, 8), "clips").shape == clips.shape
    assert check_image_batch(np.zeros((4, 8, 8)), (1, 8, 8)).shape == (4, 1, 8, 8)  # gray without C
    with pytest.raises(ValueError, match=r"clips: expected float array \(N, 3, 8, 8\) .* got \(2, 5, 1, 8, 8\)"):
        check_image_batch(np.zeros((2, 5, 1, 8, 8)), (3, 8, 8), "clips", leading_dims=None)
    with pytest.raises(ValueError, match=r"\(map tanh outputs with \(x \+ 1\) / 2\)"):
        check_image_batch(np.full((2, 3, 8, 8), -1.0), (3, 8, 8))


# --- prepare's folder source ---


def test_prepare_skips_links_out_bad_names_and_bombs_with_reasons(bomb, tmp_path):
    outside = tmp_path / "outside"
    small_png(outside / "secret.png")
    folder = tmp_path / "data"
    for name in ("a.png", "b.png"):
        small_png(folder / "cats" / name)
    small_png(folder / "cats" / BAD_NAME)
    os.symlink(bomb, folder / "cats" / "bomb.png")  # a link inside, to a file outside
    (folder / "cats" / "escape.png").symlink_to(outside / "secret.png")
    (folder / "dogs").symlink_to(outside, target_is_directory=True)  # a class folder outside
    loaded = load_source(DataConfig(source=f"folder:{folder}", image_size=16), tmp_path)
    reasons = {Path(s["path"]).name: s["reason"] for s in loaded.skipped}
    assert len(loaded.images) == 2 and loaded.class_names == ["cats"]
    assert "not valid UTF-8" in reasons["bad_\\xff\\xfe_name.png"]
    assert "symbolic link leading out" in reasons["escape.png"] and "symbolic link" in reasons["dogs"]
    assert "symbolic link leading out" in reasons["bomb.png"]
    small_png(folder / "cats" / "huge.png").unlink()
    png_bomb(folder / "cats" / "huge.png", side=3000)  # inside, but over a small budget
    loaded = load_source(DataConfig(source=f"folder:{folder}", image_size=16, max_pixels=1_000_000), tmp_path)
    assert "exceeds the pixel budget" in {Path(s["path"]).name: s["reason"] for s in loaded.skipped}["huge.png"]


# --- ingest ---


def _files(folder: Path) -> set[str]:
    return {os.fsdecode(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


def test_ingest_quarantines_hostile_names_links_and_bombs_and_never_overwrites(bomb, tmp_path):
    incoming, raw, quarantine = (
        tmp_path / "data/incoming",
        tmp_path / "data/raw",
        tmp_path / "data/quarantine",
    )
    small_png(incoming / "good.png")
    small_png(incoming / BAD_NAME, 50)
    (incoming / os.fsdecode(b"notes_\xff.txt")).write_bytes(b"not an image")
    outside = small_png(tmp_path / "elsewhere" / "outside.png", 7)
    (incoming / "link.png").symlink_to(outside)
    os.link(bomb, incoming / "bomb.png")
    (incoming / "notes.png").write_text("not an image")
    (incoming / "notes.png.reason.txt").write_text("my own notes, keep them\n")
    raw.mkdir(parents=True)
    small_png(raw / os.fsdecode(b"by_hand_\xfe.png"), 9)  # put into data/raw by hand: dvc add would fail

    result = ingest_incoming(tmp_path)

    assert [item["source"] for item in result.ingested] == ["data/incoming/good.png"]
    assert _files(raw) == {"good.png", ".ingested.json"}  # nothing undecodable, no link, no bomb
    reasons = {q["source"]: q["reason"] for q in result.quarantined}
    assert "not valid UTF-8" in reasons["data/incoming/bad_\\xff\\xfe_name.png"]
    assert "not valid UTF-8" in reasons["data/incoming/notes_\\xff.txt"]
    assert "found in data/raw" in reasons["data/raw/by_hand_\\xfe.png"]
    assert "symbolic link" in reasons["data/incoming/link.png"]
    assert "pixel budget" in reasons["data/incoming/bomb.png"]
    assert "own notes" in reasons["data/incoming/notes.png.reason.txt"]
    stored = _files(quarantine)
    for name in stored:
        name.encode("utf-8")  # every quarantined name is valid UTF-8
    assert "bad_%FF%FE_name.png" in stored and "bad_%FF%FE_name.png.reason.txt" in stored
    # the user's own notes kept their bytes, under a name that is not one of our sidecars
    assert (quarantine / "notes.png.reason-user.txt").read_text() == "my own notes, keep them\n"
    assert (quarantine / "notes.png.reason.txt").read_text().startswith("data/incoming/notes.png: not an")
    assert (quarantine / "link.png").is_symlink() and outside.read_bytes()  # the link moved, not its target
    assert _files(incoming) == set()  # nothing lost: every file is in raw or quarantine

    # a second arrival with the same names never overwrites what quarantine holds
    (incoming / "notes.png").write_text("second")
    before = {name: (quarantine / name).read_bytes() for name in stored if not (quarantine / name).is_symlink()}
    second = ingest_incoming(tmp_path)
    assert all((quarantine / name).read_bytes() == data for name, data in before.items())
    [moved] = second.quarantined
    assert moved["dest"] != "data/quarantine/notes.png" and (tmp_path / moved["dest"]).read_text() == "second"


def test_a_translation_domain_names_its_own_folders_in_ingest_errors(tmp_path):
    """The translation routes (data/incoming_translation/{A,B} -> data/raw_translation/{A,B}) name their own
    folders, not the image family's data/raw, in quarantine reasons and repair hints."""
    from pipeline.ingest import ROUTES

    route = next(r for r in ROUTES if r.raw == "data/raw_translation/A")
    raw = tmp_path / route.raw
    raw.mkdir(parents=True)
    small_png(raw / os.fsdecode(b"by_hand_\xfe.png"), 9)
    (tmp_path / route.incoming).mkdir(parents=True)
    result = ingest_incoming(tmp_path, route.incoming, route.raw, route.quarantine, dvc_folder=route.dvc_folder)
    [found] = result.quarantined
    assert found["reason"].startswith("found in data/raw_translation/A: ")
    assert found["dest"].startswith(route.quarantine)
    (raw / ".ingested.json").write_text("{not json")
    hint = r"raw_translation/A/\.ingested\.json: not valid JSON.*dvc checkout data/raw_translation`"
    with pytest.raises(ValueError, match=hint):
        ingest_incoming(tmp_path, route.incoming, route.raw, route.quarantine, dvc_folder=route.dvc_folder)


# --- scan ---


def test_scan_reports_hostile_files_as_error_rows(bomb, tmp_path):
    from ganops.detection.scan import ERROR, scan_paths, write_scan_csv

    class Constant:  # a stand-in detector: scan's contract is about rows, not scores
        threshold, image_shape, name = 0.5, (1, 16, 16), "constant"

        def score(self, images):
            return np.full(len(images), 0.25)

    small_png(tmp_path / "in" / "ok.png")
    small_png(tmp_path / "in" / BAD_NAME)
    os.link(bomb, tmp_path / "in" / "bomb.png")
    rows = scan_paths([tmp_path / "in"], Constant(), progress=False)
    by_name = {Path(row["path"]).name: row for row in rows}
    assert by_name["ok.png"]["p_fake"] == 0.25
    assert by_name["bad_\\xff\\xfe_name.png"]["verdict"] == ERROR
    assert "not valid UTF-8" in by_name["bad_\\xff\\xfe_name.png"]["error"]
    assert by_name["bomb.png"]["verdict"] == ERROR and "pixel budget" in by_name["bomb.png"]["error"]
    write_scan_csv(rows, tmp_path / "scan.csv")  # every row is writable as UTF-8
    assert "bad_\\xff\\xfe_name.png" in (tmp_path / "scan.csv").read_text()


# --- config: checked before any data is read ---


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ({"arch": "vit"}, "gan.variants.dcgan.arch: unknown architecture 'vit'"),
        ({"loss": "bce"}, "gan.variants.dcgan.loss: unknown loss 'bce'"),
        ({"lr": 1e6}, "gan.variants.dcgan.lr_g: Input should be less than or equal to 1"),
        ({"lr_g": float("inf")}, "gan.variants.dcgan.lr_g: Input should be a finite number"),
        ({"batch_size": 4000}, "batch_size: 4000 is larger than the at most 3000 gan_train images"),
    ],
)
def test_bad_config_exits_2_before_any_data_is_read(tmp_path, variant, expected):
    """No data/prepared exists here: reading any data would fail with exit 1, so exit 2 with the
    config message proves the check ran before loading."""
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    dcgan = params["gan"]["variants"]["dcgan"]
    if "lr" in variant:  # the shorthand stands in for the two rates the defaults set
        dcgan.pop("lr_g", None)
        dcgan.pop("lr_d", None)
    dcgan.update(variant)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run(
        [sys.executable, "-m", "ganops.cli.main", "train-gan", "dcgan"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_yaml_errors_name_line_and_column(tmp_path):
    from ganops.config.params import ConfigError, load_params

    (tmp_path / "params.yaml").write_text("data:\n  source: mnist\n   image_size: 28\n")
    with pytest.raises(ConfigError, match=r"params.yaml:3:14: not valid YAML: mapping values are not allowed"):
        load_params(tmp_path / "params.yaml")
