# vga.cmake — the VGA guest (tests/guests/vga): draws text, mode 12h, mode
# 13h, unchained 256-colour and Bochs VBE scenes by register programming and
# asks for a screendump after each; vga_ref compares them with references
# computed from vga_scene.h.  Umbra only (the screendump port is Umbra's).
# Included from guests.cmake.
umbra_guest(NAME vga NO_TEST SOURCES ${GUEST_SRC}/vga/vga_guest.c ${GUEST_SRC}/vga/vga_scene.h)
if(NOT GUEST_EMU_IS_QEMU)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(VGA_REF_PNG REQUIRED IMPORTED_TARGET libpng)
  add_executable(vga_ref ${GUEST_SRC}/vga/vga_ref.c)
  target_include_directories(vga_ref PRIVATE ${GUEST_SRC}/vga)
  target_link_libraries(vga_ref PRIVATE PkgConfig::VGA_REF_PNG)
  get_property(_vga_elf GLOBAL PROPERTY GUEST_ELF_vga)
  foreach(mmu shadow walk)
    add_test(NAME guest.vga.${mmu}
      COMMAND ${GUEST_SRC}/vga/vga-test.sh ${GUEST_EMU} ${_vga_elf} $<TARGET_FILE:vga_ref>
              ${CMAKE_BINARY_DIR}/guests/vga/out-${mmu} -mmu ${mmu})
    set_tests_properties(guest.vga.${mmu} PROPERTIES TIMEOUT 90 ENVIRONMENT "UMBRA_GUEST_TIMEOUT=80")
  endforeach()
endif()
# The SDL window under Xvfb (skipped when Xvfb/xwd are missing).
if(NOT GUEST_EMU_IS_QEMU AND UMBRA_SDL)
  add_test(NAME guest.vga_sdl
    COMMAND ${GUEST_SRC}/vga/sdl-test.sh ${GUEST_EMU} ${_vga_elf} $<TARGET_FILE:vga_ref>
            ${CMAKE_BINARY_DIR}/guests/vga/out-sdl)
  set_tests_properties(guest.vga_sdl PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77)
endif()
# Linux's VGA text console (label linux; needs the Linux guest fixture of
# tests/linux, whose build directory this names).
if(NOT GUEST_EMU_IS_QEMU)
  add_test(NAME linux.vga
    COMMAND ${GUEST_SRC}/vga/linux-vga-test.sh $<TARGET_FILE:umbra> ${CMAKE_BINARY_DIR}/linux-guest
            $<TARGET_FILE:vga_ref> ${CMAKE_BINARY_DIR}/guests/vga/out-linux)
  set_tests_properties(linux.vga PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77
    FIXTURES_REQUIRED linux_guest LABELS linux)
endif()
