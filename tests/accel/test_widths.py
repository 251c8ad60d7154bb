"""Every address the core computes is as wide as what it addresses, over many configurations.

The widths follow the configuration (:attr:`AccelConfig.weight_addr_bits`,
``buffer_addr_bits``, ``param_addr_bits``); this checks each block's ports against the
depths of the memories they address, and the memories the weight buffer elaborates against
the configuration's geometry, so a fixed width that a configuration outgrows is caught
without simulating it.
"""

import pytest
from amaranth.hdl import Fragment
from amaranth.hdl._mem import MemoryInstance

from accel.config import AccelConfig, address_bits
from accel.gateware.datapath import Datapath
from accel.gateware.sequencer import Sequencer
from accel.gateware.weight_buffer import WeightBuffer
from accel.gateware.weight_loader import WeightLoader
from model.config import PatchINRConfig

CONFIGS = [
    dict(patch=2, channels=1, hidden=8, layers=1, rows=2, cols=2, precision="int8"),
    dict(patch=1, channels=3, hidden=10, layers=2, rows=4, cols=4, precision="dual"),
    dict(patch=3, channels=1, hidden=6, layers=2, rows=3, cols=1, precision="fp32"),
    dict(patch=2, channels=1, hidden=128, layers=5, rows=2, cols=1, precision="int8"),  # 17 bits
    dict(patch=2, channels=3, hidden=256, layers=7, rows=4, cols=4, precision="int8"),  # default model
    dict(patch=2, channels=1, hidden=256, layers=7, rows=2, cols=2, precision="dual"),  # 18 bits
    dict(patch=16, channels=3, hidden=256, layers=7, rows=6, cols=3, precision="fp32"),
    # The ECP5's banked weight memories (a pipelined read tree over 1,024-word banks).
    dict(patch=2, channels=3, hidden=128, layers=7, rows=8, cols=8, precision="int8",
         device="lfe5u-85f"),
]


def _config(c):
    c = dict(c)
    model = PatchINRConfig(patch=c.pop("patch"), channels=c.pop("channels"),
                           hidden=c.pop("hidden"), layers=c.pop("layers"))
    return AccelConfig(model=model, batch=8, max_width=16 * model.patch,
                       max_height=8 * model.patch, **c)


def _width(port):
    return len(port.as_value()) if hasattr(port, "as_value") else len(port)


@pytest.mark.parametrize("c", CONFIGS, ids=lambda c: "{rows}x{cols}-{precision}-h{hidden}x{layers}".format(**c)
                         + ("-" + c["device"] if "device" in c else ""))
def test_addresses_cover_the_memories(c):
    cfg = _config(c)
    geo = cfg.memory_geometry
    deepest = max(d for d, _ in geo.values())
    need_w, need_wr, need_p = (address_bits(cfg.weight_depth), address_bits(deepest),
                               address_bits(cfg.param_depth))
    seq, dp = Sequencer(config=cfg), Datapath(config=cfg)
    buf, ld = WeightBuffer(config=cfg), WeightLoader(config=cfg)
    assert len(seq.w_addr) >= need_w and len(dp.w_addr) >= need_w and len(buf.w_addr) >= need_w
    assert len(buf.wr.addr) >= need_wr and len(ld.wr.addr) >= need_wr
    for lane in range(cfg.cols):
        assert len(buf.bias_addr[lane]) >= need_p and len(buf.post_addr[lane]) >= need_p
    # The issue record's parameter address, and the memories the buffer builds.
    assert len(seq.issue.param_addr) >= need_p
    # The memories the buffer builds are the configuration's, depth for depth; the ports
    # above are what address them.
    def words(fragment):
        """Words of every memory in ``fragment`` (a banked memory's banks together)."""
        if isinstance(fragment, MemoryInstance):
            return fragment._data.depth
        return sum(words(sub) for sub, _, _ in fragment.subfragments)
    built = {name: words(sub) for sub, name, _ in Fragment.get(buf, None).subfragments
             if words(sub)}
    want = {name: d for name, (d, _) in geo.items() if name not in ("params", "sine_lut")}
    want.update({f"params_{c}": geo["params"][0] for c in range(cfg.cols)})
    assert built == want
