// Interactive host port of a Verilator build of patchinr_core: the transport behind
// accel/flows/verilator.py's VerilatorTransport and so behind accel.host.driver.
//
// The program owns the clock. It reads one command per line on stdin and answers one line
// on stdout ("ok ..." or "timeout"), with binary payloads where stated; every command runs
// the clock only as long as it needs. Between commands the clock stands still, so the host
// program's speed never enters CYCLES. On every cycle, whatever the command:
//   * m_axis_pix is sampled: tready is high unless back-pressure is set ("stall"), every
//     transferred beat is queued for "recv" as its PIXELS_PER_BEAT pixels (PIXEL_BITS bits
//     each, pixel 0 in the low bits; tuser on the first, tlast on the last), and the
//     AXI4-Stream hold rule is checked (a beat offered without tready must be offered
//     again, unchanged);
//   * the cycle budget ("limit") is counted down; a command that exhausts it answers
//     "timeout" and leaves the core as it stands.
// The register map is not known here: offsets and values come from the host, so
// accel/host/registers.py stays the only copy of it.
//
// Commands (numbers decimal or 0x hex; beats are little-endian uint64 on the pipe, tdata
// in the low 62 bits, tuser in bit 62, tlast in bit 63):
//   reset                      aresetn low for 16 cycles, queued pixels dropped  -> ok
//   write OFFSET VALUE         AXI4-Lite write (address and data together)      -> ok BRESP
//   read OFFSET                AXI4-Lite read                                   -> ok DATA RRESP
//   send wgt|coord COUNT       then COUNT beats; tvalid held high until each is taken
//                                                                                -> ok
//   recv COUNT CYCLES          run until COUNT pixels are queued or CYCLES cycles pass,
//                              then hand over up to COUNT of them -> ok N, then N beats
//   run CYCLES                 run the clock                                     -> ok
//   stall PROBABILITY SEED     tready drops (1..3 cycles) before a beat with this
//                              probability, from a seeded generator              -> ok
//   gaps PROBABILITY SEED      tvalid of the input streams drops (1..3 cycles) before a
//                              beat with this probability (a source with gaps)   -> ok
//   limit CYCLES               cycle budget from now (0: none)                   -> ok
//   stats                      -> ok CYCLES HOLD_VIOLATIONS QUEUED
//   quit                       -> (exit 0)
// A malformed command answers "error WHY" and the program goes on; end of input exits.

#include <array>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "Vpatchinr_core.h"
#include "verilated.h"

// The build's beat: PIXELS_PER_BEAT pixels of PIXEL_BITS bits; DSP_CLOCK 2 when the core has
// an aclk2x (accel/flows/verilator.py defines all three from the configuration).
#if !defined(PIXELS_PER_BEAT) || !defined(PIXEL_BITS) || !defined(DSP_CLOCK)
#error "compile with -DPIXELS_PER_BEAT=k -DPIXEL_BITS=b -DDSP_CLOCK=1|2"
#endif
static_assert(PIXEL_BITS <= 32, "pixels travel as 32-bit words");


namespace {

constexpr uint64_t PIXEL_MASK = (1ULL << PIXEL_BITS) - 1;

// Bits [lo + PIXEL_BITS - 1 : lo] of tdata, however Verilator holds its width.
template <typename T>
uint64_t pixel_at(const T &tdata, unsigned lo) {
    return (static_cast<uint64_t>(tdata) >> lo) & PIXEL_MASK;
}

template <std::size_t N>
uint64_t pixel_at(const VlWide<N> &tdata, unsigned lo) {
    uint64_t w = tdata[lo / 32];
    if (lo / 32 + 1 < N) w |= static_cast<uint64_t>(tdata[lo / 32 + 1]) << 32;
    return (w >> (lo % 32)) & PIXEL_MASK;
}

// splitmix64: a small, seedable generator for the back-pressure pattern.
struct Rng {
    uint64_t state = 0;
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
    bool awready, wready, bvalid, arready, rvalid, wgt_tready, coord_tready;
    uint32_t bresp, rresp, rdata;
};

struct TimedOut {};

constexpr uint64_t TDATA_MASK = (1ULL << 62) - 1, TUSER = 1ULL << 62, TLAST = 1ULL << 63;

class Host {
public:
    explicit Host(VerilatedContext *ctx) : top_(new Vpatchinr_core{ctx}) {
        top_->aclk = 0;
#if DSP_CLOCK == 2
        top_->aclk2x = 0;
#endif
        top_->aresetn = 1;
        top_->eval();
    }
    ~Host() { top_->final(); }

