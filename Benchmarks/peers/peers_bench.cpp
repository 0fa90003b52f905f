// peers-bench: the standard layer suite through ConvKit, a plain
// im2col + cblas_sgemm baseline, oneDNN and XNNPACK, side by side.
//
// Every implementation runs in its own preferred layout; layout conversions,
// weight reorders and plan/primitive creation happen outside the timed region.
// Before timing, every output is checked against a float64 reference on a
// sample of output positions; mismatches are reported loudly and excluded from
// "best" and from the ratios.
#include "convkit.h"

#include <cblas.h>
#if __has_include(<omp.h>)
#include <omp.h>
#else
extern "C" void omp_set_num_threads(int);  // e.g. Swift's bundled clang ships no omp.h
#endif

#if defined(PEERS_HAVE_ONEDNN)
#include <dnnl.hpp>
#endif
#if defined(PEERS_HAVE_XNNPACK)
#include <pthreadpool.h>
#include <xnnpack.h>
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <time.h>
#include <sys/resource.h>
#include <dirent.h>
#include <unordered_map>
#include <vector>

extern "C" void openblas_set_num_threads(int);

// ck_measure_fma_peak is declared by convkit.h but may not be implemented yet
// in this checkout: reference it weakly so the comparator links either way.
#pragma weak ck_measure_fma_peak

namespace {

// Every tensor buffer is 64-byte aligned (what oneDNN allocates for itself), so
// no implementation is timed on cache-line-split data the others don't see.
template <class T> struct Aligned64 {
    using value_type = T;
    Aligned64() = default;
    template <class U> Aligned64(const Aligned64<U> &) {}
    T *allocate(size_t n) {
        void *p = ::operator new(n * sizeof(T), std::align_val_t(64));
        return static_cast<T *>(p);
    }
    void deallocate(T *p, size_t) { ::operator delete(p, std::align_val_t(64)); }
    template <class U> bool operator==(const Aligned64<U> &) const { return true; }
    template <class U> bool operator!=(const Aligned64<U> &) const { return false; }
};
using fvec = std::vector<float, Aligned64<float>>;

// ---------------------------------------------------------------------------
// Suite
// ---------------------------------------------------------------------------

struct Layer {
    std::string kind, name;
    int64_t N, C, H, W, K, R, S, stride, pad, groups;
    int64_t P = 0, Q = 0;
    bool is_conv() const { return kind == "conv"; }
    bool is_pool() const { return kind == "maxpool" || kind == "avgpool"; }
    double flops() const { return 2.0 * N * K * (C / groups) * R * S * P * Q; }
    // Bytes moved (input + output + weights) once each.
    double bytes() const {
        double b = 4.0 * (double(N) * C * H * W + double(N) * K * P * Q);
        if (is_conv()) b += 4.0 * (double(K) * (C / groups) * R * S + K);
        return b;
    }
};

[[noreturn]] void die(const std::string &msg) {
    std::fprintf(stderr, "peers-bench: %s\n", msg.c_str());
    std::exit(2);
}

std::vector<Layer> read_suite(const std::string &path) {
    std::ifstream in(path);
    if (!in) die("cannot open suite file '" + path + "'");
    std::vector<Layer> out;
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
        lineno++;
        size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] == '#') continue;
        std::istringstream ss(line);
        Layer L;
        if (!(ss >> L.kind >> L.name >> L.N >> L.C >> L.H >> L.W >> L.K >> L.R >> L.S >> L.stride >> L.pad >>
              L.groups))
            die(path + ":" + std::to_string(lineno) +
                ": expected 12 fields (kind name N C H W K R S stride pad groups)");
        auto bad = [&](const std::string &what) { die(path + ":" + std::to_string(lineno) + ": " + what); };
        if (!L.is_conv() && !L.is_pool()) bad("unknown kind '" + L.kind + "' (conv, maxpool, avgpool)");
        if (L.N < 1 || L.C < 1 || L.H < 1 || L.W < 1 || L.K < 1 || L.R < 1 || L.S < 1) bad("dimensions must be >= 1");
        if (L.stride < 1) bad("stride must be >= 1");
        if (L.pad < 0) bad("pad must be >= 0");
        if (L.groups < 1 || L.C % L.groups || L.K % L.groups) bad("groups must divide C and K");
        if (L.is_pool() && L.K != L.C) bad("pooling layers need K == C");
        L.P = (L.H + 2 * L.pad - L.R) / L.stride + 1;
        L.Q = (L.W + 2 * L.pad - L.S) / L.stride + 1;
        if (L.P < 1 || L.Q < 1) bad("empty output");
        out.push_back(L);
    }
    return out;
}

// ---------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Timing {
    bool ok = false;
    double median_ms = 0, p10_ms = 0, p90_ms = 0;
    double cpu_per_wall = 0;  // process CPU seconds per wall second while timing (~ threads busy)
    int threads_busy = 0;     // distinct threads that did a real share of the work while timing
                              // (not necessarily at once: OpenMP + OpenBLAS workers both count)
    int runs = 0;
    std::vector<double> samples_ms;  // every timed run (pooled over the passes, see --passes)
};

double process_cpu_s() {
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// On-CPU nanoseconds of every thread of this process (/proc/self/task/*/schedstat).
std::vector<std::pair<long, double>> thread_cpu_ns() {
    std::vector<std::pair<long, double>> v;
    DIR *dir = opendir("/proc/self/task");
    if (!dir) return v;
    while (dirent *e = readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/schedstat");
        double ns = 0;
        if (f >> ns) v.emplace_back(std::atol(e->d_name), ns);
    }
    closedir(dir);
    return v;
}

// Threads that were on a CPU for at least a quarter of the busiest thread's
// time between two snapshots: how many cores an implementation really used.
int busy_threads(const std::vector<std::pair<long, double>> &before, const std::vector<std::pair<long, double>> &after) {
    std::vector<double> d;
    for (auto &a : after) {
        double b0 = 0;
        for (auto &b : before)
            if (b.first == a.first) b0 = b.second;
        d.push_back(a.second - b0);
    }
    if (d.empty()) return 0;
    double mx = *std::max_element(d.begin(), d.end());
    int n = 0;
    for (double x : d) n += x >= 0.25 * mx && mx > 0;
    return n;
}

double g_min_time = 0.2;
int g_min_runs = 10;
int g_passes = 1;  // --passes: rounds over all candidates of a layer, samples pooled
int g_park_ms = 50;  // pause before each candidate's timing (see time_it); 250 with 2+ threads

// With --passes N, each pass times 1/N of the minimum time and runs (>= 3 runs).
double pass_min_time() { return g_min_time / g_passes; }
int pass_min_runs() { return std::max(3, (g_min_runs + g_passes - 1) / g_passes); }

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    double idx = p * double(v.size() - 1);
    size_t lo = size_t(std::floor(idx)), hi = size_t(std::ceil(idx));
    return v[lo] + (v[hi] - v[lo]) * (idx - double(lo));
}

