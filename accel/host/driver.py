"""Host driver of a PatchINR core: load a model, render frames, answer queries.

The driver speaks the core's interface (``docs/interface.md``: the register map of
:data:`accel.host.registers.REGISTERS`, the weight-stream packets, the coordinate and pixel
beats) over any :class:`~accel.host.transport.Transport`. What the build contains it reads
from the core itself (ID, HWINFO, PATCH, MAX_WIDTH, ...), so one driver serves every build::

    from accel.flows.verilator import build_model
    from accel.host.driver import PatchINRDriver

    with build_model(config).open() as link:           # or a transport to a board
        core = PatchINRDriver(link)
        core.load_weights("runs/camera.npz")
        frame = core.render(256, 256, "int8")           # uint8 [256, 256, C]
        patches = core.query([[0.0, 0.0], [0.5, -0.25]])  # uint8 [2, n, n, C]
        print(core.cycles, core.status())

A video build (LAYERS.COORDS = 3) renders clips, ``core.render_clip(128, 128,
clip_frames=16)`` (uint8 ``[16, 128, 128, C]``), and takes ``(x, y, t)`` queries.

``python -m accel.sim --backend verilator`` renders through this driver.
"""

from dataclasses import dataclass

import numpy as np

from model.support.errors import UserError

from .errors import ErrorCode
from .registers import ID_VALUE, MAP_VERSION, REGISTERS
from .transport import TransportTimeout, pack_beats, unpack_beats

__all__ = ["PatchINRDriver", "HardwareInfo", "Status", "DeviceError", "ProtocolError",
           "DeviceTimeout"]

_PRECISIONS = ("int8", "fp32")


class DeviceError(RuntimeError):
    """The core reported an error (STATUS.ERROR); ``code`` is the :class:`ErrorCode`."""

    def __init__(self, status):
        self.status, self.code = status, status.code
        super().__init__(f"the core reported error {status.code} ({status.code_name}): "
                         f"{status.message}")


class ProtocolError(RuntimeError):
    """The core broke its interface: wrong identification, pixel framing or counts."""


class DeviceTimeout(TransportTimeout):
    """A job did not finish within its cycle budget."""


@dataclass(frozen=True)
class Status:
    """STATUS decoded."""
    word: int
    busy: bool
    done: bool
    error: bool
    code: int

    @classmethod
    def decode(cls, word):
        r = REGISTERS["STATUS"]
        error = bool(r.field("ERROR").extract(word))
        return cls(word=int(word), busy=bool(r.field("BUSY").extract(word)),
                   done=bool(r.field("DONE").extract(word)), error=error,
                   code=r.field("ERROR_CODE").extract(word) if error else 0)

    @property
    def code_name(self):
        try:
            return ErrorCode(self.code).name
        except ValueError:
            return "UNKNOWN"

    @property
    def message(self):
        """One line saying what the code means."""
        return ErrorCode.describe(self.code)

    def __str__(self):
        state = "busy" if self.busy else "done" if self.done else "idle"
        return state + (f", error {self.code} ({self.code_name}: {self.message})"
                        if self.error else "")


@dataclass(frozen=True)
class HardwareInfo:
    """What a build contains, as its read-only registers report it."""
    rows: int
    cols: int
    int8: bool
    fp32: bool
    channels: int
    version: int
    patch: int
    max_width: int
    max_height: int
    batch: int
    layers: int
    hidden: int
    coords: int
    #: Pixels per ``m_axis_pix`` beat (HWINFO.PIXELS_PER_BEAT_LOG2); a transport hands the
    #: driver a beat's pixels one by one (:meth:`~accel.host.transport.Transport.receive`).
    pixels_per_beat: int = 1

    @classmethod
    def read(cls, transport):
        def reg(name):
            return transport.read(REGISTERS[name].offset)

        ident = reg("ID")
        if ident != ID_VALUE:
            raise ProtocolError(f"no PatchINR core here: ID reads 0x{ident:08x}, not "
                                f"0x{ID_VALUE:08x}")
        hw, layers = reg("HWINFO"), reg("LAYERS")
        f = REGISTERS["HWINFO"].field
        g = REGISTERS["LAYERS"].field
        info = cls(rows=f("ROWS").extract(hw), cols=f("COLS").extract(hw),
                   int8=bool(f("INT8").extract(hw)), fp32=bool(f("FP32").extract(hw)),
                   channels=f("CHANNELS").extract(hw), version=f("VERSION").extract(hw),
                   pixels_per_beat=1 << f("PIXELS_PER_BEAT_LOG2").extract(hw),
                   patch=reg("PATCH"), max_width=reg("MAX_WIDTH"),
                   max_height=reg("MAX_HEIGHT"), batch=reg("BATCH"),
                   layers=g("SINE_LAYERS").extract(layers), hidden=g("HIDDEN").extract(layers),
                   coords=g("COORDS").extract(layers))
        if info.version != MAP_VERSION:
            raise ProtocolError(f"the core's register map is version {info.version}; this "
                                f"driver speaks version {MAP_VERSION}")
        return info

    @property
    def precision(self):
        """``"int8"``, ``"fp32"`` or ``"dual"``."""
        return "dual" if self.int8 and self.fp32 else "int8" if self.int8 else "fp32"

    def config(self, model):
        """The :class:`~accel.config.AccelConfig` of this build for network ``model``
        (a :class:`~model.config.PatchINRConfig`); :class:`UserError` if the build was
        made for another network."""
        from ..config import AccelConfig
        mismatch = [f"{what} {have} (model {want})" for what, have, want in (
            ("patch", self.patch, model.patch), ("channels", self.channels, model.channels),
            ("sine layers", self.layers, model.layers),
            ("hidden width", self.hidden, model.hidden),
            ("coordinates per query", self.coords, model.coords))
            if have != want]
        if mismatch:
            raise UserError("the model file's network differs from the one the build was made "
                            "for: the core has " + ", ".join(mismatch))
        return AccelConfig(model=model, rows=self.rows, cols=self.cols, batch=self.batch,
                           precision=self.precision, max_width=self.max_width,
                           max_height=self.max_height, pixels_per_beat=self.pixels_per_beat)


