# `cmake --install`: what goes where (docs/install.md). Components:
#   server  hwca and hwca-serve.service
#   node    hwca-node, hwca-node-renew.service and .timer
#   common  the provider hwca.so, the docs and the example settings (both roles need them)
# Nothing from tests/ or tests/bench is installed. `scripts/build.sh runtime` builds what is.
include(GNUInstallDirs)

add_custom_target(runtime)
add_dependencies(runtime hwca hwca-node hwca_provider_module)

# OpenSSL's modules folder, where `openssl -provider hwca` finds hwca.so without
# -provider-path: libcrypto's pkg-config variable, else what `openssl version -m` says.
set(_hwca_modulesdir "")
pkg_get_variable(_hwca_modulesdir libcrypto modulesdir)
if(NOT _hwca_modulesdir)
  execute_process(COMMAND openssl version -m OUTPUT_VARIABLE _hwca_openssl_m
                  ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REGEX REPLACE "^MODULESDIR: \"(.*)\"$" "\\1" _hwca_modulesdir "${_hwca_openssl_m}")
endif()
if(NOT _hwca_modulesdir)
  set(_hwca_modulesdir "${CMAKE_INSTALL_LIBDIR}/ossl-modules")
endif()
set(HWCA_PROVIDER_DIR "${_hwca_modulesdir}" CACHE PATH
    "Where hwca.so is installed (OpenSSL's modules folder; relative: under the prefix)")

# The SoftHSM2 token folder hwca-serve.service may write (the server makes its TLS key in the
# CA's token at first start): directories.tokendir of the SoftHSM2 configuration.
set(HWCA_SOFTHSM2_CONF "/etc/softhsm/softhsm2.conf" CACHE FILEPATH
    "The SoftHSM2 configuration whose token folder hwca-serve.service may write")
set(_hwca_tokendir "/var/lib/softhsm/tokens")
if(EXISTS "${HWCA_SOFTHSM2_CONF}")
  file(STRINGS "${HWCA_SOFTHSM2_CONF}" _hwca_tokendir_line
       REGEX "^[ \t]*directories\\.tokendir[ \t]*=")
  if(_hwca_tokendir_line)
    string(REGEX REPLACE "^[^=]*=[ \t]*([^ \t]*).*$" "\\1" _hwca_tokendir "${_hwca_tokendir_line}")
    string(REGEX REPLACE "(.)/+$" "\\1" _hwca_tokendir "${_hwca_tokendir}")
  endif()
endif()
set(HWCA_SOFTHSM_TOKEN_DIR "${_hwca_tokendir}" CACHE PATH
    "The SoftHSM2 token folder hwca-serve.service may write (from HWCA_SOFTHSM2_CONF)")
set(HWCA_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE PATH
    "Where the systemd units are installed (relative: under the prefix)")

install(TARGETS hwca RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
install(TARGETS hwca-node RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT node)
install(TARGETS hwca_provider_module LIBRARY DESTINATION ${HWCA_PROVIDER_DIR} COMPONENT common)
install(FILES README.md docs/attestation.md docs/cli.md docs/design.md docs/install.md
              docs/kubernetes.md docs/performance.md docs/security.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT common)
install(FILES docs/examples/cluster.yaml scripts/systemd/hwca-serve.default
              scripts/systemd/hwca-node.default
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT common)

# The units name the binaries by their installed path, which is known only at install time
# (`cmake --install --prefix` may change it): they are filled in then.
function(hwca_install_unit template component)
  get_filename_component(name "${template}" NAME)
  string(REGEX REPLACE "\\.in$" "" name "${name}")
  install(CODE "
    if(IS_ABSOLUTE \"${CMAKE_INSTALL_BINDIR}\")
      set(HWCA_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
    else()
      set(HWCA_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
    endif()
    set(HWCA_SOFTHSM_TOKEN_DIR \"${HWCA_SOFTHSM_TOKEN_DIR}\")
    set(HWCA_SOFTHSM2_CONF \"${HWCA_SOFTHSM2_CONF}\")
    configure_file(\"${PROJECT_SOURCE_DIR}/${template}\" \"${PROJECT_BINARY_DIR}/systemd/${name}\" @ONLY)
    if(IS_ABSOLUTE \"${HWCA_SYSTEMD_UNIT_DIR}\")
      set(_dir \"${HWCA_SYSTEMD_UNIT_DIR}\")
    else()
      set(_dir \"\${CMAKE_INSTALL_PREFIX}/${HWCA_SYSTEMD_UNIT_DIR}\")
    endif()
    file(INSTALL DESTINATION \"\${_dir}\" TYPE FILE FILES \"${PROJECT_BINARY_DIR}/systemd/${name}\")
  " COMPONENT ${component})
endfunction()
hwca_install_unit(scripts/systemd/hwca-serve.service.in server)
hwca_install_unit(scripts/systemd/hwca-node-renew.service.in node)
hwca_install_unit(scripts/systemd/hwca-node-renew.timer node)