// Warm up, then run until both >= g_min_runs runs and >= g_min_time seconds.
Timing time_it(const std::function<bool()> &fn) {
    Timing t;
    // Let spinning worker threads of the previously timed runtime park, or
    // the next runtime's threads share the cores with them.  Measured with
    // process CPU time during a sleep after 2-thread plans: an OpenBLAS
    // worker spins ~110 ms after im2col, LLVM libomp's threads ~200 ms after
    // direct (KMP_BLOCKTIME).  A --passes window (0.04 s at 5 passes) would
    // lie wholly inside the spin.
    std::this_thread::sleep_for(std::chrono::milliseconds(g_park_ms));
    double w0 = now_s();
    int warm = 0;
    do {
        if (!fn()) return t;
        warm++;
    } while (warm < 2 || (now_s() - w0 < 0.03 && warm < 50));
    std::vector<double> samples;
    double cpu0 = process_cpu_s();
    auto tc0 = thread_cpu_ns();
    double start = now_s();
    const double min_time = pass_min_time();
    const int min_runs = pass_min_runs();
    while ((int)samples.size() < min_runs || now_s() - start < min_time) {
        double a = now_s();
        if (!fn()) return t;
        samples.push_back((now_s() - a) * 1e3);
        if (samples.size() >= 200000) break;
    }
    t.cpu_per_wall = (process_cpu_s() - cpu0) / std::max(now_s() - start, 1e-9);
    t.threads_busy = busy_threads(tc0, thread_cpu_ns());
    t.ok = true;
    t.runs = (int)samples.size();
    t.median_ms = percentile(samples, 0.5);
    t.p10_ms = percentile(samples, 0.1);
    t.p90_ms = percentile(samples, 0.9);
    t.samples_ms = std::move(samples);
    return t;
}

// --passes: add a later pass's timing of a candidate to the pooled one
// (npass >= 1 passes already in `into`).
void pool_timing(Timing &into, const Timing &pass, int npass) {
    if (!into.ok || !pass.ok) {
        into.ok = false;
        return;
    }
    into.cpu_per_wall = (into.cpu_per_wall * npass + pass.cpu_per_wall) / (npass + 1);
    into.threads_busy = std::max(into.threads_busy, pass.threads_busy);
    into.samples_ms.insert(into.samples_ms.end(), pass.samples_ms.begin(), pass.samples_ms.end());
    into.runs = (int)into.samples_ms.size();
    into.median_ms = percentile(into.samples_ms, 0.5);
    into.p10_ms = percentile(into.samples_ms, 0.1);
    into.p90_ms = percentile(into.samples_ms, 0.9);
}

// ---------------------------------------------------------------------------
// Data, layouts and the float64 reference
// ---------------------------------------------------------------------------

struct Data {
    fvec x;   // NCHW
    fvec w;   // OIHW (K x C/g x R x S)
    fvec b;   // K
};

Data make_data(const Layer &L) {
    Data d;
    std::mt19937 rng(12345u + (uint32_t)std::hash<std::string>()(L.name));
    std::uniform_real_distribution<float> U(-1.f, 1.f);
    d.x.resize(size_t(L.N * L.C * L.H * L.W));
    for (auto &v : d.x) v = U(rng);
    if (L.is_conv()) {
        d.w.resize(size_t(L.K * (L.C / L.groups) * L.R * L.S));
        for (auto &v : d.w) v = U(rng);
        d.b.resize(size_t(L.K));
        for (auto &v : d.b) v = U(rng);
    }
    return d;
}

// Convert an NCHW tensor to NCHW8c/NHWC and back (our own, so the comparator
// does not depend on the library's conversion routines).
fvec nchw_to(ck_layout lay, const fvec &x, int64_t N, int64_t C, int64_t H, int64_t W) {
    if (lay == CK_LAYOUT_NCHW) return x;
    if (lay == CK_LAYOUT_NHWC) {
        fvec y(x.size());
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t hw = 0; hw < H * W; hw++) y[size_t((n * H * W + hw) * C + c)] = x[size_t((n * C + c) * H * W + hw)];
        return y;
    }
    int64_t CB = (C + 7) / 8;
    fvec y(size_t(N * CB * 8 * H * W), 0.f);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t hw = 0; hw < H * W; hw++)
                y[size_t(((n * CB + c / 8) * H * W + hw) * 8 + c % 8)] = x[size_t((n * C + c) * H * W + hw)];
    return y;
}

fvec to_nchw(ck_layout lay, const fvec &y, int64_t N, int64_t C, int64_t H, int64_t W) {
    if (lay == CK_LAYOUT_NCHW) return y;
    fvec x(size_t(N * C * H * W));
    if (lay == CK_LAYOUT_NHWC) {
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t hw = 0; hw < H * W; hw++) x[size_t((n * C + c) * H * W + hw)] = y[size_t((n * H * W + hw) * C + c)];
        return x;
    }
    int64_t CB = (C + 7) / 8;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t hw = 0; hw < H * W; hw++)
                x[size_t((n * C + c) * H * W + hw)] = y[size_t(((n * CB + c / 8) * H * W + hw) * 8 + c % 8)];
    return x;
}

size_t layout_elems(ck_layout lay, int64_t N, int64_t C, int64_t H, int64_t W) {
    if (lay == CK_LAYOUT_NCHW8C) return size_t(N * ((C + 7) / 8) * 8 * H * W);
    return size_t(N * C * H * W);
}

const char *layout_name(ck_layout lay) {
    switch (lay) {
    case CK_LAYOUT_NCHW: return "nchw";
    case CK_LAYOUT_NHWC: return "nhwc";
    case CK_LAYOUT_NCHW8C: return "nchw8c";
    }
    return "?";
}

struct Sample {
    int64_t n, k, p, q;
    double ref, mag;  // reference value, and sum |terms| for the tolerance
};

// Float64 reference at one output position (avgpool: count_include_pad).
Sample ref_at(const Layer &L, const Data &d, int64_t n, int64_t k, int64_t p, int64_t q) {
    Sample s{n, k, p, q, 0, 0};
    if (L.is_conv()) {
        int64_t cg = L.C / L.groups, kg = L.K / L.groups, g = k / kg;
        double acc = d.b[size_t(k)], mag = std::fabs(d.b[size_t(k)]);
        for (int64_t c = 0; c < cg; c++)
            for (int64_t r = 0; r < L.R; r++)
                for (int64_t t = 0; t < L.S; t++) {
                    int64_t ih = p * L.stride - L.pad + r, iw = q * L.stride - L.pad + t;
                    if (ih < 0 || ih >= L.H || iw < 0 || iw >= L.W) continue;
                    double xv = d.x[size_t(((n * L.C + g * cg + c) * L.H + ih) * L.W + iw)];
                    double wv = d.w[size_t(((k * cg + c) * L.R + r) * L.S + t)];
                    acc += xv * wv;
                    mag += std::fabs(xv * wv);
                }
        s.ref = acc;
        s.mag = mag;
    } else {
        bool mx = L.kind == "maxpool";
        double acc = mx ? -INFINITY : 0.0, mag = 0;
        for (int64_t r = 0; r < L.R; r++)
            for (int64_t t = 0; t < L.S; t++) {
                int64_t ih = p * L.stride - L.pad + r, iw = q * L.stride - L.pad + t;
                if (ih < 0 || ih >= L.H || iw < 0 || iw >= L.W) continue;
                double v = d.x[size_t(((n * L.C + k) * L.H + ih) * L.W + iw)];
                if (mx) acc = std::max(acc, v);
                else acc += v;
                mag += std::fabs(v);
            }
        if (!mx) {
            // Window clipped to the padded input (count_include_pad).
            int64_t h0 = p * L.stride - L.pad, w0 = q * L.stride - L.pad;
            int64_t h1 = std::min(h0 + L.R, L.H + L.pad), w1 = std::min(w0 + L.S, L.W + L.pad);
            double cnt = double((h1 - h0) * (w1 - w0));
            acc /= cnt;
            mag /= cnt;
        }
        s.ref = acc;
        s.mag = mag;
    }
    return s;
}