def _model_file(model_file):
    """A :class:`~model.export.ModelFile`, loaded when given as a path."""
    import os

    from model import export
    if isinstance(model_file, export.ModelFile):
        return model_file
    if not isinstance(model_file, (str, os.PathLike)):
        raise UserError(f"a model must be a model file's path or a loaded ModelFile, not "
                        f"{type(model_file).__name__}")
    return export.load(model_file)


def _budget(max_cycles):
    """A job's cycle budget must be a positive integer (or None: the default)."""
    if max_cycles is not None:
        from model.support.validate import positive_int
        positive_int("max_cycles", max_cycles)


class PatchINRDriver:
    """Drives one core over ``transport``.

    Parameters
    ----------
    transport : Transport
        The link; its register and stream access is all the driver uses.

    Attributes
    ----------
    info : HardwareInfo
        Read from the core when the driver is made (ID and register-map version checked).
    model : ModelFile or None
        The model last loaded by :meth:`load_weights`.
    """

    #: STATUS polls after the last pixel before the driver calls the core hung.
    POLLS = 1000

    def __init__(self, transport):
        self.transport = transport
        self.info = HardwareInfo.read(transport)
        self.model = None

    # -- registers --------------------------------------------------------------------------

    def _read(self, name):
        return self.transport.read(REGISTERS[name].offset)

    def _write(self, name, value):
        self.transport.write(REGISTERS[name].offset, value)

    def status(self):
        """STATUS, decoded (:class:`Status`)."""
        return Status.decode(self._read("STATUS"))

    @property
    def cycles(self):
        """CYCLES: clock cycles of the current or last job, START to its last pixel."""
        return self._read("CYCLES")

    def counters(self):
        """``{"cycles", "queries", "pixels"}`` of the current or last job."""
        return {k.lower(): self._read(k) for k in ("CYCLES", "QUERIES", "PIXELS")}

    def clear(self):
        """CTRL.CLEAR: drop DONE and ERROR (and, between jobs, the counters)."""
        self._write("CTRL", REGISTERS["CTRL"].field("CLEAR").place(1))

    def start(self, *, mode="frame", precision="int8"):
        """Write CTRL.START with MODE (``"frame"`` or ``"query"``) and PRECISION; the
        frame size is whatever WIDTH and HEIGHT hold. Returns at once."""
        if not isinstance(mode, str) or mode not in ("frame", "query"):
            raise UserError(f"unknown mode {mode!r} (choose frame or query)")
        ctrl = REGISTERS["CTRL"].field
        self._write("CTRL", ctrl("START").place(1)
                    | ctrl("MODE").place(mode == "query")
                    | ctrl("PRECISION").place(self._precision(precision) == "fp32"))

    def check(self):
        """Raise :class:`DeviceError` if STATUS.ERROR is set; returns the status."""
        status = self.status()
        if status.error:
            raise DeviceError(status)
        return status

    def _precision(self, precision):
        if not isinstance(precision, str) or precision not in _PRECISIONS:
            raise UserError(f"unknown precision {precision!r} (choose int8 or fp32)")
        if not getattr(self.info, precision):
            raise UserError(f"this build ({self.info.precision}) has no {precision} datapath")
        return precision

    # -- weights ----------------------------------------------------------------------------

    def load_weights(self, model_file):
        """Stream a model (a :class:`~model.export.ModelFile` or its path) into the core's
        weight memories over ``s_axis_wgt``; :class:`DeviceError` if the core refuses a
        packet. The core must be idle."""
        from .weights import weight_stream
        model_file = _model_file(model_file)
        config = self.info.config(model_file.config)
        if self.status().busy:
            raise UserError("the core is busy: weights load only between jobs")
        beats = weight_stream(config, model_file)
        self.transport.send("wgt", pack_beats([d for d, _ in beats], [t for _, t in beats]))
        self.check()
        self.model = model_file
        return config

    def attach(self, model_file):
        """Use ``model_file`` (a :class:`~model.export.ModelFile` or its path) without
        streaming it: the core's memories already hold it (a build made with ``--weights``,
        or weights loaded earlier). :class:`UserError` if the build was made for another
        network."""
        model_file = _model_file(model_file)
        config = self.info.config(model_file.config)
        self.model = model_file
        return config

    # -- jobs -------------------------------------------------------------------------------

    def _config(self):
        if self.model is None:
            raise UserError("no model loaded: call load_weights first")
        return self.info.config(self.model.config)

    def render(self, width, height, precision="int8", *, max_cycles=None, progress=None):
        """Render a ``width x height`` frame; returns uint8 ``[height, width, channels]``.

        Parameters
        ----------
        max_cycles : int, optional
            Cycle budget of the job (default ten times the cycle model's frame plus a
            million); :class:`DeviceTimeout` past it.
        progress : callable, optional
            Called with ``(pixels_received, width * height)`` as pixels arrive.

        Raises
        ------
        UserError
            A frame size or precision the build cannot take (checked before START).
        DeviceError
            The core stopped on an error.
        ProtocolError
            Wrong pixel count or framing: ``tuser`` must mark the first pixel alone and
            ``tlast`` each line's last.
        """
        if self.info.coords == 3:
            raise UserError("this is a video build: render clips with render_clip")
        return self._frames(width, height, 1, precision, max_cycles, progress, {})[0]

    def render_clip(self, width, height, *, clip_frames, first_frame=0, frame_count=None,
                    precision="int8", max_cycles=None, progress=None):
        """A video build: render ``frame_count`` frames (default: to the clip's end) from
        ``first_frame`` of a ``clip_frames``-frame clip in one job; returns uint8
        ``[frame_count, height, width, channels]``. ``tuser`` must mark each frame's first
        pixel. Otherwise as :meth:`render`."""
        from model.support.validate import nonnegative_int, positive_int
        from model.video import MAX_FRAMES
        if self.info.coords != 3:
            raise UserError("this is an image build: render frames with render")
        positive_int("clip frames", clip_frames, maximum=MAX_FRAMES)
        nonnegative_int("first frame", first_frame)
        if frame_count is None:
            frame_count = clip_frames - first_frame
        positive_int("frame count", frame_count)
        if first_frame + frame_count > clip_frames:
            raise UserError(f"frames {first_frame}..{first_frame + frame_count - 1} are "
                            f"outside the {clip_frames}-frame clip")
        registers = {"CLIP_FRAMES": clip_frames, "FIRST_FRAME": first_frame,
                     "FRAME_COUNT": frame_count}
        return self._frames(width, height, frame_count, precision, max_cycles, progress,
                            registers)

    def _frames(self, width, height, count, precision, max_cycles, progress, registers):
        self._config()
        self._precision(precision)
        _budget(max_cycles)
        if progress is not None and not callable(progress):
            raise UserError(f"progress must be a callable or None, not {progress!r}")
        self.set_frame_size(width, height)
        for name, value in registers.items():
            self._write(name, value)
        self.start(mode="frame", precision=precision)
        first = registers.get("FIRST_FRAME", 0) if registers else None
        return self.receive_frames(width, height, count, first_frame=first,
                                   max_cycles=max_cycles, progress=progress)

    def set_frame_size(self, width, height):
        """Write WIDTH and HEIGHT (checked against the build first), for a frame job that
        :meth:`start` (or the core's ``start`` input, a board's button) begins."""
        self._config().check_frame(width, height)
        self._write("WIDTH", width)
        self._write("HEIGHT", height)

    def receive_frames(self, width, height, count=1, *, first_frame=None, max_cycles=None,
                       progress=None):
        """The pixels of a frame job already started: uint8 ``[count, height, width, C]``,
        ``tuser`` checked on each frame's first pixel and ``tlast`` on each line's last
        (``first_frame``: a video build's clip from that frame, for the cycle budget)."""
        from ..cycles import frame_cycles
        config = self._config()
        _budget(max_cycles)
        clip = {} if first_frame is None else {"frames": count, "first_frame": first_frame}
        budget = max_cycles or (10 * frame_cycles(config, width, height, **clip)["total"]
                                + 1_000_000)
        beats = self._collect(width * height * count, budget, progress)
        data, last, user = unpack_beats(beats)
        index = np.arange(len(beats))
        self._framing(user, index % (width * height) == 0, "tuser", "each frame's first pixel")
        self._framing(last, index % width == width - 1, "tlast", "each line's last pixel")
        return self._pixels(data).reshape(count, height, width, self.info.channels)

    def query(self, coords, precision="int8", *, quantized=False, max_cycles=None):
        """Answer patch queries; returns uint8 ``[Q, n, n, channels]``.

        ``coords`` is ``[Q, 2]``: ``(x, y)`` in [-1, 1] (a video build's ``[Q, 3]``:
        ``(x, y, t)``), quantized here as the core expects, ``round_half_up(v * 32767)``,
        or int16 already quantized with ``quantized=True``. Patch ``q`` holds the pixels around coordinate ``q`` in raster
        order; at a patch centre of a ``W x H`` frame they are that frame's patch.
        """
        from model.data import quantize_coords

        from ..cycles import query_cycles_bound
        config = self._config()
        self._precision(precision)
        _budget(max_cycles)
        k = self.info.coords
        names = "(x, y)" if k == 2 else "(x, y, t)"
        try:
            coords = np.asarray(coords)
        except (TypeError, ValueError) as exc:       # ragged nested lists
            raise UserError(f"queries must be a [Q, {k}] array of {names}: {exc}") from None
        if coords.ndim != 2 or coords.shape[1] != k or len(coords) == 0:
            raise UserError(f"queries must be a non-empty [Q, {k}] array of {names}, not "
                            f"shape {coords.shape}")
        # Real numbers only: strings, objects, booleans and complex values are refused
        # rather than converted (a complex coordinate would lose its imaginary part).
        if coords.dtype.kind not in ("i", "u") + (() if quantized else ("f",)):
            raise UserError(f"queries must be {'integers' if quantized else 'real numbers'}, "
                            f"not {coords.dtype}")
        if quantized:
            if np.abs(coords.astype(np.int64)).max() > 32767:
                raise UserError("quantized coordinates must be integers in [-32767, 32767]")
            q = coords.astype(np.int64)
        else:
            coords = coords.astype(np.float64)
            if not np.all(np.isfinite(coords)) or np.abs(coords).max() > 1:
                raise UserError("coordinates must be finite and in [-1, 1]")
            q = quantize_coords(coords).astype(np.int64)
        n, ch = config.model.patch, config.model.channels
        count = len(q) * n * n
        budget = max_cycles or 10 * query_cycles_bound(config, len(q)) + 1_000_000
        # {t, y, x}, 16 bits each, x in the low bits (docs/interface.md).
        words = sum((q[:, i] & 0xFFFF) << (16 * i) for i in range(k))
        self.start(mode="query", precision=precision)
        self.transport.send("coord", pack_beats(words, np.arange(len(q)) == len(q) - 1))
        beats = self._collect(count, budget, None)
        data, last, user = unpack_beats(beats)
        index = np.arange(count)
        self._framing(user, index == 0, "tuser", "the job's first pixel")
        self._framing(last, index == count - 1, "tlast", "the job's last pixel")
        return self._pixels(data).reshape(len(q), n, n, ch)

    def _collect(self, count, budget, progress):
        # In chunks, so progress shows and the budget is spent where the pixels are.
        chunk = max(count // 200, 256) if progress else count
        parts, got, spent = [], 0, 0
        while got < count and spent < budget:
            part = self.transport.receive(min(chunk, count - got), timeout=budget - spent)
            if len(part) == 0:
                break
            parts.append(part)
            got += len(part)
            spent = self.cycles
            if progress:
                progress(got, count)
        beats = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
        if len(beats) != count:
            status = self.status()
            if status.error:
                raise DeviceError(status)
            raise DeviceTimeout(f"the job sent {len(beats)} of {count} pixels within "
                                f"{budget:,} cycles (status: {status})")
        status = self._wait_idle()
        if status.error:
            raise DeviceError(status)
        extra = self.transport.receive(1, timeout=0)
        if len(extra):
            raise ProtocolError(f"the job sent more than its {count} pixels")
        return beats

    def _wait_idle(self):
        for _ in range(self.POLLS):
            status = self.status()
            if not status.busy:
                return status
        raise DeviceTimeout(f"the core stayed busy after its pixels ({status})")

    @staticmethod
    def _framing(flags, expected, name, where):
        bad = np.flatnonzero(flags != expected)
        if len(bad):
            raise ProtocolError(f"{name} not on {where} alone: pixel {int(bad[0])} "
                                f"({len(bad)} beats wrong)")

    def _pixels(self, data):
        ch = self.info.channels
        return np.stack([(data >> (8 * c)) & 0xFF for c in range(ch)], axis=-1).astype(np.uint8)
