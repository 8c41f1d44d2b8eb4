"""Experiment-file and manifest validation: every bad input gives one clear error."""

import pytest

from uedflow.config import experiment_to_toml, load_experiment
from uedflow.errors import ConfigError, FileFormatError
from uedflow.io import read_manifest, write_manifest


def _write(tmp_path, text, frames=("a.npy",)):
    for f in frames:
        (tmp_path / f).write_bytes(b"x")
    write_manifest(tmp_path / "frames.csv", [{"file": f, "scan": 0, "delay_ps": float(i)} for i, f in enumerate(frames)])
    p = tmp_path / "exp.toml"
    p.write_text(text)
    return p


def test_roundtrip(tmp_path):
    p = _write(tmp_path, '[experiment]\nmanifest = "frames.csv"\n[beam]\nenergy_keV = 50\n[sample]\nmaterial = "PbSe"\ntemperature_K = 90\n')
    exp = load_experiment(p)
    assert exp.beam.energy_keV == 50.0 and exp.sample.temperature_K == 90.0
    assert exp.manifest == (tmp_path / "frames.csv").resolve()
    p2 = tmp_path / "again.toml"
    p2.write_text(experiment_to_toml(exp.to_dict()))
    assert load_experiment(p2).to_dict() == exp.to_dict()


def test_typo_suggests_nearest_key(tmp_path):
    p = _write(tmp_path, '[experiment]\nmanifest = "frames.csv"\n[detector]\ncamera_lenght_m = 0.5\n')
    with pytest.raises(ConfigError, match="did you mean 'camera_length_m'"):
        load_experiment(p)


def test_typo_in_section(tmp_path):
    p = _write(tmp_path, '[experiment]\nmanifest = "frames.csv"\n[sampel]\nmaterial = "PbSe"\n')
    with pytest.raises(ConfigError, match=r"did you mean \[sample\]"):
        load_experiment(p)


def test_wrong_type_and_negative(tmp_path):
    p = _write(tmp_path, '[experiment]\nmanifest = "frames.csv"\n[beam]\nenergy_keV = "fifty"\n')
    with pytest.raises(ConfigError, match="wrong type"):
        load_experiment(p)
    p = _write(tmp_path, '[experiment]\nmanifest = "frames.csv"\n[beam]\nenergy_keV = -1\n')
    with pytest.raises(ConfigError, match="positive"):
        load_experiment(p)


def test_bad_toml_and_missing(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text("[experiment\n")
    with pytest.raises(FileFormatError, match="not valid TOML"):
        load_experiment(p)
    with pytest.raises(FileFormatError, match="does not exist"):
        load_experiment(tmp_path / "nope.toml")


def test_manifest_errors(tmp_path):
    (tmp_path / "a.npy").write_bytes(b"x")
    m = tmp_path / "m.csv"
    m.write_text("file,scan,delay_ps\na.npy,0,1.0\na.npy,0,1.0\n")
    with pytest.raises(ConfigError, match="line 3: duplicate scan 0"):
        read_manifest(m)
    m.write_text("file,scan,delay_ps\nmissing.npy,0,1.0\n")
    with pytest.raises(ConfigError, match="line 2: frame file 'missing.npy' does not exist"):
        read_manifest(m)
    m.write_text("file,scan,delay\na.npy,0,1\n")
    with pytest.raises(ConfigError, match=r"delay_ps \(found delay\)"):
        read_manifest(m)
    m.write_text("file,scan,delay_ps\na.npy,zero,1\n")
    with pytest.raises(ConfigError, match="line 2"):
        read_manifest(m)