std::vector<Sample> make_samples(const Layer &L, const Data &d) {
    std::vector<Sample> v;
    std::mt19937 rng(777);
    auto add = [&](int64_t n, int64_t k, int64_t p, int64_t q) { v.push_back(ref_at(L, d, n, k, p, q)); };
    // Corners (padding edges) of the first and last image/channel, then random positions.
    for (int64_t n : {int64_t(0), L.N - 1})
        for (int64_t k : {int64_t(0), L.K - 1})
            for (int64_t p : {int64_t(0), L.P - 1})
                for (int64_t q : {int64_t(0), L.Q - 1}) add(n, k, p, q);
    const int random_count = 400;
    for (int i = 0; i < random_count; i++)
        add(int64_t(rng() % uint64_t(L.N)), int64_t(rng() % uint64_t(L.K)), int64_t(rng() % uint64_t(L.P)),
            int64_t(rng() % uint64_t(L.Q)));
    return v;
}

struct Check {
    bool ok = true;
    double max_err = 0;       // max |y - ref|
    double max_rel = 0;       // max |y - ref| / (tolerance)
    std::string first_bad;
};

// y in NCHW.  Tolerance |y - ref| <= tol * sum|terms| + 1e-6 with
// tol = 8 * sqrt(reduction) * 2^-24 (a little looser than ConvKit's own test
// tolerance so that peers' summation orders pass too).
// min_tol raises the relative tolerance for less accurate algorithms
// (Winograd F(4x4): 2e-5, F(6x6): 5e-5, as issue 5 specifies).
Check check_output(const Layer &L, const std::vector<Sample> &samples, const fvec &y,
                   double min_tol = 0) {
    Check c;
    double red = L.is_conv() ? double((L.C / L.groups) * L.R * L.S) : double(L.R * L.S);
    double tol = std::max(min_tol, 8.0 * std::sqrt(red) * std::ldexp(1.0, -24));
    for (const Sample &s : samples) {
        double v = y[size_t(((s.n * L.K + s.k) * L.P + s.p) * L.Q + s.q)];
        double err = std::fabs(v - s.ref);
        double lim = tol * s.mag + 1e-6;
        c.max_err = std::max(c.max_err, err);
        c.max_rel = std::max(c.max_rel, err / lim);
        if (!(err <= lim)) {  // also catches NaN
            if (c.ok) {
                char buf[200];
                std::snprintf(buf, sizeof buf, "y[n=%lld,k=%lld,p=%lld,q=%lld] = %.7g, reference %.7g (|err| %.3g > %.3g)",
                              (long long)s.n, (long long)s.k, (long long)s.p, (long long)s.q, v, s.ref, err, lim);
                c.first_bad = buf;
            }
            c.ok = false;
        }
    }
    return c;
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

struct Result {
    std::string impl;      // "convkit", "baseline", "onednn", "xnnpack"
    std::string variant;   // algorithm / implementation name
    std::string layout;
    std::string note;      // why n/a
    bool available = false;
    bool correct = false;
    Check check;
    Timing t;
    size_t workspace_bytes = 0;
};

void loud_mismatch(const Layer &L, int threads, const Result &r) {
    std::fprintf(stderr,
                 "\n!!!!!!!! MISMATCH: %s [%s %s] on %s at %d thread(s): %s — figure marked invalid !!!!!!!!\n",
                 r.impl.c_str(), r.variant.c_str(), r.layout.c_str(), L.name.c_str(), threads,
                 r.check.first_bad.c_str());
}

// ---------------------------------------------------------------------------
// ConvKit
// ---------------------------------------------------------------------------

std::vector<Result> run_convkit(const Layer &L, const Data &d, const std::vector<Sample> &samples, int threads,
                                std::vector<std::string> &declined) {
    std::vector<Result> out;
    if (L.is_conv()) {
        struct Cand {
            ck_algorithm algo;
            std::vector<ck_layout> layouts;  // native first
            uint32_t flags;
            double min_tol;
        };
        const std::vector<Cand> cands = {
            {CK_ALGO_IM2COL, {CK_LAYOUT_NCHW}, 0, 0},
            {CK_ALGO_DIRECT, {CK_LAYOUT_NCHW8C}, 0, 0},
            {CK_ALGO_WINOGRAD_F2, {CK_LAYOUT_NCHW8C, CK_LAYOUT_NCHW}, 0, 0},
            {CK_ALGO_WINOGRAD_F4, {CK_LAYOUT_NCHW8C, CK_LAYOUT_NCHW}, 0, 2e-5},
            {CK_ALGO_WINOGRAD_F6, {CK_LAYOUT_NCHW8C, CK_LAYOUT_NCHW}, CK_PLAN_FAST_MATH, 5e-5},
            {CK_ALGO_DEPTHWISE, {CK_LAYOUT_NCHW8C, CK_LAYOUT_NCHW}, 0, 0},
            {CK_ALGO_AUTO, {CK_LAYOUT_NCHW8C, CK_LAYOUT_NCHW}, 0, 2e-5},
        };
        for (const Cand &cand : cands) {
            for (ck_layout lay : cand.layouts) {
                ck_conv2d_desc desc = ck_conv2d_desc_init(L.N, L.C, L.H, L.W, L.K, L.R, L.S);
                desc.stride_h = desc.stride_w = L.stride;
                desc.pad_top = desc.pad_left = desc.pad_bottom = desc.pad_right = L.pad;
                desc.groups = L.groups;
                desc.has_bias = 1;
                desc.layout = lay;
                ck_plan_options opt;
                std::memset(&opt, 0, sizeof opt);
                opt.algorithm = cand.algo;
                opt.threads = threads;
                opt.flags = cand.flags;
                ck_status st = ck_conv2d_algorithm_applicable(&desc, cand.algo, &opt);
                ck_plan *plan = nullptr;
                if (st == CK_OK) st = ck_conv2d_plan_create(&desc, d.w.data(), d.b.data(), &opt, &plan);
                if (st != CK_OK) {
                    std::string why = ck_last_error_message();
                    declined.push_back(std::string(ck_algorithm_name(cand.algo)) + "/" + layout_name(lay) + ": " +
                                       ck_status_string(st) + (why.empty() ? "" : " (" + why + ")"));
                    continue;
                }
                Result r;
                r.impl = "convkit";
                r.layout = layout_name(lay);
                r.available = true;
                ck_algorithm used = cand.algo;
                ck_plan_algorithm(plan, &used);
                r.variant = ck_algorithm_name(cand.algo);
                if (cand.algo == CK_ALGO_AUTO) r.variant += std::string("->") + ck_algorithm_name(used);
                if (cand.flags & CK_PLAN_FAST_MATH) r.variant += "(fast-math)";
                size_t ws = 0;
                ck_plan_workspace_size(plan, &ws);
                r.workspace_bytes = ws;
                std::vector<char> wsbuf(ws ? ws : 1);
                fvec x = nchw_to(lay, d.x, L.N, L.C, L.H, L.W);
                fvec y(layout_elems(lay, L.N, L.K, L.P, L.Q), 0.f);
                void *wsp = ws ? wsbuf.data() : nullptr;
                st = ck_conv2d_execute(plan, x.data(), y.data(), nullptr, wsp, ws);
                if (st != CK_OK) {
                    r.available = false;
                    r.note = std::string("execute: ") + ck_status_string(st) + " " + ck_last_error_message();
                    out.push_back(r);
                    ck_plan_destroy(plan);
                    continue;
                }
                r.check = check_output(L, samples, to_nchw(lay, y, L.N, L.K, L.P, L.Q), cand.min_tol);
                r.correct = r.check.ok;
                if (!r.correct) loud_mismatch(L, threads, r);
                r.t = time_it([&] { return ck_conv2d_execute(plan, x.data(), y.data(), nullptr, wsp, ws) == CK_OK; });
                ck_plan_destroy(plan);
                out.push_back(r);
                break;  // first applicable layout only
            }
        }
    } else {
        for (ck_layout lay : {CK_LAYOUT_NCHW8C, CK_LAYOUT_NCHW}) {
            ck_pool2d_desc desc;
            std::memset(&desc, 0, sizeof desc);
            desc.kind = L.kind == "maxpool" ? CK_POOL_MAX : CK_POOL_AVG;
            desc.n = L.N;
            desc.c = L.C;
            desc.h = L.H;
            desc.w = L.W;
            desc.r = L.R;
            desc.s = L.S;
            desc.stride_h = desc.stride_w = L.stride;
            desc.pad_top = desc.pad_left = desc.pad_bottom = desc.pad_right = L.pad;
            desc.dilation_h = desc.dilation_w = 1;
            desc.count_include_pad = 1;
            desc.ceil_mode = 0;
            desc.layout = lay;
            ck_plan_options opt;
            std::memset(&opt, 0, sizeof opt);
            opt.threads = threads;
            ck_plan *plan = nullptr;
            ck_status st = ck_pool2d_plan_create(&desc, &opt, &plan);
            if (st != CK_OK) {
                declined.push_back(std::string("pool/") + layout_name(lay) + ": " + ck_status_string(st));
                continue;
            }
            Result r;
            r.impl = "convkit";
            r.variant = "pool";
            r.layout = layout_name(lay);
            r.available = true;
            fvec x = nchw_to(lay, d.x, L.N, L.C, L.H, L.W);
            fvec y(layout_elems(lay, L.N, L.K, L.P, L.Q), 0.f);
            st = ck_pool2d_execute(plan, x.data(), y.data());
            if (st != CK_OK) {
                r.available = false;
                r.note = std::string("execute: ") + ck_status_string(st);
                ck_plan_destroy(plan);
                out.push_back(r);
                continue;
            }
            r.check = check_output(L, samples, to_nchw(lay, y, L.N, L.K, L.P, L.Q));
            r.correct = r.check.ok;
            if (!r.correct) loud_mismatch(L, threads, r);
            r.t = time_it([&] { return ck_pool2d_execute(plan, x.data(), y.data()) == CK_OK; });
            ck_plan_destroy(plan);
            out.push_back(r);
        }
    }
    return out;
}

// ---------------------------------------------------------------------------
// Baseline: per image, per group: naive im2col into a full buffer, one
// cblas_sgemm, then a bias loop.
// ---------------------------------------------------------------------------

Result run_baseline(const Layer &L, const Data &d, const std::vector<Sample> &samples, int threads) {
    Result r;
    r.impl = "baseline";
    r.variant = "im2col+sgemm";
    r.layout = "nchw";
    if (!L.is_conv()) {
        r.note = "conv only";
        return r;
    }
    r.available = true;
    const int64_t cg = L.C / L.groups, kg = L.K / L.groups, PQ = L.P * L.Q, RS = L.R * L.S;
    fvec col(size_t(cg * RS * PQ));
    fvec y(size_t(L.N * L.K * PQ));
    r.workspace_bytes = col.size() * sizeof(float);
    auto run = [&]() {
        for (int64_t n = 0; n < L.N; n++)
            for (int64_t g = 0; g < L.groups; g++) {
                const float *x = d.x.data() + (n * L.C + g * cg) * L.H * L.W;
                for (int64_t c = 0; c < cg; c++)
                    for (int64_t r0 = 0; r0 < L.R; r0++)
                        for (int64_t s0 = 0; s0 < L.S; s0++) {
                            float *dst = col.data() + ((c * L.R + r0) * L.S + s0) * PQ;
                            for (int64_t p = 0; p < L.P; p++) {
                                int64_t ih = p * L.stride - L.pad + r0;
                                for (int64_t q = 0; q < L.Q; q++) {
                                    int64_t iw = q * L.stride - L.pad + s0;
                                    dst[p * L.Q + q] = (ih >= 0 && ih < L.H && iw >= 0 && iw < L.W)
                                                           ? x[(c * L.H + ih) * L.W + iw]
                                                           : 0.f;
                                }
                            }
                        }
                float *yg = y.data() + (n * L.K + g * kg) * PQ;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)kg, (int)PQ, (int)(cg * RS), 1.0f,
                            d.w.data() + g * kg * cg * RS, (int)(cg * RS), col.data(), (int)PQ, 0.0f, yg, (int)PQ);
                for (int64_t k = 0; k < kg; k++) {
                    float bv = d.b[size_t(g * kg + k)];
                    float *row = yg + k * PQ;
                    for (int64_t i = 0; i < PQ; i++) row[i] += bv;
                }
            }
        return true;
    };
    openblas_set_num_threads(threads);
    run();
    r.check = check_output(L, samples, y);
    r.correct = r.check.ok;
    if (!r.correct) loud_mismatch(L, threads, r);
    r.t = time_it(run);
    openblas_set_num_threads(1);
    return r;
}

