// Dense tanh network: forward, backward with per-segment parameter gradients, set-up.
#include "solvers/learning/mlp.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "solvers/core/math.hpp"
#include "solvers/core/philox.hpp"

// Full unrolling of the fixed-size tile loops below, so that their accumulators live in
// (vector) registers.
#if defined(__CUDA_ARCH__) || defined(__clang__)
#define KOLLEKTIV_UNROLL _Pragma("unroll")
#elif defined(__CUDACC__)
#define KOLLEKTIV_UNROLL  // nvcc's host pass: GCC and cudafe each reject the other's pragma
#elif defined(__GNUC__)
#define KOLLEKTIV_UNROLL _Pragma("GCC unroll 16")
#else
#define KOLLEKTIV_UNROLL
#endif

namespace kollektiv::learning {

namespace {

// tanh x = 1 - 2 / (1 + e^{2x}); exact to a few ulp of 1 (the absolute error matters for
// an activation), saturating to +-1 without overflow.
KOKKOS_INLINE_FUNCTION double tanh_activation(double x) { return 1 - 2 / (1 + math::exp(2 * x)); }

// tanh x ~ x P(x^2) / Q(x^2) on |x| <= 9 (beyond it tanh rounds to +-1 in float), P and Q
// of degree 4 in x^2, fitted for kollektiv by reweighted least squares
// (tests/bench/fit_tanh.py prints the coefficients and their errors): max |error| 2e-8 in
// exact arithmetic, 3.2e-7 evaluated in float; odd, and 0 at 0. Thirteen operations that
// vectorise, for a float or a vector of floats (libm's tanhf is a scalar call).
template <class U>
KOKKOS_INLINE_FUNCTION U clamp_to_9(U x) {
  const U lo = U{} - 9.0f, hi = U{} + 9.0f;
  return x < lo ? lo : (x > hi ? hi : x);
}

template <class U>
KOKKOS_INLINE_FUNCTION U tanh_rational(U x) {
  x = clamp_to_9(x);
  const U z = x * x;
  U p = z * 1.31840122e-08f + 2.04716702e-05f;
  p = p * z + 3.48657204e-03f;
  p = p * z + 1.33731894e-01f;
  p = p * z + 9.99999906e-01f;
  U q = z * 7.70257416e-07f + 3.27136931e-04f;
  q = q * z + 2.58419418e-02f;
  q = q * z + 4.67064863e-01f;
  q = q * z + 1.0f;
  return x * p / q;
}

KOKKOS_INLINE_FUNCTION float tanh_activation(float x) { return tanh_rational(x); }

// On host builds with GCC or Clang the tiles below are written with the compilers' vector
// extensions (portable across instruction sets: AVX2 here, NEON or SVE elsewhere): left to
// the auto-vectoriser, the same loops kept their accumulators on the stack. Device builds
// (CUDA, HIP, SYCL: views in device memory, LayoutLeft) use the plain loops, one tile per
// thread, in both their host and device passes.
// A vector is one register of the widest instruction set the build targets: 64 bytes with
// AVX-512 (16 floats), else 32 (AVX2: 8 floats; on narrower sets the compiler splits it).
#if (defined(__GNUC__) || defined(__clang__)) && KOLLEKTIV_SIMD_LANES > 1
#define KOLLEKTIV_VECTOR_TILES 1
// The body of a dense kernel's thread (rows_times_matrix) is a function of its own on these
// builds, so that the compiler allocates its registers alone, whatever else the kernel's
// caller inlines (inlined, its code and speed moved by up to 4% with unrelated changes
// elsewhere in this file).
#define KOLLEKTIV_TILE_KERNEL __attribute__((noinline))
#ifdef __AVX512F__
constexpr int vector_bytes = 64;
#else
constexpr int vector_bytes = 32;
#endif
template <class T>
struct Vec {
  typedef T type __attribute__((vector_size(vector_bytes)));
  static constexpr int lanes = vector_bytes / static_cast<int>(sizeof(T));
};

template <class T>
inline typename Vec<T>::type load_vec(const T* p) {
  typename Vec<T>::type v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

#if defined(__AVX512F__) || defined(__AVX2__)
// clamp_to_9 as max(-9, x), then min(9, .): two instructions where the compilers emitted two
// compares and two blends (tanh is a third of a forward pass). x86's max(a, b) and min(a, b)
// return b when either is NaN, so a NaN passes through as before: the same results.
template <>
inline Vec<float>::type clamp_to_9(Vec<float>::type x) {
  using V = Vec<float>::type;
#ifdef __AVX512F__
  using R = __m512;
  // The masked forms with every lane set: the same two instructions. GCC 12's unmasked
  // _mm512_max_ps/_mm512_min_ps pass an undefined vector that -Wmaybe-uninitialized reports.
  const R lo = _mm512_set1_ps(-9.0f), hi = _mm512_set1_ps(9.0f);
  const R y = _mm512_mask_min_ps(hi, 0xFFFF, hi, _mm512_mask_max_ps(lo, 0xFFFF, lo, reinterpret_cast<R>(x)));
#else
  using R = __m256;
  const R y = _mm256_min_ps(_mm256_set1_ps(9.0f), _mm256_max_ps(_mm256_set1_ps(-9.0f), reinterpret_cast<R>(x)));
#endif
  return reinterpret_cast<V>(y);
}
#endif

// tanh_activation(float) on a vector, the same operations lane by lane.
inline Vec<float>::type tanh_activation(Vec<float>::type x) { return tanh_rational(x); }

// Doubles (tests) lane by lane.
inline Vec<double>::type tanh_activation(Vec<double>::type x) {
  for (int l = 0; l < Vec<double>::lanes; ++l) x[l] = tanh_activation(x[l]);
  return x;
}
#endif

#ifndef KOLLEKTIV_TILE_KERNEL
#define KOLLEKTIV_TILE_KERNEL KOKKOS_INLINE_FUNCTION
#endif

// The dense kernels work on tiles of rows x outputs whose accumulators stay in registers:
// each weight loaded serves several rows and each input several outputs. A tile is 6 rows x
// 2 vectors of outputs (12 vector registers: 16 floats wide with AVX2, 32 with AVX-512; 64
// bytes in the plain loops of device builds), or with AVX-512 6 rows x 4 vectors while 64
// outputs are left, each element `init + sum_k x(r, k) m(k, c)` with k ascending. Leftover
// outputs (fewer than a tile) are dot products with k in vector lanes on vector builds
// (dot_lanes, then tree_sums for a vector's worth of rows at once; a narrow layer, all
// leftovers, 16 rows per thread), one at a time over 12 rows otherwise. Either way
// an element takes the same operations in the same order whatever rows share its tile, so a
// row's result never depends on the batch split or on the rank count.
template <class T>
struct Tile {
  static constexpr int rows = 6;
#ifdef KOLLEKTIV_VECTOR_TILES
  static constexpr int cols = 2 * Vec<T>::lanes;
#else
  static constexpr int cols = 64 / static_cast<int>(sizeof(T));
#endif
  static constexpr int block_rows = 2 * rows;  // rows per kernel thread
};

// A row-major matrix inside a flat View: m(k, c) = values(offset + k * stride + c).
template <class T>
struct FlatMatrix {
  View<const T*> values;
  std::int64_t offset = 0;
  int stride = 0;
  KOKKOS_INLINE_FUNCTION T operator()(int k, int c) const {
    return values(offset + static_cast<std::int64_t>(k) * stride + c);
  }
};

// acc[a][c] += sum_{k < depth} x(r[a], k) m(k, c0 + c), k ascending.
template <class T, int R, int C>
KOKKOS_INLINE_FUNCTION void add_tile_product(View<const T**> x, const int (&r)[R], int depth, const FlatMatrix<T>& m,
                                             int c0, T (&acc)[R][C]) {
  for (int k = 0; k < depth; ++k) {
    T w[C];
    KOLLEKTIV_UNROLL
    for (int c = 0; c < C; ++c) w[c] = m(k, c0 + c);
    KOLLEKTIV_UNROLL
    for (int a = 0; a < R; ++a) {
      const T xa = x(r[a], k);
      KOLLEKTIV_UNROLL
      for (int c = 0; c < C; ++c) acc[a][c] += xa * w[c];
    }
  }
}

#ifdef KOLLEKTIV_VECTOR_TILES
// A tile of 6 rows x NV vectors of outputs: out[a][v] lanes are outputs c0 + v * lanes + lane
// of row r[a], b[v] + sum_{k < depth} x(r[a], k) m(k, c), k ascending. 6 x 4 vectors where a
// layer is 64 floats wide with AVX-512 (24 accumulators, 4 weight vectors and a broadcast: 29
// of its 32 registers; each row's input broadcast once per k for all 64 outputs, 10% faster
// than two 6 x 2 tiles), else 6 x 2. The loops are unrolled whole, which keeps the
// accumulators in registers. Needs a row-major (LayoutRight) x and contiguous rows of m.
template <class T, int NV>
inline void tile_product_vec(View<const T**> x, const int (&r)[6], int depth, const FlatMatrix<T>& m, int c0,
                             const typename Vec<T>::type (&b)[NV], typename Vec<T>::type (&out)[6][NV]) {
  static_assert(std::is_same<typename View<const T**>::array_layout, Kokkos::LayoutRight>::value,
                "vector tiles read rows of x as contiguous");
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::lanes, R = 6;
  V acc[R][NV];
  const T* xr[R];
  KOLLEKTIV_UNROLL
  for (int a = 0; a < R; ++a) {
    xr[a] = &x(r[a], 0);
    KOLLEKTIV_UNROLL
    for (int v = 0; v < NV; ++v) acc[a][v] = b[v];
  }
  const T* w = m.values.data() + m.offset + c0;
  for (int k = 0; k < depth; ++k, w += m.stride) {
    V wv[NV];
    KOLLEKTIV_UNROLL
    for (int v = 0; v < NV; ++v) wv[v] = load_vec(w + v * L);
    KOLLEKTIV_UNROLL
    for (int a = 0; a < R; ++a) {
      const T xa = xr[a][k];
      KOLLEKTIV_UNROLL
      for (int v = 0; v < NV; ++v) acc[a][v] += xa * wv[v];
    }
  }
  KOLLEKTIV_UNROLL
  for (int a = 0; a < R; ++a) {
    KOLLEKTIV_UNROLL
    for (int v = 0; v < NV; ++v) out[a][v] = acc[a][v];
  }
}
#endif

#ifdef KOLLEKTIV_VECTOR_TILES
// x[0, n) in the first n lanes of a vector, zero in the others (0 < n < lanes).
template <class T>
inline typename Vec<T>::type load_partial(const T* x, int n) {
#ifdef __AVX512F__
  if constexpr (std::is_same<T, float>::value) {
    using V = typename Vec<T>::type;
    return reinterpret_cast<V>(_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), x));
  }
#endif
  typename Vec<T>::type v{};
  std::memcpy(&v, x, static_cast<std::size_t>(n & (Vec<T>::lanes - 1)) * sizeof(T));  // n < lanes
  return v;
}

// sum_{k < depth} x[k] column[k] with k in vector lanes, before the lanes are added: each
// lane sums its k in ascending order. `column` holds whole vectors (zero past depth); x is
// read only below depth.
template <class T>
inline typename Vec<T>::type dot_lanes(const T* x, const T* column, int depth) {
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::lanes;
  V acc{};
  int k = 0;
  for (; k + L <= depth; k += L) acc += load_vec(x + k) * load_vec(column + k);
  if (k < depth) acc += load_partial(x + k, depth - k) * load_vec(column + k);
  return acc;
}

// dot_lanes for a column of NV vectors held in registers (depth in ((NV - 1) L, NV L]): the
// same products and sums.
template <class T, int NV>
inline typename Vec<T>::type dot_lanes(const T* x, const typename Vec<T>::type (&column)[NV], int depth) {
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::lanes;
  V acc{};
  KOLLEKTIV_UNROLL
  for (int j = 0; j + 1 < NV; ++j) acc += load_vec(x + j * L) * column[j];
  const int n = depth - (NV - 1) * L;  // in (0, L]
  const T* last = x + (NV - 1) * L;
  acc += (n == L ? load_vec(last) : load_partial(last, n)) * column[NV - 1];
  return acc;
}

// The lanes of a dot product are added pairwise in a fixed tree: lane l + lane l + width for
// width = L/2, ..., 1. tree_sums does that for L rows at once: each step adds the lower and
// upper halves of every row's remaining lanes, two rows' vectors packed into one by shuffles,
// so that after the last step lane i holds row i's sum (the same additions in the same order
// as one row at a time, which took 15 scalar adds and a trip through memory per row).
// Lane i of the step's output: pair_lane(i, false) + pair_lane(i, true) of a:b (b's lanes
// numbered from L), rows' partial vectors being W wide after the step, 2W before.
template <int L, int W>
constexpr int pair_lane(int i, bool upper) {
  const int segment = i / (2 * W), within = i % (2 * W);
  return segment * 2 * W + within % W + (within < W ? 0 : L) + (upper ? W : 0);
}

template <int W, class V, std::size_t... I>
inline V pair_sum(V a, V b, std::index_sequence<I...>) {
  constexpr int L = static_cast<int>(sizeof...(I));
  return __builtin_shufflevector(a, b, pair_lane<L, W>(static_cast<int>(I), false)...) +
         __builtin_shufflevector(a, b, pair_lane<L, W>(static_cast<int>(I), true)...);
}

// v[0..2W) -> v[0..W), down to v[0]: lane i of v[0] is the tree sum of the lanes of the input
// v[i] (called with W = L/2 on L vectors).
template <int W, class V>
inline void tree_sums(V* v) {
  constexpr std::size_t L = sizeof(V) / sizeof(v[0][0]);
  for (int j = 0; j < W; ++j) v[j] = pair_sum<W>(v[j], v[j + W], std::make_index_sequence<L>());
  if constexpr (W > 1) tree_sums<W / 2>(v);
}

// Lane i: the dot product of rows xr[i] and `column` (whole vectors, zero past depth), its
// lanes added in tree_sums' tree; the column in registers where it fits in 4 vectors.
template <class T, int NV>
inline typename Vec<T>::type row_dots(const T* const (&xr)[Vec<T>::lanes], const T* column, int depth) {
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::lanes;
  V v[L];
  if constexpr (NV > 0) {
    V c[NV];
    KOLLEKTIV_UNROLL
    for (int j = 0; j < NV; ++j) c[j] = load_vec(column + j * L);
    for (int i = 0; i < L; ++i) v[i] = dot_lanes<T, NV>(xr[i], c, depth);
  } else {
    for (int i = 0; i < L; ++i) v[i] = dot_lanes<T>(xr[i], column, depth);
  }
  tree_sums<L / 2>(v);
  return v[0];
}

template <class T>
inline typename Vec<T>::type row_dots(const T* const (&xr)[Vec<T>::lanes], const T* column, int depth) {
  constexpr int L = Vec<T>::lanes;
  switch ((depth + L - 1) / L) {
    case 1: return row_dots<T, 1>(xr, column, depth);
    case 2: return row_dots<T, 2>(xr, column, depth);
    case 3: return row_dots<T, 3>(xr, column, depth);
    case 4: return row_dots<T, 4>(xr, column, depth);
    default: return row_dots<T, 0>(xr, column, depth);
  }
}
#endif

#ifdef KOLLEKTIV_VECTOR_TILES
// The columns of m past its last whole tile (the outputs computed by dot products: every
// output of a narrow layer), each contiguous and zero-padded to whole vectors: gathered once
// per layer call rather than per block of rows (the strided copy cost as much as the dot
// products). A View, so that the kernel's copies of it share the values.
template <class T>
class LeftoverColumns {
 public:
  LeftoverColumns(const FlatMatrix<T>& m, int depth, int cols)
      : first_(cols / Tile<T>::cols * Tile<T>::cols),
        padded_((depth + Vec<T>::lanes - 1) / Vec<T>::lanes * Vec<T>::lanes),
        values_("learning::leftover_columns", static_cast<std::size_t>(cols - first_) * static_cast<std::size_t>(padded_)) {
    for (int c = first_; c < cols; ++c)
      for (int k = 0; k < depth; ++k) values_(static_cast<std::size_t>(c - first_) * padded_ + k) = m(k, c);
  }
  // Column c, first <= c < cols: whole vectors, zero past depth.
  const T* column(int c) const { return values_.data() + static_cast<std::size_t>(c - first_) * padded_; }

