# ide.cmake — the IDE guest test (included from guests.cmake): the disk and CD
# images are written at build time by a host tool, and the guest boots with
# them under Umbra and under QEMU alike (-snapshot keeps them unchanged).
set(IDE_OUT ${GUEST_BIN}/ide)
file(MAKE_DIRECTORY ${IDE_OUT})
add_executable(ide_mkimage ${GUEST_SRC}/ide/mkimage.c)
add_custom_command(OUTPUT ${IDE_OUT}/disk.img ${IDE_OUT}/cd.iso
  COMMAND ide_mkimage ${IDE_OUT}/disk.img 8192 512
  COMMAND ide_mkimage ${IDE_OUT}/cd.iso 64 2048
  DEPENDS ide_mkimage
  COMMENT "guest ide: disk and CD images" VERBATIM)
add_custom_target(guest_ide_images ALL DEPENDS ${IDE_OUT}/disk.img ${IDE_OUT}/cd.iso)
set(IDE_DRIVES -hda ${IDE_OUT}/disk.img -cdrom ${IDE_OUT}/cd.iso -snapshot)
umbra_guest(NAME ide SOURCES ${GUEST_SRC}/ide/ide.c EMU_ARGS ${IDE_DRIVES} QEMU_ARGS ${IDE_DRIVES})