// ---------------------------------------------------------------------------
// oneDNN
// ---------------------------------------------------------------------------

#if defined(PEERS_HAVE_ONEDNN)
std::vector<Result> run_onednn(const Layer &L, const Data &d, const std::vector<Sample> &samples, int threads) {
    using namespace dnnl;
    using tag = memory::format_tag;
    using dt = memory::data_type;
    std::vector<Result> out;
    omp_set_num_threads(threads);  // oneDNN (OpenMP runtime) reads this at creation and execution
    engine eng(engine::kind::cpu, 0);
    stream strm(eng);
    memory::dims src_dims = {L.N, L.C, L.H, L.W};
    memory::dims dst_dims = {L.N, L.K, L.P, L.Q};
    memory::dims strides = {L.stride, L.stride}, pad = {L.pad, L.pad};
    memory user_src({src_dims, dt::f32, tag::nchw}, eng, const_cast<float *>(d.x.data()));
    fvec y(size_t(L.N * L.K * L.P * L.Q));
    memory user_dst({dst_dims, dt::f32, tag::nchw}, eng, y.data());

    auto finish = [&](Result &r, primitive &prim, std::unordered_map<int, memory> &args, memory &dst_mem) {
        prim.execute(strm, args);
        strm.wait();
        reorder(dst_mem, user_dst).execute(strm, dst_mem, user_dst);
        strm.wait();
        r.check = check_output(L, samples, y);
        r.correct = r.check.ok;
        if (!r.correct) loud_mismatch(L, threads, r);
        r.t = time_it([&] {
            prim.execute(strm, args);
            strm.wait();
            return true;
        });
    };

    if (L.is_conv()) {
        memory::dims w_dims = L.groups == 1 ? memory::dims{L.K, L.C, L.R, L.S}
                                            : memory::dims{L.groups, L.K / L.groups, L.C / L.groups, L.R, L.S};
        memory user_w({w_dims, dt::f32, L.groups == 1 ? tag::oihw : tag::goihw}, eng, const_cast<float *>(d.w.data()));
        memory user_b({{L.K}, dt::f32, tag::x}, eng, const_cast<float *>(d.b.data()));
        std::string direct_impl;
        for (algorithm alg : {algorithm::convolution_direct, algorithm::convolution_auto}) {
            Result r;
            r.impl = "onednn";
            r.layout = "any";
            const char *aname = alg == algorithm::convolution_direct ? "direct" : "auto";
            try {
                convolution_forward::desc cd(prop_kind::forward_inference, alg,
                                             memory::desc(src_dims, dt::f32, tag::any),
                                             memory::desc(w_dims, dt::f32, tag::any), memory::desc({L.K}, dt::f32, tag::x),
                                             memory::desc(dst_dims, dt::f32, tag::any), strides, pad, pad);
                convolution_forward::primitive_desc pd(cd, eng);
                std::string impl = pd.impl_info_str();
                r.variant = std::string(aname) + ":" + impl;
                if (alg == algorithm::convolution_direct) direct_impl = impl;
                else if (impl == direct_impl) break;  // auto picked the same kernel: already timed
                memory src(pd.src_desc(), eng), wts(pd.weights_desc(), eng), dst(pd.dst_desc(), eng);
                reorder(user_src, src).execute(strm, user_src, src);
                reorder(user_w, wts).execute(strm, user_w, wts);
                strm.wait();
                r.available = true;
                convolution_forward prim(pd);
                std::unordered_map<int, memory> args = {
                    {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_BIAS, user_b}, {DNNL_ARG_DST, dst}};
                finish(r, prim, args, dst);
            } catch (const dnnl::error &e) {
                r.variant = aname;
                r.available = false;
                r.note = std::string("oneDNN: ") + e.what();
            }
            out.push_back(r);
        }
    } else {
        Result r;
        r.impl = "onednn";
        bool mx = L.kind == "maxpool";
        r.variant = mx ? "pooling_max" : "pooling_avg_include_padding";
        try {
            // Pooling consumes what a conv would produce: the blocked nChw8c layout.
            memory::desc src_md(src_dims, dt::f32, tag::nChw8c);
            pooling_forward::desc pdsc(prop_kind::forward_inference,
                                       mx ? algorithm::pooling_max : algorithm::pooling_avg_include_padding, src_md,
                                       memory::desc(dst_dims, dt::f32, tag::any), strides, {L.R, L.S}, pad, pad);
            pooling_forward::primitive_desc pd(pdsc, eng);
            r.variant += std::string(":") + pd.impl_info_str();
            r.layout = "nChw8c";
            memory src(pd.src_desc(), eng), dst(pd.dst_desc(), eng);
            reorder(user_src, src).execute(strm, user_src, src);
            strm.wait();
            r.available = true;
            pooling_forward prim(pd);
            std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
            if (pd.workspace_desc().get_size() > 0) args.insert({DNNL_ARG_WORKSPACE, memory(pd.workspace_desc(), eng)});
            finish(r, prim, args, dst);
        } catch (const dnnl::error &e) {
            r.available = false;
            r.note = std::string("oneDNN: ") + e.what();
        }
        out.push_back(r);
    }
    return out;
}
#endif

