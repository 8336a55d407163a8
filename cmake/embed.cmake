# embed.cmake - turn a file into a C source defining a NUL-terminated byte array.
#   cmake -DINPUT=file -DOUTPUT=file.c -DNAME=symbol -P embed.cmake
# defines `const char NAME[]` and `const size_t NAME_len` (the length without the NUL).
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}"
  "/* generated from ${INPUT} by cmake/embed.cmake: do not edit */\n"
  "#include <stddef.h>\n"
  "const char ${NAME}[] = {\n${bytes}0x00};\n"
  "const size_t ${NAME}_len = ${len};\n")
