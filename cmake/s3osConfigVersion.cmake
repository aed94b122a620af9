# The version of the installed s3os, read from its header, and which requested versions it
# satisfies: those of the same ABI version (the same major, and while the major is 0 the same
# minor, as the library's soname says) that are not newer than it.

file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/../../../include/s3os.h" _s3os_version_lines
     REGEX "^#define S3OS_VERSION_(MAJOR|MINOR|PATCH) [0-9]+$")
foreach(_s3os_line IN LISTS _s3os_version_lines)
  string(REGEX MATCH "(MAJOR|MINOR|PATCH) ([0-9]+)" _s3os_match "${_s3os_line}")
  set(_s3os_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
endforeach()
set(PACKAGE_VERSION "${_s3os_MAJOR}.${_s3os_MINOR}.${_s3os_PATCH}")

if(NOT PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
elseif(PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION
       OR NOT PACKAGE_FIND_VERSION_MAJOR EQUAL _s3os_MAJOR
       OR (_s3os_MAJOR EQUAL 0 AND PACKAGE_FIND_VERSION_COUNT GREATER 1
           AND NOT PACKAGE_FIND_VERSION_MINOR EQUAL _s3os_MINOR))
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION VERSION_EQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()

foreach(_s3os_part MAJOR MINOR PATCH line match version_lines)
  unset(_s3os_${_s3os_part})
endforeach()