// ---------------------------------------------------------------------------
// XNNPACK (NHWC)
// ---------------------------------------------------------------------------

#if defined(PEERS_HAVE_XNNPACK)
Result run_xnnpack(const Layer &L, const Data &d, const std::vector<Sample> &samples, pthreadpool_t pool, int threads) {
    Result r;
    r.impl = "xnnpack";
    r.layout = "nhwc";
    fvec x = nchw_to(CK_LAYOUT_NHWC, d.x, L.N, L.C, L.H, L.W);
    fvec y(size_t(L.N * L.K * L.P * L.Q), 0.f);
    xnn_operator_t op = nullptr;
    xnn_status st = xnn_status_success;
    const uint32_t pd = uint32_t(L.pad);
    if (L.is_conv()) {
        // Weights per group: [g][K/g][R][S][C/g].
        const int64_t cg = L.C / L.groups, kg = L.K / L.groups;
        fvec w(d.w.size());
        for (int64_t k = 0; k < L.K; k++)
            for (int64_t c = 0; c < cg; c++)
                for (int64_t rs = 0; rs < L.R * L.S; rs++) w[size_t((k * L.R * L.S + rs) * cg + c)] = d.w[size_t((k * cg + c) * L.R * L.S + rs)];
        r.variant = L.groups == 1 ? "convolution2d" : (cg == 1 && kg == 1 ? "convolution2d(depthwise)" : "convolution2d(grouped)");
        st = xnn_create_convolution2d_nhwc_f32(pd, pd, pd, pd, uint32_t(L.R), uint32_t(L.S), uint32_t(L.stride),
                                               uint32_t(L.stride), 1, 1, uint32_t(L.groups), size_t(cg), size_t(kg),
                                               size_t(L.C), size_t(L.K), w.data(), d.b.data(), -INFINITY, INFINITY, 0,
                                               &op);
        if (st == xnn_status_success)
            st = xnn_setup_convolution2d_nhwc_f32(op, size_t(L.N), size_t(L.H), size_t(L.W), x.data(), y.data(), pool);
    } else if (L.kind == "maxpool") {
        r.variant = "max_pooling2d";
        st = xnn_create_max_pooling2d_nhwc_f32(pd, pd, pd, pd, uint32_t(L.R), uint32_t(L.S), uint32_t(L.stride),
                                               uint32_t(L.stride), 1, 1, size_t(L.C), size_t(L.C), size_t(L.C),
                                               -INFINITY, INFINITY, 0, &op);
        if (st == xnn_status_success)
            st = xnn_setup_max_pooling2d_nhwc_f32(op, size_t(L.N), size_t(L.H), size_t(L.W), x.data(), y.data(), pool);
    } else if (L.R == L.H && L.S == L.W && L.pad == 0) {
        r.variant = "global_average_pooling_nwc";
        st = xnn_create_global_average_pooling_nwc_f32(size_t(L.C), size_t(L.C), size_t(L.C), -INFINITY, INFINITY, 0,
                                                       &op);
        if (st == xnn_status_success)
            st = xnn_setup_global_average_pooling_nwc_f32(op, size_t(L.N), size_t(L.H * L.W), x.data(), y.data(), pool);
    } else if (L.pad == 0) {
        r.variant = "average_pooling2d";
        st = xnn_create_average_pooling2d_nhwc_f32(0, 0, 0, 0, uint32_t(L.R), uint32_t(L.S), uint32_t(L.stride),
                                                   uint32_t(L.stride), size_t(L.C), size_t(L.C), size_t(L.C),
                                                   -INFINITY, INFINITY, 0, &op);
        if (st == xnn_status_success)
            st = xnn_setup_average_pooling2d_nhwc_f32(op, size_t(L.N), size_t(L.H), size_t(L.W), x.data(), y.data(), pool);
    } else {
        r.note = "XNNPACK average pooling excludes padding; the suite counts it";
        return r;
    }
    if (st != xnn_status_success) {
        r.note = "XNNPACK create/setup failed, status " + std::to_string(int(st));
        if (op) xnn_delete_operator(op);
        return r;
    }
    r.available = true;
    xnn_run_operator(op, pool);
    r.check = check_output(L, samples, to_nchw(CK_LAYOUT_NHWC, y, L.N, L.K, L.P, L.Q));
    r.correct = r.check.ok;
    if (!r.correct) loud_mismatch(L, threads, r);
    r.t = time_it([&] { return xnn_run_operator(op, pool) == xnn_status_success; });
    xnn_delete_operator(op);
    return r;
}
#endif

