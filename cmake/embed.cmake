# Turns a file into a C source defining its bytes as a NUL-terminated array and their count:
#
#   cmake -DINPUT=FILE -DOUTPUT=FILE.c -DNAME=lg_status_html [-DHEADER=admin/status_page.h]
#         -P cmake/embed.cmake
#
# defines `const char NAME[]` (the file's bytes, then a NUL) and `const size_t NAME_len` (the
# byte count, without the NUL). Bytes are written as "\xNN" escapes in string literals, so the
# output compiles without -Wconversion or -Woverflow warnings whatever the file holds. HEADER,
# when given, is included first, so the compiler checks the definitions against the declarations.
cmake_minimum_required(VERSION 3.18)

foreach(var IN ITEMS INPUT OUTPUT NAME)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "embed.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT NAME MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
  message(FATAL_ERROR "embed.cmake: NAME '${NAME}' is not a C identifier")
endif()
if(NOT EXISTS "${INPUT}")
  message(FATAL_ERROR "embed.cmake: ${INPUT} not found")
endif()

file(READ "${INPUT}" hex HEX)
get_filename_component(from "${INPUT}" NAME)
if(hex STREQUAL "")
  set(body "    \"\"")
else()
  # A line per 32 bytes (64 hex digits), each byte as \xNN, each line a quoted string.
  string(REPEAT "[0-9a-f]" 64 line)
  string(REGEX REPLACE "(${line})" "\\1\n" body "${hex}")
  string(REGEX REPLACE "\n$" "" body "${body}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" body "${body}")
  string(REGEX REPLACE "([^\n]+)" "    \"\\1\"" body "${body}")
endif()

set(include "#include <stddef.h>\n")
if(DEFINED HEADER AND NOT HEADER STREQUAL "")
  string(APPEND include "\n#include \"${HEADER}\"\n")
endif()
file(WRITE "${OUTPUT}"
  "/* Generated from ${from} by cmake/embed.cmake: do not edit. */\n"
  "${include}\n"
  "const char ${NAME}[] =\n${body};\n"
  "const size_t ${NAME}_len = sizeof(${NAME}) - 1;\n")
