# floppy.cmake — the floppy guest test (included from guests.cmake): the host
# tool fdimage makes the disk image, run-floppy.sh boots the guest with it as
# drive A and checks the image afterwards. Under QEMU the drive is given with
# -drive if=floppy (the same machine; QEMU is the reference).
add_executable(fdimage ${GUEST_SRC}/floppy/fdimage.c)
umbra_guest(NAME floppy NO_TEST SOURCES ${GUEST_SRC}/floppy/floppy.c
  ${GUEST_SRC}/floppy/floppy_pattern.h)
get_property(_floppy_elf GLOBAL PROPERTY GUEST_ELF_floppy)
math(EXPR _floppy_inner "${UMBRA_GUEST_TIMEOUT} - 5")
foreach(variant rw ro)
  add_test(NAME guest.floppy.${variant}
    COMMAND ${GUEST_SRC}/floppy/run-floppy.sh ${variant} ${GUEST_SRC}/run-guest.sh
      $<TARGET_FILE:fdimage> ${GUEST_EMU} ${_floppy_elf})
  set_tests_properties(guest.floppy.${variant} PROPERTIES TIMEOUT ${UMBRA_GUEST_TIMEOUT}
    SKIP_RETURN_CODE 77 ENVIRONMENT "UMBRA_GUEST_TIMEOUT=${_floppy_inner}")
endforeach()
