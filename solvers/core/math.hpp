// Math functions callable inside kernels on every backend, for Kokkos 3.4 and 4.x alike.
// Kokkos moved them from Kokkos::Experimental to Kokkos in 3.7; this is the only shim.
#pragma once

#include <Kokkos_Core.hpp>

namespace kollektiv::math {

#if KOKKOS_VERSION >= 30700
using Kokkos::fabs;
using Kokkos::atan2;
using Kokkos::cos;
using Kokkos::exp;
using Kokkos::isfinite;
using Kokkos::log;
using Kokkos::pow;
using Kokkos::sin;
using Kokkos::sqrt;
using Kokkos::tan;
using Kokkos::tanh;
#else
using Kokkos::Experimental::fabs;
using Kokkos::Experimental::atan2;
using Kokkos::Experimental::cos;
using Kokkos::Experimental::exp;
using Kokkos::Experimental::isfinite;
using Kokkos::Experimental::log;
using Kokkos::Experimental::pow;
using Kokkos::Experimental::sin;
using Kokkos::Experimental::sqrt;
using Kokkos::Experimental::tan;
using Kokkos::Experimental::tanh;
#endif

inline constexpr double pi = 3.141592653589793238462643383279502884;

}  // namespace kollektiv::math