// ---------------------------------------------------------------------------
// FMA peak (our own, in case the library's ck_measure_fma_peak is missing)
// ---------------------------------------------------------------------------

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) double fma_loop(double seconds) {
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
           a9 = a0, a10 = a0, a11 = a0;
    const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    const long inner = 100000;
    long iters = 0;
    // Per-thread CPU time, so that other processes sharing the cores do not
    // deflate the figure (wall time would).
    auto cpu_s = [] {
        timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
    };
    double w0 = now_s(), t0 = cpu_s(), t1;
    do {
        for (long i = 0; i < inner; i++) {
            a0 = _mm256_fmadd_ps(a0, m, c);
            a1 = _mm256_fmadd_ps(a1, m, c);
            a2 = _mm256_fmadd_ps(a2, m, c);
            a3 = _mm256_fmadd_ps(a3, m, c);
            a4 = _mm256_fmadd_ps(a4, m, c);
            a5 = _mm256_fmadd_ps(a5, m, c);
            a6 = _mm256_fmadd_ps(a6, m, c);
            a7 = _mm256_fmadd_ps(a7, m, c);
            a8 = _mm256_fmadd_ps(a8, m, c);
            a9 = _mm256_fmadd_ps(a9, m, c);
            a10 = _mm256_fmadd_ps(a10, m, c);
            a11 = _mm256_fmadd_ps(a11, m, c);
            // Opaque to the optimiser, so the identical chains are not merged.
            __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5));
            __asm__ volatile("" : "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
        }
        iters += inner;
        t1 = cpu_s();
    } while (now_s() - w0 < seconds);
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float sink[8];
    _mm256_storeu_ps(sink, s);
    volatile float keep = sink[0];
    (void)keep;
    return double(iters) * 12 * 8 * 2 / (t1 - t0) / 1e9;
}

double own_fma_peak(int threads, double seconds) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    std::vector<double> g(size_t(threads), 0.0);
    std::vector<std::thread> th;
    for (int i = 0; i < threads; i++) th.emplace_back([&, i] { g[size_t(i)] = fma_loop(seconds); });
    for (auto &t : th) t.join();
    double s = 0;
    for (double v : g) s += v;
    return s;
}
#else
double own_fma_peak(int, double) { return 0; }
#endif

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

struct Row {
    const Layer *L;
    int threads;
    std::vector<Result> results;
    std::vector<std::string> ck_declined;
};

const Result *best_of(const Row &row, const std::string &impl) {
    const Result *best = nullptr;
    for (const Result &r : row.results)
        if (r.impl == impl && r.available && r.correct && r.t.ok && (!best || r.t.median_ms < best->t.median_ms))
            best = &r;
    return best;
}

bool any_mismatch(const Row &row, const std::string &impl) {
    for (const Result &r : row.results)
        if (r.impl == impl && r.available && !r.correct) return true;
    return false;
}

std::string fig(const Row &row, const Result *r, const std::string &impl) {
    char buf[64];
    if (!r) return any_mismatch(row, impl) ? "MISMATCH" : "n/a";
    if (row.L->is_conv()) std::snprintf(buf, sizeof buf, "%.1f", row.L->flops() / (r->t.median_ms * 1e6));
    else std::snprintf(buf, sizeof buf, "%.1f/%.3f", row.L->bytes() / (r->t.median_ms * 1e6), r->t.median_ms);
    return buf + std::string(any_mismatch(row, impl) ? "!" : "");
}

std::string ratio(const Result *ck, const Result *peer) {
    if (!ck || !peer) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", peer->t.median_ms / ck->t.median_ms);
    return buf;
}

void print_table(const std::vector<Row> &rows, int threads) {
    std::printf("\n=== %d thread%s — conv: GFLOPS (2*N*K*C/g*R*S*P*Q / median time); pool: GB/s/ms; ratio = peer time / "
                "ConvKit time (>1: ConvKit faster); '!' = some variant mismatched ===\n",
                threads, threads == 1 ? "" : "s");
    std::printf("%-22s %-26s %9s %10s %12s %12s %8s %8s %8s\n", "layer", "ConvKit best", "ConvKit", "im2col+sg",
                "oneDNN", "XNNPACK", "CK/1DNN", "CK/XNN", "CK/base");
    for (const Row &row : rows) {
        if (row.threads != threads) continue;
        const Result *ck = best_of(row, "convkit"), *bl = best_of(row, "baseline"), *dn = best_of(row, "onednn"),
                     *xn = best_of(row, "xnnpack");
        std::string algo = ck ? ck->variant + "/" + ck->layout : (any_mismatch(row, "convkit") ? "MISMATCH" : "n/a");
        std::printf("%-22s %-26s %9s %10s %12s %12s %8s %8s %8s\n", row.L->name.c_str(), algo.c_str(),
                    fig(row, ck, "convkit").c_str(), fig(row, bl, "baseline").c_str(), fig(row, dn, "onednn").c_str(),
                    fig(row, xn, "xnnpack").c_str(), ratio(ck, dn).c_str(), ratio(ck, xn).c_str(), ratio(ck, bl).c_str());
    }
}

std::string jstr(const std::string &s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\', o += c;
        else if ((unsigned char)c < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else o += c;
    }
    return o + "\"";
}

std::string jnum(double v) {
    if (!std::isfinite(v)) return "null";
    char b[40];
    std::snprintf(b, sizeof b, "%.6g", v);
    return b;
}

struct Header {
    std::string cpu, isa, convkit_version, onednn_version, suite;
    double ck_peak_1t = 0, ck_peak_nt = 0, own_peak_1t = 0, own_peak_nt = 0, load_avg = -1;
    int peak_nt_threads = 0;
    bool have_onednn = false, have_xnnpack = false;
};

