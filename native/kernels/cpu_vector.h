// Vector helpers for the CPU kernels of our own (native/kernels/packed_attention.cpp, native/kernels/bias_gelu.cpp): GCC/Clang
// vector extensions, compiled per function for x86-64-v3 (AVX2 + FMA) and a default target (target_clones).
#pragma once
#include <cstdint>
#include <cstring>

// The helpers below are always inlined, so GCC's note that 32-byte vector returns differ between the default and
// AVX calling conventions concerns no call that exists.
#pragma GCC diagnostic ignored "-Wpsabi"

// Functions with a copy for AVX2 + FMA machines and a default one, picked when the library loads.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define RR_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define RR_VECTOR_CLONES
#endif

namespace rr {
namespace simd {

// Eight floats as one value: AVX registers in the x86-64-v3 clones, pairs of
// SSE registers in the default one.
typedef float Floats8 __attribute__((vector_size(32)));
typedef int32_t Ints8 __attribute__((vector_size(32)));
constexpr int64_t kLanes = 8;

#define RR_INLINE inline __attribute__((always_inline))

// A broadcast, as a shuffle of lane 0: GCC 12 makes it one vbroadcastss in the AVX2 clones. (x - Floats8{} and a
// braced list of 8 x's became 7 vinsertps + vinsertf128 there, which made the attention loops shuffle-bound.)
RR_INLINE Floats8 splat(float x) {
  Floats8 v{};
  v[0] = x;
  return __builtin_shuffle(v, Ints8{});
}
RR_INLINE Floats8 load(const float* p) {
  Floats8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
RR_INLINE void store(float* p, Floats8 v) { std::memcpy(p, &v, sizeof v); }
inline int64_t roundUp(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// exp(x) for x <= 0 (attention scores minus their row's maximum; -u^2 / 2): Cephes' expf, 2^n times a
// degree-7 polynomial of the remainder, relative error ~1e-7 (ATen's softmax uses Sleef's 1-ulp expf). Below -87
// the result is ~1e-38, where the true value is smaller still: both vanish beside a softmax row maximum's exp(0) = 1,
// and in GELU's slope (native/kernels/bias_gelu.cpp) beside its other term.
RR_INLINE Floats8 expNonPositive(Floats8 x) {
  x = x < splat(-87.0f) ? splat(-87.0f) : x;
  const Floats8 fx = x * splat(1.44269504088896341f) + splat(0.5f);
  Floats8 n = __builtin_convertvector(__builtin_convertvector(fx, Ints8), Floats8);  // truncated
  n = n > fx ? n - splat(1.0f) : n;                                                 // floored
  const Floats8 r = x - n * splat(0.693359375f) - n * splat(-2.12194440e-4f);
  Floats8 y = splat(1.9875691500e-4f);
  y = y * r + splat(1.3981999507e-3f);
  y = y * r + splat(8.3334519073e-3f);
  y = y * r + splat(4.1665795894e-2f);
  y = y * r + splat(1.6666665459e-1f);
  y = y * r + splat(5.0000001201e-1f);
  y = y * (r * r) + r + splat(1.0f);
  const Ints8 exponent = (__builtin_convertvector(n, Ints8) + 127) << 23;  // 2^n as float bits, n >= -126
  return y * reinterpret_cast<const Floats8&>(exponent);
}

}  // namespace simd
}  // namespace rr
