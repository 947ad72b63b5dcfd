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

# Floppy-boot acceptance: firmware (SeaBIOS) boots bootsector.asm from drive
# A, which reads and writes through INT 13h and prints through INT 10h
# (run-floppy-boot.sh); under Umbra and under QEMU alike.
set(_floppy_boot_bin ${GUEST_BIN}/floppy/bootsector.bin)
add_custom_command(OUTPUT ${_floppy_boot_bin}
  COMMAND ${GUEST_NASM} -f bin -o ${_floppy_boot_bin} ${GUEST_SRC}/floppy/bootsector.asm
  DEPENDS ${GUEST_SRC}/floppy/bootsector.asm
  COMMENT "floppy boot sector: nasm bootsector.asm" VERBATIM)
add_custom_target(floppy_bootsector ALL DEPENDS ${_floppy_boot_bin})
add_test(NAME guest.floppy_boot
  COMMAND ${GUEST_SRC}/floppy/run-floppy-boot.sh $<TARGET_FILE:fdimage> ${_floppy_boot_bin}
    ${GUEST_EMU})
set_tests_properties(guest.floppy_boot PROPERTIES TIMEOUT ${UMBRA_GUEST_TIMEOUT}
  ENVIRONMENT "UMBRA_GUEST_TIMEOUT=${_floppy_inner}")