 private:
  int first_, padded_;
  Kokkos::View<T*, Kokkos::HostSpace> values_;  // zero past each column's depth
};
#else
// Builds without vector tiles read the leftover outputs' weights from m itself.
template <class T>
struct LeftoverColumns {
  LeftoverColumns(const FlatMatrix<T>&, int, int) {}
};
#endif

// A layer's initial sums: init(c) for output c, and on vector builds init.vector(c0), the
// outputs [c0, c0 + lanes) as a vector, loaded whole (a vector loaded from a tile's worth of
// scalars just stored stalled on store forwarding: an eighth of a forward pass).
template <class T>
struct Biases {  // a layer's biases (in the parameters' memory space)
  const T* values;
  KOKKOS_INLINE_FUNCTION T operator()(int c) const { return values[c]; }
#ifdef KOLLEKTIV_VECTOR_TILES
  typename Vec<T>::type vector(int c0) const { return load_vec(values + c0); }
#endif
};

template <class T>
struct Zeros {  // no bias: backpropagated deltas
  KOKKOS_INLINE_FUNCTION T operator()(int) const { return T(0); }
#ifdef KOLLEKTIV_VECTOR_TILES
  typename Vec<T>::type vector(int) const { return typename Vec<T>::type{}; }
#endif
};

#ifdef KOLLEKTIV_VECTOR_TILES
// The leftover outputs c in [c_begin, cols) of the L rows xr, of which the first n are kept
// (the others repeat a kept row): finish(row0 + i, c, act(init(c) + dot)), the dot product
// with k in vector lanes (dot_lanes), the L rows' lanes added at once (tree_sums). Each
// row's result takes the same operations whatever rows share its call.
template <class T, class Init, class Finish>
inline void leftover_outputs(const T* const (&xr)[Vec<T>::lanes], int n, int row0, int depth, int c_begin, int cols,
                             const LeftoverColumns<T>& leftover, const Init& init, bool tanh, const Finish& finish) {
  for (int c = c_begin; c < cols; ++c) {
    const T bias = init(c);
    const typename Vec<T>::type sums = row_dots<T>(xr, leftover.column(c), depth);
    for (int i = 0; i < n; ++i) {
      const T out = bias + sums[i];
      finish(row0 + i, c, tanh ? tanh_activation(out) : out);
    }
  }
}
#endif

// For rows [r0, r0 + block_rows) of [0, rows) and every c < cols:
//   out(r, c) = act(init(c) + sum_{k < depth} x(r, k) m(k, c)),
// act = tanh when `tanh`; then finish(r, c, v) stores one output, or on vector builds
// finish.store(r, c0, v0, v1) the 2 vectors of outputs [c0, c0 + C) of row r (the same
// operations lane by lane; a column always takes the same path, 4-vector tiles, 2-vector tiles
// or dot products, by its place in the layer's width). `init`: Biases or Zeros. `leftover`:
// m's columns past its last whole 2-vector tile, gathered.
template <class T, class Init, class Finish>
KOLLEKTIV_TILE_KERNEL void rows_times_matrix(View<const T**> x, int r0, int rows, int depth, const FlatMatrix<T>& m,
                                             int cols, const LeftoverColumns<T>& leftover, const Init& init,
                                             bool tanh, const Finish& finish) {
  constexpr int R = Tile<T>::rows, C = Tile<T>::cols, RB = Tile<T>::block_rows;
  int r[RB];  // rows past the end repeat the last row; their results are dropped
  for (int a = 0; a < RB; ++a) r[a] = r0 + a < rows ? r0 + a : rows - 1;
  int c0 = 0;
#ifdef KOLLEKTIV_VECTOR_TILES
  static_assert(C == 2 * Vec<T>::lanes, "a tile is two vectors wide");
  // Tiles of NV vectors from c0 on while whole ones fit: act, then finish.store two vectors at
  // a time.
  const auto tiles = [&](auto nv) {
    constexpr int NV = decltype(nv)::value, W = NV * Vec<T>::lanes;
    using V = typename Vec<T>::type;
    for (; c0 + W <= cols; c0 += W) {
      V b[NV];
      for (int v = 0; v < NV; ++v) b[v] = init.vector(c0 + v * Vec<T>::lanes);
      for (int h = 0; h < RB && r0 + h < rows; h += R) {
        int rh[R];
        for (int a = 0; a < R; ++a) rh[a] = r[h + a];
        V vacc[R][NV];
        tile_product_vec<T, NV>(x, rh, depth, m, c0, b, vacc);
        for (int a = 0; a < R; ++a) {
          if (r0 + h + a >= rows) continue;
          KOLLEKTIV_UNROLL
          for (int v = 0; v < NV; ++v)
            if (tanh) vacc[a][v] = tanh_activation(vacc[a][v]);
          KOLLEKTIV_UNROLL
          for (int v = 0; v < NV; v += 2) finish.store(r0 + h + a, c0 + v * Vec<T>::lanes, vacc[a][v], vacc[a][v + 1]);
        }
      }
    }
  };
#ifdef __AVX512F__
  tiles(std::integral_constant<int, 4>());
#endif
  tiles(std::integral_constant<int, 2>());
#else
  for (; c0 + C <= cols; c0 += C) {
    for (int h = 0; h < RB && r0 + h < rows; h += R) {
      int rh[R];
      for (int a = 0; a < R; ++a) rh[a] = r[h + a];
      T acc[R][C];
      KOLLEKTIV_UNROLL
      for (int a = 0; a < R; ++a) {
        KOLLEKTIV_UNROLL
        for (int c = 0; c < C; ++c) acc[a][c] = init(c0 + c);
      }
      add_tile_product<T, R, C>(x, rh, depth, m, c0, acc);
      if (tanh) {
        KOLLEKTIV_UNROLL
        for (int a = 0; a < R; ++a) {
          KOLLEKTIV_UNROLL
          for (int c = 0; c < C; ++c) acc[a][c] = tanh_activation(acc[a][c]);
        }
      }
      // Constant trip counts wherever acc is indexed, so that it stays in registers.
      KOLLEKTIV_UNROLL
      for (int a = 0; a < R; ++a) {
        if (r0 + h + a >= rows) continue;
        KOLLEKTIV_UNROLL
        for (int c = 0; c < C; ++c) finish(r0 + h + a, c0 + c, acc[a][c]);
      }
    }
  }
#endif
#ifdef KOLLEKTIV_VECTOR_TILES
  // Leftover outputs (every output of a narrow layer, e.g. a network's last): a dot product
  // per row, k in vector lanes (scalar tiles of 12 rows took as long as a whole 64-wide
  // layer), the lanes of L rows added at once. init + dot, the dot's sums in the same order
  // for every row.
  constexpr int L = Vec<T>::lanes;
  for (int a0 = 0; c0 < cols && a0 < RB && r0 + a0 < rows; a0 += L) {  // L rows at a time
    const T* xr[L];
    for (int i = 0; i < L; ++i) xr[i] = &x(r[a0 + i < RB ? a0 + i : RB - 1], 0);
    const int n = std::min(std::min(L, RB - a0), rows - r0 - a0);
    leftover_outputs<T>(xr, n, r0 + a0, depth, c0, cols, leftover, init, tanh, finish);
  }
#else
  (void)leftover;
  for (; c0 < cols; ++c0) {
    T acc[RB][1];
    KOLLEKTIV_UNROLL
    for (int a = 0; a < RB; ++a) acc[a][0] = init(c0);
    add_tile_product<T, RB, 1>(x, r, depth, m, c0, acc);
    KOLLEKTIV_UNROLL
    for (int a = 0; a < RB; ++a)
      if (r0 + a < rows) finish(r0 + a, c0, tanh ? tanh_activation(acc[a][0]) : acc[a][0]);
  }
#endif
}

template <class T>
int row_blocks(int rows) {
  return (rows + Tile<T>::block_rows - 1) / Tile<T>::block_rows;
}

// Stores a layer's outputs: y(r, c) = v.
template <class T>
struct StoreOutput {
  View<T**> y;
  KOKKOS_INLINE_FUNCTION void operator()(int r, int c, T v) const { y(r, c) = v; }
#ifdef KOLLEKTIV_VECTOR_TILES
  using V = typename Vec<T>::type;
  void store(int r, int c0, V v0, V v1) const {
    T* p = &y(r, c0);
    std::memcpy(p, &v0, sizeof v0);
    std::memcpy(p + Vec<T>::lanes, &v1, sizeof v1);
  }
#endif
};

// Stores a backpropagated delta: dx(r, j) = v, times (1 - a(r, j)^2) behind a tanh layer.
template <class T>
struct StoreInputDelta {
  View<T**> dx;
  View<const T**> a;  // the tanh layer's output, or empty for the network input
  bool through_tanh;
  KOKKOS_INLINE_FUNCTION void operator()(int r, int j, T v) const {
    dx(r, j) = through_tanh ? v * (1 - a(r, j) * a(r, j)) : v;
  }
#ifdef KOLLEKTIV_VECTOR_TILES
  using V = typename Vec<T>::type;
  void store(int r, int j0, V v0, V v1) const {
    if (through_tanh) {
      const V a0 = load_vec(&a(r, j0)), a1 = load_vec(&a(r, j0) + Vec<T>::lanes);
      v0 = v0 * (1 - a0 * a0);
      v1 = v1 * (1 - a1 * a1);
    }
    T* p = &dx(r, j0);
    std::memcpy(p, &v0, sizeof v0);
    std::memcpy(p + Vec<T>::lanes, &v1, sizeof v1);
  }
#endif
};

// y(r, :) = act(x(r, :) W + b) for one layer.
template <class T>
void dense_forward(View<const T*> params, View<const T**> x, int rows, const DenseLayer& layer, View<T**> y) {
  if (rows == 0) return;
  const int in = layer.in, out = layer.out;
  const FlatMatrix<T> w{params, layer.weight_offset, out};
  const Biases<T> biases{params.data() + layer.bias_offset};
  const bool use_tanh = layer.tanh;
  const LeftoverColumns<T> leftover(w, in, out);
#ifdef KOLLEKTIV_VECTOR_TILES
  if (out < Tile<T>::cols) {  // narrow (a network's last layer): only dot products, L rows per thread
    constexpr int L = Vec<T>::lanes;
    Kokkos::parallel_for(
        "learning::narrow_forward", Kokkos::RangePolicy<ExecSpace>(0, (rows + L - 1) / L), KOKKOS_LAMBDA(const int t) {
          const int r0 = t * L, n = std::min(L, rows - r0);
          const T* xr[L];
          for (int i = 0; i < L; ++i) xr[i] = &x(r0 + std::min(i, n - 1), 0);
          leftover_outputs<T>(
              xr, n, r0, in, 0, out, leftover, biases, use_tanh, StoreOutput<T>{y});
        });
    return;
  }
#endif
  Kokkos::parallel_for(
      "learning::dense_forward", Kokkos::RangePolicy<ExecSpace>(0, row_blocks<T>(rows)), KOKKOS_LAMBDA(const int t) {
        rows_times_matrix<T>(
            x, t * Tile<T>::block_rows, rows, in, w, out, leftover, biases, use_tanh,
            StoreOutput<T>{y});
      });
}

// wt(i * in + j) = W(j, i): the layer's weights transposed, so that the backward pass
// streams contiguous rows as the forward pass does.
template <class T>
void transpose_weights(View<const T*> params, const DenseLayer& layer, View<T*> wt) {
  const int in = layer.in, out = layer.out;
  const std::int64_t wo = layer.weight_offset;
#ifdef KOLLEKTIV_VECTOR_TILES
  // Host vector builds: a thread per row of wt (an output), its inputs in a loop. A thread per
  // weight spent more on the two-dimensional policy's per-index work than on the copy
  // (Mlp::backward's own time, mostly this copy, 1.2 % -> 0.9 % of a reach training run).
  Kokkos::parallel_for(
      "learning::transpose_weights", Kokkos::RangePolicy<ExecSpace>(0, out), KOKKOS_LAMBDA(const int i) {
        T* row = &wt(static_cast<std::int64_t>(i) * in);
        const T* column = &params(wo + i);
        for (int j = 0; j < in; ++j) row[j] = column[static_cast<std::int64_t>(j) * out];
      });
#else
  // Elsewhere (GPU backends) a thread per weight.
  Kokkos::parallel_for(
      "learning::transpose_weights", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {out, in}),
      KOKKOS_LAMBDA(const int i, const int j) {
        wt(static_cast<std::int64_t>(i) * in + j) = params(wo + static_cast<std::int64_t>(j) * out + i);
      });
#endif
}

