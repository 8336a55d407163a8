# install.cmake - the parts of `make install` that plain install() rules cannot do. It runs at
# install time, so `cmake --install BUILD --prefix P` and DESTDIR are honoured like everywhere
# else. CMakeLists.txt sets LG_SOURCE_DIR, LG_CONF_PATH and LG_SBINDIR (relative to the prefix)
# before it runs.
#
# - The configuration file is installed only where there is none: an edited one is kept, as a
#   package manager keeps a changed conffile.
# - The systemd unit is written with the installed paths of the binary and of the file.

set(lg_conf "$ENV{DESTDIR}${LG_CONF_PATH}")
if(EXISTS "${lg_conf}")
  message(STATUS "Keeping: ${lg_conf} (already there)")
else()
  get_filename_component(lg_conf_dir "${LG_CONF_PATH}" DIRECTORY)
  get_filename_component(lg_conf_name "${LG_CONF_PATH}" NAME)
  file(INSTALL DESTINATION "${lg_conf_dir}" TYPE FILE RENAME "${lg_conf_name}"
       FILES "${LG_SOURCE_DIR}/conf/lifeguard.yaml")
endif()

set(LG_SBIN "${CMAKE_INSTALL_PREFIX}/${LG_SBINDIR}")
set(lg_unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
message(STATUS "Installing: $ENV{DESTDIR}${lg_unit_dir}/lifeguard.service")
configure_file("${LG_SOURCE_DIR}/dist/lifeguard.service.in"
               "$ENV{DESTDIR}${lg_unit_dir}/lifeguard.service" @ONLY)
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${lg_unit_dir}/lifeguard.service")
