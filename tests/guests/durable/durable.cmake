# durable.cmake — storage.durable (included from guests.cmake): the durable
# guest writes a pattern to a 2 GiB raw, qcow2 and qcow2-overlay disk in
# turn, FLUSH CACHE, says so on serial, and is killed with SIGKILL at once;
# durable_check (and qemu-img for qcow2) then finds the flushed data in the
# image.  Umbra only (the guest also passes under QEMU).
umbra_guest(NAME durable NO_TEST SOURCES ${GUEST_SRC}/durable/durable.c
  ${GUEST_SRC}/durable/durable.h)
if(NOT GUEST_EMU_IS_QEMU)
  add_executable(durable_check ${GUEST_SRC}/durable/durable_check.c)
  get_property(_durable_elf GLOBAL PROPERTY GUEST_ELF_durable)
  add_test(NAME storage.durable
    COMMAND ${GUEST_SRC}/durable/durable-test.sh $<TARGET_FILE:umbra> ${_durable_elf}
            $<TARGET_FILE:durable_check> ${CMAKE_BINARY_DIR}/guests/durable/out)
  set_tests_properties(storage.durable PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77
    LABELS storage)
endif()