#ifdef KOLLEKTIV_VECTOR_TILES
// Products at most this deep (a backward pass through a layer of so few outputs) skip the
// tiles: a row at a time was 1.3-1.4x faster at depths 2-4 (64 outputs), the tiles faster
// from 6 on.
constexpr int shallow_depth = 4;
#endif

// dx(r, j) = sum_i delta(r, i) W(j, i), times (1 - a(r, j)^2) when the input `a` is the
// output of a tanh layer (pass an empty `a` for the network input).
template <class T>
void dense_backprop(View<const T*> wt, View<const T**> delta, int rows, const DenseLayer& layer, View<const T**> a,
                    View<T**> dx) {
  if (rows == 0) return;
  const int in = layer.in, out = layer.out;
  const FlatMatrix<T> w_t{wt, 0, in};
  const bool through_tanh = a.extent(0) > 0;
  const StoreInputDelta<T> finish{dx, a, through_tanh};
#ifdef KOLLEKTIV_VECTOR_TILES
  if (out <= shallow_depth && in % Tile<T>::cols == 0) {
    // Through a narrow layer (a network's last: 1 or 2 outputs): a row at a time, each pair
    // of vectors of dx 0 + sum_i delta(r, i) W(:, i), i ascending, the tiles' operations
    // without their set-up, which cost 4x the products at this depth.
    using V = typename Vec<T>::type;
    constexpr int L = Vec<T>::lanes;
    const T* w = wt.data();
    Kokkos::parallel_for(
        "learning::shallow_backprop", Kokkos::RangePolicy<ExecSpace>(0, rows), KOKKOS_LAMBDA(const int r) {
          const T* d = &delta(r, 0);
          for (int j0 = 0; j0 < in; j0 += 2 * L) {
            V a0{}, a1{};
            for (int i = 0; i < out; ++i) {
              a0 += d[i] * load_vec(w + static_cast<std::ptrdiff_t>(i) * in + j0);
              a1 += d[i] * load_vec(w + static_cast<std::ptrdiff_t>(i) * in + j0 + L);
            }
            finish.store(r, j0, a0, a1);
          }
        });
    return;
  }
#endif
  const LeftoverColumns<T> leftover(w_t, out, in);
  Kokkos::parallel_for(
      "learning::dense_backprop", Kokkos::RangePolicy<ExecSpace>(0, row_blocks<T>(rows)), KOKKOS_LAMBDA(const int t) {
        rows_times_matrix<T>(
            delta, t * Tile<T>::block_rows, rows, out, w_t, in, leftover, Zeros<T>{}, false, finish);
      });
}