void write_json(const std::string &path, const Header &h, const std::vector<Row> &rows) {
    std::ofstream f(path);
    if (!f) die("cannot write '" + path + "'");
    f << "{\n  \"header\": {\"cpu\": " << jstr(h.cpu) << ", \"isa\": " << jstr(h.isa)
      << ", \"convkit_version\": " << jstr(h.convkit_version) << ", \"onednn\": " << jstr(h.onednn_version)
      << ", \"xnnpack\": " << (h.have_xnnpack ? "true" : "false") << ", \"suite\": " << jstr(h.suite)
      << ", \"load_average_at_start\": " << jnum(h.load_avg) << ", \"min_time_s\": " << jnum(g_min_time)
      << ", \"min_runs\": " << g_min_runs << ", \"passes\": " << g_passes
      << ", \"fma_peak_gflops_1t_convkit\": " << (h.ck_peak_1t > 0 ? jnum(h.ck_peak_1t) : "null")
      << ", \"fma_peak_gflops_" << h.peak_nt_threads << "t_convkit\": " << (h.ck_peak_nt > 0 ? jnum(h.ck_peak_nt) : "null")
      << ", \"fma_peak_gflops_1t\": " << jnum(h.own_peak_1t) << ", \"fma_peak_gflops_" << h.peak_nt_threads
      << "t\": " << jnum(h.own_peak_nt) << "},\n  \"results\": [";
    bool first = true;
    for (const Row &row : rows) {
        const Layer &L = *row.L;
        const Result *ck = best_of(row, "convkit"), *bl = best_of(row, "baseline"), *dn = best_of(row, "onednn"),
                     *xn = best_of(row, "xnnpack");
        auto rat = [&](const Result *p) { return (ck && p) ? jnum(p->t.median_ms / ck->t.median_ms) : std::string("null"); };
        f << (first ? "\n" : ",\n") << "    {\"layer\": " << jstr(L.name) << ", \"kind\": " << jstr(L.kind)
          << ", \"threads\": " << row.threads << ", \"batch\": " << L.N << ", \"flops\": " << jnum(L.is_conv() ? L.flops() : 0)
          << ", \"bytes\": " << jnum(L.bytes()) << ", \"convkit_best\": "
          << (ck ? jstr(ck->variant + "/" + ck->layout) : "null") << ", \"ratio_convkit_onednn\": " << rat(dn)
          << ", \"ratio_convkit_xnnpack\": " << rat(xn) << ", \"ratio_convkit_baseline\": " << rat(bl)
          << ", \"convkit_declined\": [";
        for (size_t i = 0; i < row.ck_declined.size(); i++) f << (i ? ", " : "") << jstr(row.ck_declined[i]);
        f << "], \"impls\": [";
        for (size_t i = 0; i < row.results.size(); i++) {
            const Result &r = row.results[i];
            f << (i ? ",\n      " : "\n      ") << "{\"impl\": " << jstr(r.impl) << ", \"algorithm\": " << jstr(r.variant)
              << ", \"layout\": " << jstr(r.layout) << ", \"available\": " << (r.available ? "true" : "false");
            if (!r.note.empty()) f << ", \"note\": " << jstr(r.note);
            if (r.available) {
                f << ", \"correct\": " << (r.correct ? "true" : "false") << ", \"max_abs_err\": " << jnum(r.check.max_err)
                  << ", \"max_err_over_tol\": " << jnum(r.check.max_rel);
                if (!r.correct) f << ", \"mismatch\": " << jstr(r.check.first_bad);
                if (r.t.ok) {
                    f << ", \"runs\": " << r.t.runs << ", \"median_ms\": " << jnum(r.t.median_ms)
                      << ", \"p10_ms\": " << jnum(r.t.p10_ms) << ", \"p90_ms\": " << jnum(r.t.p90_ms)
                      << ", \"gflops\": " << (L.is_conv() ? jnum(L.flops() / (r.t.median_ms * 1e6)) : "null")
                      << ", \"gbps\": " << jnum(L.bytes() / (r.t.median_ms * 1e6))
                      << ", \"cpu_per_wall\": " << jnum(r.t.cpu_per_wall) << ", \"threads_busy\": " << r.t.threads_busy;
                    if (r.impl == "convkit" || r.impl == "baseline") f << ", \"workspace_bytes\": " << r.workspace_bytes;
                }
            }
            f << "}";
        }
        f << "]}";
        first = false;
    }
    f << "\n  ]\n}\n";
}

std::vector<int> parse_threads(const std::string &s) {
    std::vector<int> v;
    std::stringstream ss(s);
    std::string tok;
    while (std::getline(ss, tok, ',')) {
        char *end = nullptr;
        long t = std::strtol(tok.c_str(), &end, 10);
        if (tok.empty() || *end || t < 1 || t > 1024) die("bad --threads value '" + s + "'");
        v.push_back(int(t));
    }
    if (v.empty()) die("bad --threads value '" + s + "'");
    return v;
}

void usage() {
    std::printf(
        "usage: peers-bench [--suite FILE] [--threads 1,2] [--layers SUBSTRING|REGEX] [--min-time S] [--passes N]\n"
        "                   [--json FILE]\n"
        "  Times every suite layer through ConvKit (im2col, direct, ... and auto; best reported), a plain\n"
        "  im2col + cblas_sgemm loop, oneDNN and XNNPACK (when built in), after checking each output\n"
        "  against a float64 reference on sampled positions.\n"
        "  --passes N: time every candidate of a layer in N rounds (each 1/N of --min-time, >= 3 runs) and\n"
        "  pool the samples, so that load from other tenants hits all candidates alike (default 1).\n");
}

}  // namespace

int main(int argc, char **argv) {
    std::string suite = PEERS_DEFAULT_SUITE, filter, json;
    std::vector<int> threads = {1, 2};
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value after " + a);
            return argv[++i];
        };
        if (a == "--suite") suite = val();
        else if (a == "--threads") threads = parse_threads(val());
        else if (a == "--layers") filter = val();
        else if (a == "--min-time") {
            std::string v = val();
            char *end = nullptr;
            g_min_time = std::strtod(v.c_str(), &end);
            if (*end || !(g_min_time >= 0)) die("bad --min-time '" + v + "'");
        } else if (a == "--passes") {
            std::string v = val();
            char *end = nullptr;
            long n = std::strtol(v.c_str(), &end, 10);
            if (*end || n < 1 || n > 100) die("bad --passes '" + v + "' (1..100)");
            g_passes = (int)n;
        } else if (a == "--json") json = val();
        else if (a == "-h" || a == "--help") {
            usage();
            return 0;
        } else die("unknown option '" + a + "' (try --help)");
    }

    std::vector<Layer> all = read_suite(suite), layers;
    std::regex re;
    bool use_re = false;
    if (!filter.empty()) {
        try {
            re = std::regex(filter);
            use_re = true;
        } catch (const std::regex_error &) {
            use_re = false;  // not a valid regex: plain substring
        }
    }
    for (const Layer &L : all)
        if (filter.empty() || L.name.find(filter) != std::string::npos || (use_re && std::regex_search(L.name, re)))
            layers.push_back(L);
    if (layers.empty()) die("no suite layer matches '" + filter + "'");

    // ---- header
    Header h;
    h.suite = suite;
    h.convkit_version = ck_version();
    ck_cpu_info ci;
    std::memset(&ci, 0, sizeof ci);
    if (ck_get_cpu_info(&ci) == CK_OK) {
        h.cpu = ci.model;
        h.isa = ck_isa_name(ci.dispatched_isa);
    }
