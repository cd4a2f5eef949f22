# ctest install.layout: installs the build into a fresh prefix with `cmake --install` and
# checks that every file lands where Debian and the shells look for it, and nothing lands
# anywhere else.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DPREFIX=... -P check_layout.cmake
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${result}):\n${out}\n${err}")
endif()

# installed path -> the source file it must be a copy of ("" for the binary)
set(expected
  "bin/wabactl="
  "share/man/man1/wabactl.1.gz="
  "share/bash-completion/completions/wabactl=completions/wabactl.bash"
  "share/zsh/vendor-completions/_wabactl=completions/_wabactl"
  "share/fish/vendor_completions.d/wabactl.fish=completions/wabactl.fish"
  "lib/systemd/system/wabactl.service=systemd/wabactl.service"
  "share/doc/wabactl/examples/wabactl.conf.example=systemd/wabactl.conf.example")

set(failures "")
set(wanted "")
foreach(entry IN LISTS expected)
  string(REPLACE "=" ";" parts "${entry}")
  list(GET parts 0 path)
  list(LENGTH parts n)
  list(APPEND wanted "${PREFIX}/${path}")
  if(NOT EXISTS "${PREFIX}/${path}" OR IS_DIRECTORY "${PREFIX}/${path}")
    string(APPEND failures "\n  missing: ${path}")
    continue()
  endif()
  if(n GREATER 1)
    list(GET parts 1 source)
    if(NOT source STREQUAL "")
      file(READ "${PREFIX}/${path}" installed_text)
      file(READ "${SOURCE_DIR}/${source}" source_text)
      if(NOT installed_text STREQUAL source_text)
        string(APPEND failures "\n  ${path} differs from ${source}")
      endif()
    endif()
  endif()
endforeach()

# The binary runs from its installed place.
execute_process(COMMAND ${PREFIX}/bin/wabactl --version RESULT_VARIABLE result
                OUTPUT_VARIABLE version ERROR_VARIABLE err)
if(NOT result EQUAL 0 OR NOT version MATCHES "^wabactl [0-9]")
  string(APPEND failures "\n  bin/wabactl --version failed (${result}): ${version}${err}")
endif()

# The man page is the committed roff, gzip-compressed.
execute_process(COMMAND gzip -dc "${PREFIX}/share/man/man1/wabactl.1.gz" RESULT_VARIABLE result
                OUTPUT_VARIABLE man ERROR_VARIABLE err)
file(READ "${SOURCE_DIR}/man/wabactl.1" source_man)
if(NOT result EQUAL 0 OR NOT man STREQUAL source_man)
  string(APPEND failures "\n  share/man/man1/wabactl.1.gz is not man/wabactl.1 compressed ${err}")
endif()

# The unit points at the man page and the packaged binary.
file(READ "${PREFIX}/lib/systemd/system/wabactl.service" unit)
foreach(line "ExecStart=/usr/bin/wabactl serve" "Documentation=man:wabactl(1)" "Type=notify")
  string(FIND "${unit}" "${line}" at)
  if(at EQUAL -1)
    string(APPEND failures "\n  wabactl.service lacks '${line}'")
  endif()
endforeach()

# Nothing else is installed (no static libraries, headers or test programs).
file(GLOB_RECURSE installed LIST_DIRECTORIES false "${PREFIX}/*")
foreach(file IN LISTS installed)
  list(FIND wanted "${file}" at)
  if(at EQUAL -1)
    string(APPEND failures "\n  unexpected file: ${file}")
  endif()
endforeach()

if(failures)
  message(FATAL_ERROR "install layout under ${PREFIX} is wrong:${failures}")
endif()
message(STATUS "install layout OK: ${PREFIX}")