// Inputs per weight-gradient tile: 6 (12 accumulators), and on AVX-512 builds, whose 32
// vector registers hold twice as many, 12 for all but a layer's last few inputs (half as
// many passes over a segment's rows).
constexpr int gradient_tile_inputs = 6;
#if defined(KOLLEKTIV_VECTOR_TILES) && defined(__AVX512F__)
constexpr int wide_gradient_tile_inputs = 12;
#else
constexpr int wide_gradient_tile_inputs = gradient_tile_inputs;
#endif

// Tiles of the weight gradient: J inputs x a tile's outputs held in registers while a
// segment's rows stream past. acc[u][c] = sum over rows [row_begin, row_end), in order, of
// x(r, j[u]) * delta(r, i0 + c), or of delta(r, i0 + c) for the bias tile.
template <class T, int J, int C, bool bias>
KOKKOS_INLINE_FUNCTION void gradient_tile(View<const T**> x, View<const T**> delta, const int (&j)[J], int row_begin,
                                          int row_end, int i0, T (&acc)[J][C]) {
  KOLLEKTIV_UNROLL
  for (int u = 0; u < J; ++u) {
    KOLLEKTIV_UNROLL
    for (int c = 0; c < C; ++c) acc[u][c] = 0;
  }
  for (int r = row_begin; r < row_end; ++r) {
    T d[C];
    KOLLEKTIV_UNROLL
    for (int c = 0; c < C; ++c) d[c] = delta(r, i0 + c);
    KOLLEKTIV_UNROLL
    for (int u = 0; u < J; ++u) {
      const T xu = bias ? T(1) : x(r, j[u]);
      KOLLEKTIV_UNROLL
      for (int c = 0; c < C; ++c) acc[u][c] += xu * d[c];
    }
  }
}