    // One clock cycle with the inputs the caller has set. The clock is low on entry: eval()
    // settles the combinational outputs for those inputs, the sink and the caller see them,
    // and the rising edge commits every transfer with valid and ready both high.
    Sampled tick() {
        if (limit_ && cycles_ >= limit_) throw TimedOut{};
        if (stalled_ == 0 && stall_ > 0 && rng_.uniform() < stall_)
            stalled_ = 1 + static_cast<int>(rng_.next() % 3);
        top_->m_axis_pix_tready = stalled_ == 0;
        top_->eval();
        Sampled s{static_cast<bool>(top_->s_axil_awready), static_cast<bool>(top_->s_axil_wready),
                  static_cast<bool>(top_->s_axil_bvalid), static_cast<bool>(top_->s_axil_arready),
                  static_cast<bool>(top_->s_axil_rvalid),
                  static_cast<bool>(top_->s_axis_wgt_tready),
                  static_cast<bool>(top_->s_axis_coord_tready),
                  top_->s_axil_bresp, top_->s_axil_rresp, top_->s_axil_rdata};
        sink();
        top_->aclk = 1;
#if DSP_CLOCK == 2
        // The DSP clock rises with aclk and again in the middle of the cycle.
        top_->aclk2x = 1;
        top_->eval();
        top_->aclk2x = 0;
        top_->eval();
        top_->aclk2x = 1;
        top_->eval();
        top_->aclk2x = 0;
#else
        top_->eval();
#endif
        top_->aclk = 0;
        if (stalled_ > 0) stalled_--;
        cycles_++;
        return s;
    }

    void reset() {
        top_->aresetn = 0;
        top_->s_axis_wgt_tvalid = top_->s_axis_coord_tvalid = 0;
        top_->s_axil_awvalid = top_->s_axil_wvalid = top_->s_axil_arvalid = 0;
        top_->s_axil_bready = top_->s_axil_rready = 0;
        for (int i = 0; i < 16; i++) tick();
        top_->aresetn = 1;
        queue_.clear();
        held_ = false;
    }

