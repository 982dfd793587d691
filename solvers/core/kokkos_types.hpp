// The one place that names Kokkos execution/memory spaces and View types for kollektiv.
// Serial, OpenMP or CUDA is chosen when Kokkos is built; our code never #ifdefs on it.
#pragma once

#include <Kokkos_Core.hpp>

namespace kollektiv {

using Real = double;  // precision of all simulated state; recorded in build_info

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

// Name of the backend that kernels run on, e.g. "Serial", "OpenMP", "Cuda".
inline const char* exec_space_name() { return ExecSpace::name(); }

}  // namespace kollektiv