#ifdef KOLLEKTIV_VECTOR_TILES
// out[0, lanes) = v converted to Real, lane by lane (vector conversions and stores: one
// scalar conversion and store per value was a tenth of a weight-gradient tile).
template <class T>
inline void store_as_real(typename Vec<T>::type v, Real* out) {
  typedef Real Reals __attribute__((vector_size(Vec<T>::lanes * sizeof(Real))));
  const Reals r = __builtin_convertvector(v, Reals);
  std::memcpy(out, &r, sizeof r);
}
#endif

#ifdef KOLLEKTIV_VECTOR_TILES
// gradient_tile's sums for inputs j0 + u, u < J, two vectors of outputs from i0, in vector
// registers (fully unrolled, constant indices). A partial tile (`full` false: nj < J inputs
// left) repeats its last input, whose extra sums are dropped.
template <class T, int J, bool full>
inline void gradient_tile_vec(View<const T**> x, View<const T**> delta, int j0, int nj, int row_begin, int row_end,
                              int i0, typename Vec<T>::type (&acc)[J][2]) {
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::lanes;
  int offset[J];
  KOLLEKTIV_UNROLL
  for (int u = 0; u < J; ++u) offset[u] = full || u < nj ? u : nj - 1;
  KOLLEKTIV_UNROLL
  for (int u = 0; u < J; ++u) acc[u][0] = acc[u][1] = V{};
  for (int r = row_begin; r < row_end; ++r) {
    const T* d = &delta(r, i0);
    const V d0 = load_vec(d), d1 = load_vec(d + L);
    const T* xr = &x(r, j0);
    KOLLEKTIV_UNROLL
    for (int u = 0; u < J; ++u) {
      const T xu = xr[offset[u]];
      acc[u][0] += xu * d0;
      acc[u][1] += xu * d1;
    }
  }
}
#endif

