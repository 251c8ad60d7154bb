// Host model of the PatchINR core for a Verilator build of patchinr_core (accel/verilator.py).
//
// Does what accel/simulation.py's Amaranth testbench does, cycle for cycle where it matters
// (CYCLES counts from START to the last pixel, so the host's own timing does not enter it):
//   1. holds aresetn low for 16 cycles (AXI asks for a synchronous reset of some length);
//   2. streams the weight packets into s_axis_wgt (tvalid high throughout);
//   3. writes WIDTH, HEIGHT and CTRL over AXI4-Lite (address and data together);
//   4. collects m_axis_pix, tready high unless back-pressure is asked for, checking the
//      AXI4-Stream video framing (tuser on the first pixel, tlast on each line's last) and
//      the hold rule (a beat offered without tready is offered again, unchanged);
//   5. polls STATUS until BUSY falls, then reads CYCLES.
// Everything the register map defines comes from the command line, so accel/csr.py's
// REGISTERS stays the only copy of it.
//
// Usage: Vpatchinr_core key=value ...
//   weights=FILE   uint64 beats, tdata in bits [31:0], tlast in bit 32 (little endian)
//   out=FILE       result: 6 uint64 (status, cycles, sim_cycles, beats, framing_errors,
//                  timed_out), then one uint32 tdata per beat
//   width, height, ctrl          values written to WIDTH, HEIGHT, CTRL
//   reg_width, reg_height, reg_ctrl, reg_status, reg_cycles    byte offsets
//   busy_mask     STATUS bit of BUSY
//   stall, seed   probability of tready low before a beat (1..3 cycles), PRNG seed
//   max_cycles    give up after this many clock cycles
//   progress      print "progress BEATS CYCLES" every this many beats (0: never)
// Exit status: 0 done, 1 timed out, 2 bad arguments or files.

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "Vpatchinr_core.h"
#include "verilated.h"

static_assert(sizeof(Vpatchinr_core::m_axis_pix_tdata) <= sizeof(uint32_t),
              "pixels are stored as 32-bit words");

namespace {

struct Options {
    std::map<std::string, std::string> kv;

    const std::string &str(const char *key) const {
        auto it = kv.find(key);
        if (it == kv.end()) {
            std::fprintf(stderr, "harness: missing argument %s=\n", key);
            std::exit(2);
        }
        return it->second;
    }
    uint64_t u64(const char *key) const { return std::strtoull(str(key).c_str(), nullptr, 0); }
    double real(const char *key) const { return std::strtod(str(key).c_str(), nullptr); }
};

// splitmix64: a small, seedable generator for the back-pressure pattern.
struct Rng {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
};

// The outputs a host acts on, as they stand just before a rising edge.
struct Sampled {
    bool awready, wready, bvalid, arready, rvalid, wgt_tready;
    uint32_t bresp, rresp, rdata;
};

class Host {
public:
    Host(VerilatedContext *ctx, const Options &opt)
        : top_(new Vpatchinr_core{ctx}), rng_{opt.u64("seed")},
          stall_(opt.real("stall")), width_(opt.u64("width")), height_(opt.u64("height")),
          max_cycles_(opt.u64("max_cycles")), progress_(opt.u64("progress")) {
        pixels_.reserve(width_ * height_);
    }
    ~Host() { top_->final(); }

    // One clock cycle with the inputs the caller has set. The clock is low on entry: eval()
    // settles the combinational outputs for those inputs, the sink and the caller see them,
    // and the rising edge commits every transfer with valid and ready both high.
    Sampled tick() {
        if (stalled_ == 0 && stall_ > 0 && rng_.uniform() < stall_)
            stalled_ = 1 + static_cast<int>(rng_.next() % 3);
        top_->m_axis_pix_tready = stalled_ == 0;
        top_->eval();
        Sampled s{static_cast<bool>(top_->s_axil_awready), static_cast<bool>(top_->s_axil_wready),
                  static_cast<bool>(top_->s_axil_bvalid), static_cast<bool>(top_->s_axil_arready),
                  static_cast<bool>(top_->s_axil_rvalid), static_cast<bool>(top_->s_axis_wgt_tready),
                  top_->s_axil_bresp, top_->s_axil_rresp, top_->s_axil_rdata};
        sink();
        top_->aclk = 1;
        top_->eval();
        top_->aclk = 0;
        if (stalled_ > 0) stalled_--;
        if (++cycles_ > max_cycles_) throw TimedOut{};
        return s;
    }

    void reset() {
        top_->aclk = 0;
        top_->aresetn = 0;
        for (int i = 0; i < 16; i++) tick();
        top_->aresetn = 1;
    }

    void stream_weights(const std::vector<uint64_t> &beats) {
        for (uint64_t beat : beats) {
            top_->s_axis_wgt_tdata = static_cast<uint32_t>(beat);
            top_->s_axis_wgt_tlast = (beat >> 32) & 1;
            top_->s_axis_wgt_tvalid = 1;
            while (!tick().wgt_tready) {}
        }
        top_->s_axis_wgt_tvalid = 0;
        top_->s_axis_wgt_tlast = 0;
    }

