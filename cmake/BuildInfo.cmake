# Generates build_info.hpp: version, git hash, Kokkos backend, precision.
find_package(Git QUIET)
set(KOLLEKTIV_GIT_HASH "unknown")
if(GIT_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty --abbrev=12
                  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                  OUTPUT_VARIABLE KOLLEKTIV_GIT_HASH OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
  if(NOT KOLLEKTIV_GIT_HASH)
    set(KOLLEKTIV_GIT_HASH "unknown")
  endif()
  # Re-run this when the checkout moves or its index changes, so the hash stays true.
  foreach(_git_file HEAD index)
    if(EXISTS "${PROJECT_SOURCE_DIR}/.git/${_git_file}")
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/.git/${_git_file}")
    endif()
  endforeach()
endif()
if(Kokkos_DEVICES)
  string(REPLACE ";" "," KOLLEKTIV_KOKKOS_BACKEND "${Kokkos_DEVICES}")
else()
  set(KOLLEKTIV_KOKKOS_BACKEND "unknown")
endif()
set(KOLLEKTIV_KOKKOS_VERSION "${Kokkos_VERSION}")
if(KOLLEKTIV_ENABLE_NCCL)
  set(KOLLEKTIV_NCCL_BOOL true)
else()
  set(KOLLEKTIV_NCCL_BOOL false)
endif()
set(KOLLEKTIV_PRECISION "double state, float networks")  # Real and learning::NetReal
configure_file(${PROJECT_SOURCE_DIR}/cmake/build_info.hpp.in
               ${PROJECT_BINARY_DIR}/generated/build_info.hpp @ONLY)