// partial(g, column(j0 + u, i)) for u < nj and every i < out: segment g's sums for one tile
// of J inputs (bias: the bias row, nj == 1). Outputs in tiles, then one at a time.
template <class T, int J, bool bias>
KOKKOS_INLINE_FUNCTION void segment_gradient(View<const T**> x, View<const T**> delta, int in, int out, int j0,
                                             int row_begin, int row_end, View<Real**> partial, int g,
                                             std::int64_t first_column) {
  constexpr int C = Tile<T>::cols;
  int j[J];  // inputs past the last repeat it; their sums are dropped
  for (int u = 0; u < J; ++u) j[u] = j0 + u < in ? j0 + u : in - 1;
  const int nj = bias ? 1 : (in - j0 < J ? in - j0 : J);
  int i0 = 0;
#ifdef KOLLEKTIV_VECTOR_TILES
  for (; !bias && i0 + C <= out; i0 += C) {
    typename Vec<T>::type acc[J][2];
    if (nj == J)
      gradient_tile_vec<T, J, true>(x, delta, j0, nj, row_begin, row_end, i0, acc);
    else
      gradient_tile_vec<T, J, false>(x, delta, j0, nj, row_begin, row_end, i0, acc);
    for (int u = 0; u < nj; ++u) {
      store_as_real<T>(acc[u][0], &partial(g, first_column + static_cast<std::int64_t>(u) * out + i0));
      store_as_real<T>(acc[u][1], &partial(g, first_column + static_cast<std::int64_t>(u) * out + i0 + Vec<T>::lanes));
    }
  }
#endif
  for (; i0 + C <= out; i0 += C) {
    T acc[J][C];
    gradient_tile<T, J, C, bias>(x, delta, j, row_begin, row_end, i0, acc);
    KOLLEKTIV_UNROLL
    for (int u = 0; u < J; ++u) {
      if (u >= nj) continue;
      KOLLEKTIV_UNROLL
      for (int c = 0; c < C; ++c) partial(g, first_column + static_cast<std::int64_t>(u) * out + i0 + c) = acc[u][c];
    }
  }
  for (; i0 < out; ++i0) {
    T acc[J][1];
    gradient_tile<T, J, 1, bias>(x, delta, j, row_begin, row_end, i0, acc);
    KOLLEKTIV_UNROLL
    for (int u = 0; u < J; ++u)
      if (u < nj) partial(g, first_column + static_cast<std::int64_t>(u) * out + i0) = acc[u][0];
  }
}