    void send(bool coord, const std::vector<uint64_t> &beats) {
        for (uint64_t beat : beats) {
            if (gaps_ > 0 && gap_rng_.uniform() < gaps_) {
                top_->s_axis_coord_tvalid = top_->s_axis_wgt_tvalid = 0;
                for (int i = 1 + static_cast<int>(gap_rng_.next() % 3); i > 0; i--) tick();
            }
            if (coord) {
                // 32 bits in an image build, 64 in a video build: the assignment narrows.
                top_->s_axis_coord_tdata = beat & TDATA_MASK;
                top_->s_axis_coord_tlast = (beat & TLAST) != 0;
                top_->s_axis_coord_tvalid = 1;
                while (!tick().coord_tready) {}
            } else {
                top_->s_axis_wgt_tdata = static_cast<uint32_t>(beat & TDATA_MASK);
                top_->s_axis_wgt_tlast = (beat & TLAST) != 0;
                top_->s_axis_wgt_tvalid = 1;
                while (!tick().wgt_tready) {}
            }
        }
        top_->s_axis_coord_tvalid = top_->s_axis_wgt_tvalid = 0;
        top_->s_axis_coord_tlast = top_->s_axis_wgt_tlast = 0;
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

    uint32_t axil_read(uint32_t addr, uint32_t *resp) {
        top_->s_axil_araddr = addr;
        top_->s_axil_arvalid = 1;
        while (!tick().arready) {}
        top_->s_axil_arvalid = 0;
        top_->s_axil_rready = 1;
        Sampled s;
        do { s = tick(); } while (!s.rvalid);
        top_->s_axil_rready = 0;
        *resp = s.rresp;
        return s.rdata;
    }

    void run(uint64_t n) { for (uint64_t i = 0; i < n; i++) tick(); }

    // Runs until `count` beats are queued or `max` cycles pass (a timeout ends it early too;
    // the caller then hands over what is queued).
    void wait_for(uint64_t count, uint64_t max) {
        for (uint64_t i = 0; i < max && queue_.size() < count; i++) tick();
    }

    std::vector<uint64_t> take(uint64_t count) {
        size_t n = std::min<size_t>(count, queue_.size());
        std::vector<uint64_t> out(queue_.begin(), queue_.begin() + n);
        queue_.erase(queue_.begin(), queue_.begin() + n);
        return out;
    }

    void set_stall(double p, uint64_t seed) { stall_ = p, rng_.state = seed, stalled_ = 0; }
    void set_gaps(double p, uint64_t seed) { gaps_ = p, gap_rng_.state = seed; }
    void set_limit(uint64_t n) { limit_ = n ? cycles_ + n : 0; }
    uint64_t cycles() const { return cycles_; }
    uint64_t hold_violations() const { return hold_violations_; }
    size_t queued() const { return queue_.size(); }

private:
    // A beat as its pixels' queue entries.
    using Beat = std::array<uint64_t, PIXELS_PER_BEAT>;

    void sink() {
        bool valid = top_->m_axis_pix_tvalid, ready = top_->m_axis_pix_tready;
        Beat beat;
        for (unsigned p = 0; p < PIXELS_PER_BEAT; p++)
            beat[p] = pixel_at(top_->m_axis_pix_tdata, p * PIXEL_BITS);
        beat[0] |= (top_->m_axis_pix_tuser & 1) ? TUSER : 0;
        beat[PIXELS_PER_BEAT - 1] |= (top_->m_axis_pix_tlast & 1) ? TLAST : 0;
        // A reset abandons a beat on offer (AXI4-Stream: tvalid low during reset), so the
        // hold rule holds between resets only.
        if (!top_->aresetn) held_ = false;
        if (held_ && !(valid && beat == held_beat_)) {
            if (hold_violations_++ == 0)
                std::fprintf(stderr, "harness: cycle %" PRIu64 ": beat changed or withdrawn "
                             "while stalled\n", cycles_);
        }
        held_ = valid && !ready;
        held_beat_ = beat;
        if (valid && ready) queue_.insert(queue_.end(), beat.begin(), beat.end());
    }

    std::unique_ptr<Vpatchinr_core> top_;
    Rng rng_;
    Rng gap_rng_;
    double stall_ = 0;
    double gaps_ = 0;
    int stalled_ = 0;
    uint64_t cycles_ = 0, limit_ = 0, hold_violations_ = 0;
    Beat held_beat_{};
    bool held_ = false;
    std::deque<uint64_t> queue_;
};

bool parse_u64(const char *s, uint64_t *v) {
    if (!s) return false;
    char *end;
    *v = std::strtoull(s, &end, 0);
    return *end == '\0' && end != s;
}

}  // namespace

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    Host host(ctx.get());
    char line[256];
    while (std::fgets(line, sizeof line, stdin)) {
        std::vector<const char *> arg;
        for (char *tok = std::strtok(line, " \t\r\n"); tok; tok = std::strtok(nullptr, " \t\r\n"))
            arg.push_back(tok);
        if (arg.empty()) continue;
        const std::string cmd = arg[0];
        uint64_t a = 0, b = 0;
        bool ok1 = arg.size() > 1 && parse_u64(arg[1], &a);
        bool ok2 = arg.size() > 2 && parse_u64(arg[2], &b);
        try {
            if (cmd == "quit") {
                return 0;
            } else if (cmd == "reset") {
                host.reset();
                std::printf("ok\n");
            } else if (cmd == "write" && ok1 && ok2) {
                std::printf("ok %u\n", host.axil_write(a, b));
            } else if (cmd == "read" && ok1) {
                uint32_t resp, data = host.axil_read(a, &resp);
                std::printf("ok %u %u\n", data, resp);
            } else if (cmd == "send" && arg.size() > 2 && parse_u64(arg[2], &b) &&
                       (!std::strcmp(arg[1], "wgt") || !std::strcmp(arg[1], "coord"))) {
                std::vector<uint64_t> beats(b);
                if (b && std::fread(beats.data(), sizeof(uint64_t), b, stdin) != b) {
                    std::fprintf(stderr, "harness: short beat payload\n");
                    return 2;
                }
                host.send(!std::strcmp(arg[1], "coord"), beats);
                std::printf("ok\n");
            } else if (cmd == "recv" && ok1 && ok2) {
                try {
                    host.wait_for(a, b);
                } catch (const TimedOut &) {
                }
                std::vector<uint64_t> beats = host.take(a);
                std::printf("ok %zu\n", beats.size());
                std::fwrite(beats.data(), sizeof(uint64_t), beats.size(), stdout);
            } else if (cmd == "run" && ok1) {
                host.run(a);
                std::printf("ok\n");
            } else if ((cmd == "stall" || cmd == "gaps") && arg.size() > 2 && ok2) {
                double p = std::strtod(arg[1], nullptr);
                if (!(p >= 0 && p < 1)) {
                    std::printf("error %s probability must be in [0, 1)\n", cmd.c_str());
                } else {
                    if (cmd == "stall") host.set_stall(p, b);
                    else host.set_gaps(p, b);
                    std::printf("ok\n");
                }
            } else if (cmd == "limit" && ok1) {
                host.set_limit(a);
                std::printf("ok\n");
            } else if (cmd == "stats") {
                std::printf("ok %" PRIu64 " %" PRIu64 " %zu\n", host.cycles(),
                            host.hold_violations(), host.queued());
            } else {
                std::printf("error unknown or malformed command %s\n", cmd.c_str());
            }
        } catch (const TimedOut &) {
            std::printf("timeout\n");
        }
        std::fflush(stdout);
    }
    return 0;
}