    uint32_t axil_write(uint32_t addr, uint32_t data) {
        top_->s_axil_awaddr = addr;
        top_->s_axil_wdata = data;
        top_->s_axil_wstrb = 0xF;
        bool aw = false, w = false;
        while (!(aw && w)) {
            top_->s_axil_awvalid = !aw;
            top_->s_axil_wvalid = !w;
            Sampled s = tick();
            aw = aw || s.awready;
            w = w || s.wready;
        }
        top_->s_axil_awvalid = 0;
        top_->s_axil_wvalid = 0;
        top_->s_axil_bready = 1;
        Sampled s;
        do { s = tick(); } while (!s.bvalid);
        top_->s_axil_bready = 0;
        return s.bresp;
    }

    uint32_t axil_read(uint32_t addr) {
        top_->s_axil_araddr = addr;
        top_->s_axil_arvalid = 1;
        while (!tick().arready) {}
        top_->s_axil_arvalid = 0;
        top_->s_axil_rready = 1;
        Sampled s;
        do { s = tick(); } while (!s.rvalid);
        top_->s_axil_rready = 0;
        return s.rdata;
    }

    struct TimedOut {};

    const std::vector<uint32_t> &pixels() const { return pixels_; }
    uint64_t cycles() const { return cycles_; }
    uint64_t framing_errors() const { return framing_errors_; }

private:
    void sink() {
        bool valid = top_->m_axis_pix_tvalid;
        uint32_t data = top_->m_axis_pix_tdata;
        bool last = top_->m_axis_pix_tlast, user = top_->m_axis_pix_tuser;
        if (held_ && !(valid && data == held_data_ && last == held_last_ && user == held_user_))
            report("beat changed or withdrawn while stalled");
        held_ = valid && !top_->m_axis_pix_tready;
        held_data_ = data, held_last_ = last, held_user_ = user;
        if (!(valid && top_->m_axis_pix_tready)) return;
        uint64_t index = pixels_.size();
        if (user != (index == 0)) report("tuser not on the first pixel alone");
        if (last != ((index + 1) % width_ == 0)) report("tlast not on each line's last pixel alone");
        pixels_.push_back(data);
        if (progress_ && pixels_.size() % progress_ == 0) {
            std::printf("progress %zu %" PRIu64 "\n", pixels_.size(), cycles_);
            std::fflush(stdout);
        }
    }

    void report(const char *what) {
        if (framing_errors_++ == 0)
            std::fprintf(stderr, "harness: pixel %zu, cycle %" PRIu64 ": %s\n", pixels_.size(),
                         cycles_, what);
    }

    std::unique_ptr<Vpatchinr_core> top_;
    Rng rng_;
    double stall_;
    uint64_t width_, height_, max_cycles_, progress_;
    uint64_t cycles_ = 0, framing_errors_ = 0;
    int stalled_ = 0;
    bool held_ = false, held_last_ = false, held_user_ = false;
    uint32_t held_data_ = 0;
    std::vector<uint32_t> pixels_;
};

std::vector<uint64_t> read_beats(const std::string &path) {
    std::vector<uint64_t> beats;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) {
        std::fprintf(stderr, "harness: cannot open %s\n", path.c_str());
        std::exit(2);
    }
    uint64_t buf[4096];
    size_t n;
    while ((n = std::fread(buf, sizeof(uint64_t), 4096, f)) > 0) beats.insert(beats.end(), buf, buf + n);
    std::fclose(f);
    return beats;
}

}  // namespace

int main(int argc, char **argv) {
    Options opt;
    for (int i = 1; i < argc; i++) {
        const char *eq = std::strchr(argv[i], '=');
        if (!eq) {
            std::fprintf(stderr, "harness: arguments are key=value, not %s\n", argv[i]);
            return 2;
        }
        opt.kv[std::string(argv[i], eq - argv[i])] = eq + 1;
    }
    auto ctx = std::make_unique<VerilatedContext>();
    std::vector<uint64_t> beats = read_beats(opt.str("weights"));
    Host host(ctx.get(), opt);

    uint64_t status = 0, cycles = 0, timed_out = 0;
    try {
        host.reset();
        host.stream_weights(beats);
        host.axil_write(opt.u64("reg_width"), opt.u64("width"));
        host.axil_write(opt.u64("reg_height"), opt.u64("height"));
        host.axil_write(opt.u64("reg_ctrl"), opt.u64("ctrl"));
        const uint64_t busy = opt.u64("busy_mask");
        do { status = host.axil_read(opt.u64("reg_status")); } while (status & busy);
        cycles = host.axil_read(opt.u64("reg_cycles"));
    } catch (const Host::TimedOut &) {
        timed_out = 1;
    }

    FILE *f = std::fopen(opt.str("out").c_str(), "wb");
    if (!f) {
        std::fprintf(stderr, "harness: cannot write %s\n", opt.str("out").c_str());
        return 2;
    }
    const std::vector<uint32_t> &px = host.pixels();
    uint64_t header[6] = {status, cycles, host.cycles(), px.size(), host.framing_errors(), timed_out};
    bool ok = std::fwrite(header, sizeof header, 1, f) == 1 &&
              std::fwrite(px.data(), sizeof(uint32_t), px.size(), f) == px.size();
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
        std::fprintf(stderr, "harness: writing %s failed\n", opt.str("out").c_str());
        return 2;
    }
    return timed_out ? 1 : 0;
}