#ifdef KOLLEKTIV_VECTOR_TILES
// partial(g, first_column + i) = sum over rows [row_begin, row_end), in order, of
// delta(r, i), for i in [i0, i0 + NV vectors): NV accumulators, one pass over the rows.
template <class T, int NV>
inline void bias_gradient_vectors(View<const T**> delta, int i0, int row_begin, int row_end, View<Real**> partial,
                                  int g, std::int64_t first_column) {
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::lanes;
  V acc[NV];
  KOLLEKTIV_UNROLL
  for (int v = 0; v < NV; ++v) acc[v] = V{};
  for (int r = row_begin; r < row_end; ++r) {
    const T* d = &delta(r, i0);
    KOLLEKTIV_UNROLL
    for (int v = 0; v < NV; ++v) acc[v] += load_vec(d + v * L);
  }
  KOLLEKTIV_UNROLL
  for (int v = 0; v < NV; ++v) store_as_real<T>(acc[v], &partial(g, first_column + i0 + v * L));
}

// The bias row of a segment's gradient (the same sums as a tile with input 1, at a sixth of
// its work): outputs 8 vectors at a time, then 4, 2 and 1, then one at a time.
template <class T>
inline void segment_bias_gradient(View<const T**> delta, int out, int row_begin, int row_end, View<Real**> partial,
                                  int g, std::int64_t first_column) {
  constexpr int L = Vec<T>::lanes;
  int i0 = 0;
  for (; i0 + 8 * L <= out; i0 += 8 * L)
    bias_gradient_vectors<T, 8>(delta, i0, row_begin, row_end, partial, g, first_column);
  if (i0 + 4 * L <= out) {
    bias_gradient_vectors<T, 4>(delta, i0, row_begin, row_end, partial, g, first_column);
    i0 += 4 * L;
  }
  if (i0 + 2 * L <= out) {
    bias_gradient_vectors<T, 2>(delta, i0, row_begin, row_end, partial, g, first_column);
    i0 += 2 * L;
  }
  if (i0 + L <= out) {
    bias_gradient_vectors<T, 1>(delta, i0, row_begin, row_end, partial, g, first_column);
    i0 += L;
  }
  for (; i0 < out; ++i0) {
    T sum = 0;
    for (int r = row_begin; r < row_end; ++r) sum += delta(r, i0);
    partial(g, first_column + i0) = sum;
  }
}

// A narrow layer's gradient (fewer outputs than a tile, e.g. a network's last layer): inputs
// [j0, j0 + 4 L) (or up to the last whole vector) in vector lanes, 2 outputs at a time, so
// that the rows stream once past 8 accumulators instead of scalar tiles. The same sums in
// the same row order as gradient_tile's.
template <class T>
inline void narrow_segment_gradient(View<const T**> x, View<const T**> delta, int in, int out, int j0, int row_begin,
                                    int row_end, View<Real**> partial, int g, std::int64_t weight_offset) {
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::lanes, J = 4 * L;
  const int vectors = (in - j0 >= J ? J : (in - j0) / L * L) / L;  // whole vectors of inputs
  const auto store = [&](const V (&acc)[4], int i) {
    T values[J];
    std::memcpy(values, acc, sizeof values);
    for (int u = 0; u < vectors * L; ++u) partial(g, weight_offset + static_cast<std::int64_t>(j0 + u) * out + i) = values[u];
  };
  int i = 0;
  for (; i + 2 <= out; i += 2) {
    V a0{}, a1{}, a2{}, a3{}, b0{}, b1{}, b2{}, b3{};
    for (int r = row_begin; r < row_end; ++r) {
      const T* xr = &x(r, j0);
      const T d0 = delta(r, i), d1 = delta(r, i + 1);
      const V x0 = load_vec(xr), x1 = vectors > 1 ? load_vec(xr + L) : V{}, x2 = vectors > 2 ? load_vec(xr + 2 * L) : V{},
              x3 = vectors > 3 ? load_vec(xr + 3 * L) : V{};
      a0 += x0 * d0, a1 += x1 * d0, a2 += x2 * d0, a3 += x3 * d0;
      b0 += x0 * d1, b1 += x1 * d1, b2 += x2 * d1, b3 += x3 * d1;
    }
    store({a0, a1, a2, a3}, i);
    store({b0, b1, b2, b3}, i + 1);
  }
  for (; i < out; ++i) {
    V a0{}, a1{}, a2{}, a3{};
    for (int r = row_begin; r < row_end; ++r) {
      const T* xr = &x(r, j0);
      const T d = delta(r, i);
      a0 += load_vec(xr) * d;
      if (vectors > 1) a1 += load_vec(xr + L) * d;
      if (vectors > 2) a2 += load_vec(xr + 2 * L) * d;
      if (vectors > 3) a3 += load_vec(xr + 3 * L) * d;
    }
    store({a0, a1, a2, a3}, i);
  }
}
#endif

// Each segment's gradient of a dense layer y = x W + b (W stored [in][out]):
//   partial(g, weight_offset + j*out + i) = sum over rows of g of x(r,j) * delta(r,i)
//   partial(g, bias_offset + i)           = sum over rows of g of delta(r,i)
template <class T>
void layer_gradient(View<const T**> x, View<const T**> delta, const DenseLayer& layer, const Segments& segments,
                    View<Real**> partial) {
  if (segments.count == 0) return;
  const auto begin = segments.begin;
  const int in = layer.in, out = layer.out;
  const std::int64_t wo = layer.weight_offset, bo = layer.bias_offset;
  constexpr int J = gradient_tile_inputs;
#ifdef KOLLEKTIV_VECTOR_TILES
  constexpr int L = Vec<T>::lanes;
  if (out < Tile<T>::cols && in >= L) {
    // Narrow: groups of whole vectors of inputs, then single inputs, then the bias row.
    const int whole = in / L * L, groups = (whole + 4 * L - 1) / (4 * L), rest = in - whole;
    Kokkos::parallel_for(
        "learning::narrow_layer_gradient", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {segments.count, groups + 2}),
        KOKKOS_LAMBDA(const int g, const int jt) {
          const int row_begin = begin(g), row_end = begin(g + 1);
          if (jt < groups) {
            narrow_segment_gradient<T>(x, delta, whole, out, 4 * L * jt, row_begin, row_end, partial, g, wo);
          } else if (jt == groups) {
            for (int j = whole; j < whole + rest; ++j)
              for (int i = 0; i < out; ++i) {
                T sum = 0;
                for (int r = row_begin; r < row_end; ++r) sum += x(r, j) * delta(r, i);
                partial(g, wo + static_cast<std::int64_t>(j) * out + i) = sum;
              }
          } else {
            segment_bias_gradient<T>(delta, out, row_begin, row_end, partial, g, bo);
          }
        });
    return;
  }