#if defined(PEERS_HAVE_ONEDNN)
    {
        const dnnl_version_t *v = dnnl_version();
        char b[128];
        std::snprintf(b, sizeof b, "%d.%d.%d (%s, cpu runtime %s)", v->major, v->minor, v->patch, v->hash,
                      v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential" : "other");
        h.onednn_version = b;
        h.have_onednn = true;
    }
#endif
#if defined(PEERS_HAVE_XNNPACK)
    h.have_xnnpack = xnn_initialize(nullptr) == xnn_status_success;
#endif
    h.peak_nt_threads = *std::max_element(threads.begin(), threads.end());
    if (&ck_measure_fma_peak != nullptr) {
        double g = 0;
        if (ck_measure_fma_peak(1, 0.3, &g) == CK_OK) h.ck_peak_1t = g;
        if (h.peak_nt_threads > 1 && ck_measure_fma_peak(h.peak_nt_threads, 0.3, &g) == CK_OK) h.ck_peak_nt = g;
    }
    h.own_peak_1t = own_fma_peak(1, 0.3);
    h.own_peak_nt = own_fma_peak(h.peak_nt_threads, 0.3);

    std::printf("peers-bench — ConvKit %s vs oneDNN / XNNPACK / im2col+sgemm\n", h.convkit_version.c_str());
    std::printf("CPU: %s (%d logical cores), ConvKit ISA: %s\n", h.cpu.c_str(), ci.logical_cores, h.isa.c_str());
    if (h.ck_peak_1t > 0) {
        std::printf("FMA peak (ck_measure_fma_peak): %.1f GFLOPS at 1 thread", h.ck_peak_1t);
        if (h.ck_peak_nt > 0) std::printf(", %.1f at %d threads", h.ck_peak_nt, h.peak_nt_threads);
        std::printf("\n");
    }
    else std::printf("FMA peak (ck_measure_fma_peak): not available in this build\n");
    std::printf("FMA peak (peers-bench AVX2 loop, per CPU-second): %.1f GFLOPS at 1 thread", h.own_peak_1t);
    if (h.peak_nt_threads > 1) std::printf(", %.1f at %d threads", h.own_peak_nt, h.peak_nt_threads);
    std::printf("\n");
    std::printf("oneDNN: %s\n", h.have_onednn ? h.onednn_version.c_str() : "not built in");
    std::printf("XNNPACK: %s\n", h.have_xnnpack ? "yes (NHWC, pthreadpool)" : "not built in / failed to initialise");
    std::printf("Suite: %s (%zu of %zu layers); timing: warm-up, then >= %d runs and >= %.2g s; median", suite.c_str(),
                layers.size(), all.size(), g_min_runs, g_min_time);
    if (g_passes > 1)
        std::printf(" of the samples pooled from %d rounds over all candidates (each >= %d runs, >= %.2g s)", g_passes,
                    pass_min_runs(), pass_min_time());
    std::printf("\n");
    {
        // Other processes on a 2-core machine wreck multi-thread timings
        // (OpenMP barriers spin against them): say so in the header.
        double l1 = 0;
        std::ifstream la("/proc/loadavg");
        if (la >> l1) {
            std::printf("Load average (1 min) at start: %.2f%s\n", l1,
                        l1 > 0.5 ? "  -- WARNING: other processes are running; timings (multi-thread above all) are noisy"
                                 : "");
            h.load_avg = l1;
        }
    }
    std::fflush(stdout);

#if defined(PEERS_HAVE_XNNPACK)
    std::vector<pthreadpool_t> pools;
    for (int t : threads) pools.push_back(t > 1 ? pthreadpool_create(size_t(t)) : nullptr);
#endif

    std::vector<Row> rows;
    std::vector<std::string> algos_seen;
    int idx = 0;
    for (const Layer &L : layers) {
        idx++;
        Data d = make_data(L);
        std::vector<Sample> samples = make_samples(L, d);
        for (size_t ti = 0; ti < threads.size(); ti++) {
            int t = threads[ti];
            std::fprintf(stderr, "\r[%d/%zu] %-24s %d thread(s) ...      ", idx, layers.size(), L.name.c_str(), t);
            Row row;
            row.L = &L;
            row.threads = t;
            omp_set_num_threads(t);
            g_park_ms = t > 1 ? 250 : 50;
            // --passes N: N rounds over every candidate, each timing 1/N of
            // the minimum; the samples are pooled, so a slow spell of the
            // machine (other tenants) hits all candidates alike instead of
            // whichever one was being timed
            for (int pass = 0; pass < g_passes; pass++) {
                std::vector<Result> res;
                std::vector<std::string> declined;
                for (Result &r : run_convkit(L, d, samples, t, declined)) res.push_back(r);
                res.push_back(run_baseline(L, d, samples, t));
#if defined(PEERS_HAVE_ONEDNN)
                for (Result &r : run_onednn(L, d, samples, t)) res.push_back(r);
#endif
#if defined(PEERS_HAVE_XNNPACK)
                if (h.have_xnnpack) res.push_back(run_xnnpack(L, d, samples, pools[ti], t));
#endif
                if (pass == 0) {
                    row.results = std::move(res);
                    row.ck_declined = std::move(declined);
                    continue;
                }
                if (res.size() != row.results.size()) die("the candidates of " + L.name + " changed between passes");
                for (size_t i = 0; i < res.size(); i++) {
                    Result &r = row.results[i];
                    if (res[i].impl != r.impl || res[i].variant != r.variant || res[i].layout != r.layout)
                        die("the candidates of " + L.name + " changed between passes");
                    if (!res[i].available || !res[i].correct) {
                        r.available = r.available && res[i].available;
                        r.correct = r.correct && res[i].correct;
                        if (!res[i].correct) r.check = res[i].check;
                    }
                    pool_timing(r.t, res[i].t, pass);
                }
            }
            for (const Result &r : row.results)
                if (r.impl == "convkit" && r.available &&
                    std::find(algos_seen.begin(), algos_seen.end(), r.variant) == algos_seen.end())
                    algos_seen.push_back(r.variant);
            rows.push_back(std::move(row));
        }
    }
    std::fprintf(stderr, "\r%-70s\r", "");

#if defined(PEERS_HAVE_XNNPACK)
    for (pthreadpool_t p : pools)
        if (p) pthreadpool_destroy(p);
#endif

    std::printf("ConvKit algorithms that ran:");
    for (auto &a : algos_seen) std::printf(" %s", a.c_str());
    std::printf("\n");
    for (int t : threads) print_table(rows, t);

    // Did each implementation really use the requested thread count?  (Max
    // over the conv layers of the threads that did a real share of the work.)
    std::printf("\nThreads actually busy (max over conv layers):");
    for (int t : threads) {
        std::printf("  [--threads %d]", t);
        for (const char *impl : {"convkit", "baseline", "onednn", "xnnpack"}) {
            int mx = 0;
            for (const Row &row : rows)
                if (row.threads == t && row.L->is_conv())
                    for (const Result &r : row.results)
                        if (r.impl == impl && r.t.ok) mx = std::max(mx, r.t.threads_busy);
            std::printf(" %s %d", impl, mx);
        }
    }
    std::printf("\n");

    int mismatches = 0;
    for (const Row &row : rows)
        for (const Result &r : row.results)
            if (r.available && !r.correct) mismatches++;
    if (mismatches) std::printf("\n!!! %d result(s) did NOT match the float64 reference (see above / JSON) !!!\n", mismatches);
    if (!json.empty()) {
        write_json(json, h, rows);
        std::printf("\nJSON written to %s\n", json.c_str());
    }
    return mismatches ? 1 : 0;
}
