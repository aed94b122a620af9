# The CMake package of s3os, installed by scripts/install.sh into <prefix>/lib/cmake/s3os:
#
#   find_package(s3os 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE s3os::s3os)          # libs3os.so
#   target_link_libraries(app PRIVATE s3os::s3os_static)   # or libs3os.a
#
# Both targets carry the include directory (s3os.h; s3os.hpp needs C++17). The package finds
# its files relative to itself, so an installed tree may be moved as a whole.

get_filename_component(_s3os_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET s3os::s3os)
  add_library(s3os::s3os SHARED IMPORTED)
  set_target_properties(s3os::s3os PROPERTIES
    IMPORTED_LOCATION "${_s3os_prefix}/lib/libs3os.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_s3os_prefix}/include")
endif()

if(NOT TARGET s3os::s3os_static)
  include(CMakeFindDependencyMacro)
  find_dependency(Threads)
  add_library(s3os::s3os_static STATIC IMPORTED)
  # The system libraries the Rust standard library needs, as
  # `rustc --print native-static-libs` lists them.
  set_target_properties(s3os::s3os_static PROPERTIES
    IMPORTED_LOCATION "${_s3os_prefix}/lib/libs3os.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_s3os_prefix}/include"
    INTERFACE_LINK_LIBRARIES "gcc_s;util;rt;Threads::Threads;m;${CMAKE_DL_LIBS};c")
endif()

set(s3os_INCLUDE_DIRS "${_s3os_prefix}/include")
set(s3os_LIBRARIES s3os::s3os)
unset(_s3os_prefix)
