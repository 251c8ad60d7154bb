"""The model file: one versioned file with the configuration and both datapaths' weights.

Format (version 2)
------------------
A NumPy ``.npz`` archive (a zip of ``.npy`` arrays, readable without pickle) holding:

``header``
    A JSON string: ``{"format": "patchinr-model", "version": 2, "config": {...},
    "meta": {...}}``. ``config`` is :meth:`model.config.PatchINRConfig.to_dict`; ``meta`` records how the
    model was made (image or video, size, frames, steps, PSNR, ...) and is informational.
``fp32/w{i}``, ``fp32/b{i}``
    float32 weights ``[out, in]`` and biases ``[out]`` of linear map ``i`` (0 = first
    sine layer, last = output layer), as in :class:`model.network.PatchINR`: the sine
    layers compute ``sin(omega0 * (W x + b))``.
``int8/w{i}``, ``int8/b{i}``, ``int8/m{i}``, ``int8/s{i}``, ``int8/lut``
    The integer datapath of :mod:`model.quant`: int8 weights (int16 for layer 0, which
    holds ``first_weight_bits``), int32 biases, requantization multipliers and shifts
    (int32), and the int8 sine table.

:func:`load` checks the format name, the version, the configuration and every array's
presence, dtype and shape, and raises :class:`ModelFileError` (a :class:`UserError`) that
names what is wrong. Version 1 (before video models) is read too: its configuration has no
``coords`` and is an image model (``coords = 2``); everything else is the same.
"""

import io
import json
import os
import zipfile

import numpy as np

from .config import PatchINRConfig
from .quant import QuantLayer, QuantModel
from .support.errors import UserError

__all__ = ["FORMAT", "VERSION", "READABLE_VERSIONS", "ModelFile", "ModelFileError", "save", "load"]

#: The ``format`` key of a model file's header.
FORMAT = "patchinr-model"
#: The format version :func:`save` writes.
VERSION = 2
#: Versions :func:`load` reads: 1 is version 2 without the ``coords`` key (image models).
READABLE_VERSIONS = (1, 2)


class ModelFileError(UserError):
    """A model file that is missing, corrupt, of another version, or inconsistent."""


class ModelFile:
    """Contents of a model file.

    Attributes
    ----------
    config : PatchINRConfig
    fp32 : list of (numpy.ndarray, numpy.ndarray)
        float32 ``(W, b)`` per linear map.
    quant : QuantModel
    meta : dict
    """

    def __init__(self, *, config, fp32, quant, meta=None):
        self.config = config
        self.fp32 = fp32
        self.quant = quant
        self.meta = dict(meta or {})

    def torch_model(self):
        """A :class:`model.network.PatchINR` with the file's float32 weights."""
        from .network import PatchINR
        return PatchINR(self.config).load_arrays(self.fp32).eval()


def save(path, *, config, fp32, quant, meta=None):
    """Write a model file (format version :data:`model.export.VERSION`) to ``path``, atomically
    (:mod:`model.support.files`): a failed write leaves an existing file as it was."""
    from .support.files import write_bytes
    write_bytes(path, to_bytes(config=config, fp32=fp32, quant=quant, meta=meta))


def to_bytes(*, config, fp32, quant, meta=None):
    """The model file's contents (what :func:`save` writes)."""
    header = {"format": FORMAT, "version": VERSION, "config": config.to_dict(),
              "meta": meta or {}}
    arrays = {"header": np.array(json.dumps(header, sort_keys=True))}
    for i, (w, b) in enumerate(fp32):
        arrays[f"fp32/w{i}"] = np.asarray(w, dtype=np.float32)
        arrays[f"fp32/b{i}"] = np.asarray(b, dtype=np.float32)
    for i, layer in enumerate(quant.layers):
        arrays[f"int8/w{i}"] = layer.w.astype(np.int16 if i == 0 else np.int8)
        arrays[f"int8/b{i}"] = layer.b.astype(np.int32)
        arrays[f"int8/m{i}"] = layer.m.astype(np.int32)
        arrays[f"int8/s{i}"] = layer.s.astype(np.int32)
    arrays["int8/lut"] = quant.lut.astype(np.int8)
    # numpy's own savez stamps each member with the time of writing; a fixed stamp makes
    # the same model the same bytes (a resumed training run's file equals an uninterrupted
    # one's). np.load reads this as it reads savez_compressed's output.
    f = io.BytesIO()
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with z.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return f.getvalue()


