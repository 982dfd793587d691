# Imported-target repairs and the compile settings every kollektiv module shares.

# Debian's Kokkos 3.4 points Kokkos::kokkos at <prefix>/include, which lacks the headers;
# they live in Kokkos_INCLUDE_DIRS. Also mark them SYSTEM so -Wall -Wextra stays ours.
if(TARGET Kokkos::kokkos AND Kokkos_INCLUDE_DIRS)
  get_target_property(_kk_inc Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
  set(_kk_fixed "")
  foreach(_dir IN LISTS _kk_inc)
    if(EXISTS "${_dir}/Kokkos_Core.hpp")
      list(APPEND _kk_fixed "${_dir}")
    endif()
  endforeach()
  if(NOT _kk_fixed)
    set_target_properties(Kokkos::kokkos PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${Kokkos_INCLUDE_DIRS}")
  endif()
endif()
if(TARGET Kokkos::kokkos)
  get_target_property(_kk_inc Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
  set_target_properties(Kokkos::kokkos PROPERTIES INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${_kk_inc}")
endif()

# Debian's mujoco config lists /usr/include/libqhull_r/ even when that folder is absent;
# keep only include folders that exist.
if(TARGET mujoco::mujoco)
  get_target_property(_mj_inc mujoco::mujoco INTERFACE_INCLUDE_DIRECTORIES)
  set(_mj_inc_ok "")
  foreach(_dir IN LISTS _mj_inc)
    if(EXISTS "${_dir}")
      list(APPEND _mj_inc_ok "${_dir}")
    endif()
  endforeach()
  set_target_properties(mujoco::mujoco PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_mj_inc_ok}")
endif()

# The HDF5 found by FindHDF5 as one imported target.
if(NOT TARGET kollektiv_hdf5)
  add_library(kollektiv_hdf5 INTERFACE)
  target_include_directories(kollektiv_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
  target_link_libraries(kollektiv_hdf5 INTERFACE ${HDF5_C_LIBRARIES} MPI::MPI_CXX)
  target_compile_definitions(kollektiv_hdf5 INTERFACE ${HDF5_C_DEFINITIONS})
endif()

# Warnings and sanitizers for our own targets.
add_library(kollektiv_warnings INTERFACE)
target_compile_options(kollektiv_warnings INTERFACE -Wall -Wextra)
if(KOLLEKTIV_SANITIZE)
  target_compile_options(kollektiv_warnings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(kollektiv_warnings INTERFACE -fsanitize=address,undefined)
endif()

# kollektiv_module(NAME SOURCES ... LINKS ...): one library per module.
function(kollektiv_module name)
  cmake_parse_arguments(M "" "" "SOURCES;LINKS" ${ARGN})
  add_library(kollektiv_${name} ${M_SOURCES})
  target_include_directories(kollektiv_${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/generated)
  target_link_libraries(kollektiv_${name} PUBLIC ${M_LINKS} PRIVATE kollektiv_warnings)
endfunction()