#endif
  // Tiles of JW inputs, those left in tiles of J (the last one 2 wide when it holds at most 2),
  // then the bias row. Each sum takes the rows in order whatever tile holds it.
  constexpr int JW = wide_gradient_tile_inputs;
  const int wide_tiles = in / JW, rest_from = JW * wide_tiles, input_tiles = wide_tiles + (in - rest_from + J - 1) / J;
  // One thread per (segment, tile of inputs); the last tile is the bias row.
  Kokkos::parallel_for(
      "learning::layer_gradient",
      Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {segments.count, input_tiles + 1}),
      KOKKOS_LAMBDA(const int g, const int jt) {
        const int row_begin = begin(g), row_end = begin(g + 1);
        const int j0 = jt < wide_tiles ? JW * jt : rest_from + J * (jt - wide_tiles);
        if (jt < wide_tiles)
          segment_gradient<T, JW, false>(x, delta, in, out, j0, row_begin, row_end, partial, g,
                                         wo + static_cast<std::int64_t>(j0) * out);
        else if (jt < input_tiles && in - j0 <= 2)  // a last tile of 1 or 2 inputs (13 = 12 + 1): 2 wide
          segment_gradient<T, 2, false>(x, delta, in, out, j0, row_begin, row_end, partial, g,
                                        wo + static_cast<std::int64_t>(j0) * out);
        else if (jt < input_tiles)
          segment_gradient<T, J, false>(x, delta, in, out, j0, row_begin, row_end, partial, g,
                                        wo + static_cast<std::int64_t>(j0) * out);
        else
#ifdef KOLLEKTIV_VECTOR_TILES
          segment_bias_gradient<T>(delta, out, row_begin, row_end, partial, g, bo);
#else
          segment_gradient<T, 1, true>(x, delta, in, out, in, row_begin, row_end, partial, g, bo);
#endif
      });
}

}  // namespace

Mlp::Mlp(const std::vector<int>& widths, std::int64_t base_offset) : widths_(widths), base_(base_offset) {
  if (widths.size() < 2) throw std::invalid_argument("learning::Mlp needs at least input and output widths");
  std::int64_t offset = base_offset;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    DenseLayer layer;
    layer.in = widths[l];
    layer.out = widths[l + 1];
    if (layer.in < 1 || layer.out < 1 || layer.in > max_layer_width || layer.out > max_layer_width)
      throw std::invalid_argument("learning::Mlp layer widths must lie in [1, " +
                                  std::to_string(max_layer_width) + "]");
    layer.weight_offset = offset;
    layer.bias_offset = offset + static_cast<std::int64_t>(layer.in) * layer.out;
    layer.tanh = l + 2 < widths.size();
    offset = layer.bias_offset + layer.out;
    layers_.push_back(layer);
  }
  count_ = offset - base_offset;
}

std::int64_t Mlp::weight_count() const {
  std::int64_t n = 0;
  for (const auto& l : layers_) n += static_cast<std::int64_t>(l.in) * l.out;
  return n;
}

template <class T>
MlpWork<T> Mlp::make_work(int rows) const {
  MlpWork<T> w;
  w.capacity = rows;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const auto& layer = layers_[l];
    w.activation.emplace_back("learning::activation", rows, layer.out);
    if (l + 1 < layers_.size()) w.delta.emplace_back("learning::delta", rows, layer.out);
    w.weights_t.emplace_back("learning::weights_t", static_cast<std::size_t>(layer.out) * layer.in);
  }
  return w;
}

void Mlp::initialize(View<Real*> params, std::uint64_t seed, double output_gain) const {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), params);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const auto& layer = layers_[l];
    const double gain = layer.tanh ? std::sqrt(2.0) : output_gain;
    const double scale = gain / std::sqrt(static_cast<double>(layer.in));
    for (std::int64_t p = layer.weight_offset; p < layer.bias_offset; ++p)
      host(p) = scale * rng::normal(rng::draw(seed, rng::Stream::parameter_init, static_cast<std::uint64_t>(p), 0));
    for (int i = 0; i < layer.out; ++i) host(layer.bias_offset + i) = 0;
  }
  Kokkos::deep_copy(params, host);
}

template <class T>
void Mlp::forward(View<const T*> params, View<const T**> x, int rows, MlpWork<T>& work) const {
  View<const T**> input = x;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    dense_forward<T>(params, input, rows, layers_[l], work.activation[l]);
    input = work.activation[l];
  }
}

template <class T>
void Mlp::backward(View<const T*> params, View<const T**> x, int rows, View<const T**> dy, const Segments& segments,
                   MlpWork<T>& work, View<Real**> partial, View<T**> dx) const {
  View<const T**> delta = dy;
  for (int l = static_cast<int>(layers_.size()) - 1; l >= 0; --l) {
    const auto& layer = layers_[l];
    const View<const T**> input = l == 0 ? x : View<const T**>(work.activation[l - 1]);
    layer_gradient<T>(input, delta, layer, segments, partial);
    if (l > 0 || dx.extent(0) > 0) transpose_weights<T>(params, layer, work.weights_t[l]);
    if (l > 0) {
      dense_backprop<T>(work.weights_t[l], delta, rows, layer, work.activation[l - 1], work.delta[l - 1]);
      delta = work.delta[l - 1];
    } else if (dx.extent(0) > 0) {
      dense_backprop<T>(work.weights_t[l], delta, rows, layer, View<const T**>(), dx);
    }
  }
}

template <class T>
void convert_parameters(View<const Real*> src, View<T*> dst) {
  Kokkos::parallel_for(
      "learning::convert_parameters", Kokkos::RangePolicy<ExecSpace>(0, src.extent(0)),
      KOKKOS_LAMBDA(const std::int64_t i) { dst(i) = static_cast<T>(src(i)); });
}

#define KOLLEKTIV_MLP_INSTANTIATE(T)                                                                              \
  template MlpWork<T> Mlp::make_work<T>(int) const;                                                               \
  template void Mlp::forward<T>(View<const T*>, View<const T**>, int, MlpWork<T>&) const;                         \
  template void Mlp::backward<T>(View<const T*>, View<const T**>, int, View<const T**>, const Segments&,          \
                                 MlpWork<T>&, View<Real**>, View<T**>) const;                                     \
  template void convert_parameters<T>(View<const Real*>, View<T*>);
KOLLEKTIV_MLP_INSTANTIATE(float)
KOLLEKTIV_MLP_INSTANTIATE(double)
#undef KOLLEKTIV_MLP_INSTANTIATE

}  // namespace kollektiv::learning