def _array(z, key, dtype, shape, path):
    if key not in z:
        raise ModelFileError(f"{path}: array {key!r} is missing")
    a = z[key]
    if a.dtype != dtype:
        raise ModelFileError(f"{path}: array {key!r} has dtype {a.dtype}, expected {np.dtype(dtype)}")
    if a.shape != tuple(shape):
        raise ModelFileError(f"{path}: array {key!r} has shape {a.shape}, "
                             f"but the configuration needs {tuple(shape)}")
    return a


def load(path) -> ModelFile:
    """Read and validate a model file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"model file {path!r} does not exist")
    if os.path.isdir(path):
        raise ModelFileError(f"model file {path!r} is a directory")
    try:
        with open(path, "rb") as f:
            blob = f.read()
        z = np.load(io.BytesIO(blob), allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError("not an archive")
        files = set(z.files)
        header_raw = str(z["header"][()]) if "header" in files else None
    # Decoding untrusted bytes fails in many ways besides these (zlib.error, numpy's header
    # parser, unsupported zip methods): every one of them means a corrupt file.
    except Exception as exc:
        raise ModelFileError(f"{path}: not a PatchINR model file (corrupt or another format: "
                             f"{type(exc).__name__})") from None
    if header_raw is None:
        raise ModelFileError(f"{path}: not a PatchINR model file (no header)")
    try:
        header = json.loads(header_raw)
    except json.JSONDecodeError:
        raise ModelFileError(f"{path}: corrupt header (not JSON)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a PatchINR model file (format "
                             f"{header.get('format') if isinstance(header, dict) else None!r})")
    version = header.get("version")
    if (not isinstance(version, int) or isinstance(version, bool)
            or version not in READABLE_VERSIONS):
        raise ModelFileError(f"{path}: model file version {header.get('version')!r} is not "
                             f"supported (this package reads versions "
                             f"{', '.join(map(str, READABLE_VERSIONS))})")
    meta = header.get("meta")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: header meta must be a JSON object, not {type(meta).__name__}")
    raw_config = header.get("config")
    if version == 1 and isinstance(raw_config, dict) and "coords" in raw_config:
        raise ModelFileError(f"{path}: a version 1 model file has no 'coords' (image models "
                             f"only)")
    try:
        config = PatchINRConfig.from_dict(raw_config)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid configuration: {exc}") from None

    with z:
        try:
            fp32, layers = [], []
            shapes = config.layer_shapes
            for i, (o, k) in enumerate(shapes):
                fp32.append((_array(z, f"fp32/w{i}", np.float32, (o, k), path),
                             _array(z, f"fp32/b{i}", np.float32, (o,), path)))
                layers.append(QuantLayer(
                    w=_array(z, f"int8/w{i}", np.int16 if i == 0 else np.int8, (o, k), path),
                    b=_array(z, f"int8/b{i}", np.int32, (o,), path),
                    m=_array(z, f"int8/m{i}", np.int32, (o,), path),
                    s=_array(z, f"int8/s{i}", np.int32, (o,), path),
                    kind="out" if i == len(shapes) - 1 else "sine"))
            lut = _array(z, "int8/lut", np.int8, (1 << config.quant.phase_bits,), path)
            extra = files - {"header", "int8/lut"} - {
                f"{p}/{a}{i}" for i in range(len(shapes)) for p, a in
                (("fp32", "w"), ("fp32", "b"), ("int8", "w"), ("int8", "b"), ("int8", "m"), ("int8", "s"))}
            if extra:
                raise ModelFileError(f"{path}: arrays the configuration does not have: "
                                     f"{', '.join(sorted(extra))}")
        except ModelFileError:
            raise
        except Exception as exc:        # as above: array data that does not decode
            raise ModelFileError(f"{path}: corrupt array data ({exc})") from None
    quant = QuantModel(config=config, layers=layers, lut=lut)
    try:
        quant.check()
    except ValueError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    for i, (w, b) in enumerate(fp32):
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise ModelFileError(f"{path}: float weights of layer {i} are not finite")
    return ModelFile(config=config, fp32=fp32, quant=quant, meta=meta)
