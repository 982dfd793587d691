// The one place that names Kokkos execution/memory spaces and View types for kollektiv.
// Serial, OpenMP or CUDA is chosen when Kokkos is built; our code never #ifdefs on it.
#pragma once

#include <Kokkos_Core.hpp>
#include <string>
#include <type_traits>
#include <vector>

namespace kollektiv {

using Real = double;  // precision of all simulated state; recorded in build_info

// Robots per lane group of the batched dynamics (solvers/dynamics/lanes.hpp): on CPU
// backends one vector register of doubles, one instruction advancing them all: 8 with
// AVX-512, else 4 (AVX2; 8 there, two registers per value, spilled and ran 2.6x slower on
// the UR5 step on Zen 3); on GPU backends 1, a thread per robot. The only place that chooses
// it (a macro so that lanes.hpp can leave the GCC vector type out of device compilers);
// -DKOLLEKTIV_SIMD_LANES=N overrides.
#ifndef KOLLEKTIV_SIMD_LANES
#if defined(KOKKOS_ENABLE_CUDA) || defined(KOKKOS_ENABLE_HIP) || defined(KOKKOS_ENABLE_SYCL)
#define KOLLEKTIV_SIMD_LANES 1
#elif defined(__AVX512F__)
#define KOLLEKTIV_SIMD_LANES 8
#else
#define KOLLEKTIV_SIMD_LANES 4
#endif
#endif

using ExecSpace = Kokkos::DefaultExecutionSpace;
using MemSpace = ExecSpace::memory_space;
using HostExecSpace = Kokkos::DefaultHostExecutionSpace;

template <class T>
using View = Kokkos::View<T, MemSpace>;
template <class T>
using HostView = Kokkos::View<T, Kokkos::HostSpace>;
// A View of either layout (Kokkos' default layouts differ between host and CUDA): for
// functions that index element by element and must accept both.
template <class T>
using AnyLayoutView = Kokkos::View<T, Kokkos::LayoutStride, MemSpace>;

// Small arrays (parameters, indices, messages) between host vectors and device Views.
template <class T>
View<T*> to_view(const std::vector<T>& values, const std::string& label) {
  View<T*> v(label, values.size());
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t i = 0; i < values.size(); ++i) h(i) = values[i];
  Kokkos::deep_copy(v, h);
  return v;
}
template <class T, class... P>
std::vector<std::remove_const_t<T>> to_vector(const Kokkos::View<T*, P...>& v) {
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<std::remove_const_t<T>>(h.data(), h.data() + h.extent(0));
}

// Name of the backend that kernels run on, e.g. "Serial", "OpenMP", "Cuda".
inline const char* exec_space_name() { return ExecSpace::name(); }

}  // namespace kollektiv
