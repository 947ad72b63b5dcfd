# guests.cmake — builds the guest tests (multiboot kernels) and registers them
# with ctest as guest.<name>. Included from tests/CMakeLists.txt.
#
# Guests are compiled with plain custom commands, not CMake targets, so the
# host build's flags (sanitizers, -Werror, the build type) never leak into
# freestanding 32-bit code.
#
# Running the suite under another emulator (the reference, QEMU):
#   UMBRA_GUEST_EMU=qemu-system-i386 ctest -R guest
# or configure with -DUMBRA_GUEST_EMU=qemu-system-i386. Without an umbra target
# (e.g. this file included from a scratch project) QEMU is the default.
#
# Differential guests (alu, bench) are also built as native 32-bit Linux
# programs that run at build time to produce the expected serial output; that
# needs an x86 host with gcc -m32 (gcc-multilib).

set(UMBRA_GUEST_EMU "" CACHE STRING
    "Emulator command to run guest tests with instead of umbra (e.g. qemu-system-i386)")
set(UMBRA_GUEST_TIMEOUT 60 CACHE STRING "ctest timeout (s) of each guest test")

set(GUEST_SRC ${CMAKE_CURRENT_LIST_DIR})
set(GUEST_BIN ${CMAKE_BINARY_DIR}/guests)
file(MAKE_DIRECTORY ${GUEST_BIN})
find_program(GUEST_NASM nasm REQUIRED)
find_program(GUEST_GCC NAMES gcc cc REQUIRED)

set(GUEST_CFLAGS -m32 -march=i686 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector
    -fno-asynchronous-unwind-tables -fno-builtin -O2 -Wall -Wextra -Wno-unused-parameter
    -I${GUEST_SRC}/common)
set(GUEST_LDFLAGS -m32 -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,noexecstack
    -Wl,-T,${GUEST_SRC}/common/link.ld)
include(CheckLinkerFlag)
check_linker_flag(C "-Wl,--no-warn-rwx-segments" GUEST_LD_NO_RWX_WARN)
if(GUEST_LD_NO_RWX_WARN)
  list(APPEND GUEST_LDFLAGS -Wl,--no-warn-rwx-segments) # guests are one RWX image on purpose
endif()
set(GUEST_NATIVE_CFLAGS -m32 -O2 -fno-pie -no-pie -fno-stack-protector -Wall -Wextra
    -Wno-unused-parameter)

if(UMBRA_GUEST_EMU)
  set(GUEST_EMU ${UMBRA_GUEST_EMU})
elseif(TARGET umbra)
  set(GUEST_EMU $<TARGET_FILE:umbra>)
else()
  set(GUEST_EMU qemu-system-i386)
endif()

set(GUEST_COMMON_C ${GUEST_SRC}/common/lib.c)
set(GUEST_COMMON_ASM ${GUEST_SRC}/common/boot.asm ${GUEST_SRC}/common/isr.asm
    ${GUEST_SRC}/common/user.asm)
set(GUEST_ALL_OUTPUTS "")

# umbra_guest(NAME n SOURCES f.c g.asm ... [NATIVE_SOURCES f.c ...]
#             [EXPECTED file] [APPEND args...] [TIMEOUT s])
# NATIVE_SOURCES: build a native program whose stdout is the expected output.
function(umbra_guest)
  cmake_parse_arguments(G "" "NAME;EXPECTED;TIMEOUT" "SOURCES;NATIVE_SOURCES;NATIVE_ARGS;APPEND" ${ARGN})
  if(G_NATIVE_SOURCES AND NOT CMAKE_HOST_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i.86)$")
    message(STATUS "guest ${G_NAME}: skipped (its expected output needs an x86 host)")
    return()
  endif()
  set(dir ${GUEST_BIN}/${G_NAME})
  file(MAKE_DIRECTORY ${dir})
  set(objs "")
  set(csrcs ${GUEST_COMMON_C})
  foreach(src ${GUEST_COMMON_ASM} ${G_SOURCES})
    get_filename_component(ext ${src} EXT)
    get_filename_component(base ${src} NAME_WE)
    if(ext STREQUAL ".asm")
      get_filename_component(pdir ${src} DIRECTORY)
      get_filename_component(pdir ${pdir} NAME)
      set(obj ${dir}/${pdir}_${base}.asm.o)
      add_custom_command(OUTPUT ${obj}
        COMMAND ${GUEST_NASM} -f elf32 -I${GUEST_SRC}/common/ -o ${obj} ${src}
        DEPENDS ${src}
        COMMENT "guest ${G_NAME}: nasm ${base}.asm" VERBATIM)
      list(APPEND objs ${obj})
    else()
      list(APPEND csrcs ${src})
    endif()
  endforeach()
  set(elf ${dir}/${G_NAME}.elf)
  add_custom_command(OUTPUT ${elf}
    COMMAND ${GUEST_GCC} ${GUEST_CFLAGS} ${GUEST_LDFLAGS} -o ${elf} ${csrcs} ${objs} -lgcc
    DEPENDS ${csrcs} ${objs} ${GUEST_SRC}/common/guest.h ${GUEST_SRC}/common/link.ld
    COMMENT "guest ${G_NAME}: link ${G_NAME}.elf" VERBATIM)
  set(outputs ${elf})

  set(expected "-")
  if(G_NATIVE_SOURCES)
    set(native ${dir}/${G_NAME}-native)
    set(expected ${dir}/${G_NAME}.expected)
    add_custom_command(OUTPUT ${native}
      COMMAND ${GUEST_GCC} ${GUEST_NATIVE_CFLAGS} -o ${native} ${G_NATIVE_SOURCES}
      DEPENDS ${G_NATIVE_SOURCES}
      COMMENT "guest ${G_NAME}: native reference build" VERBATIM)
    add_custom_command(OUTPUT ${expected}
      COMMAND ${native} ${G_NATIVE_ARGS} > ${expected}
      DEPENDS ${native}
      COMMENT "guest ${G_NAME}: running native reference" VERBATIM)
    list(APPEND outputs ${expected})
  elseif(G_EXPECTED)
    set(expected ${G_EXPECTED})
  endif()
  add_custom_target(guest_${G_NAME} ALL DEPENDS ${outputs})

  add_test(NAME guest.${G_NAME}
    COMMAND ${GUEST_SRC}/run-guest.sh ${GUEST_EMU} ${elf} ${expected} ${G_APPEND})
  if(NOT G_TIMEOUT)
    set(G_TIMEOUT ${UMBRA_GUEST_TIMEOUT})
  endif()
  math(EXPR inner "${G_TIMEOUT} - 5") # run-guest.sh's own timeout fires first, with a message
  set_tests_properties(guest.${G_NAME} PROPERTIES TIMEOUT ${G_TIMEOUT}
    ENVIRONMENT "UMBRA_GUEST_TIMEOUT=${inner}")
endfunction()


# ---- the guests ---------------------------------------------------------------
# alu: differential against the host CPU (native build run at build time).
umbra_guest(NAME alu SOURCES ${GUEST_SRC}/alu/alu_ops.c
  NATIVE_SOURCES ${GUEST_SRC}/alu/alu_ops.c)
umbra_guest(NAME exceptions SOURCES ${GUEST_SRC}/exceptions/exceptions.c
  ${GUEST_SRC}/exceptions/exc_cases.asm)
# bench: a speed workload; the ctest runs a small count and checks the checksum
# against the native run. Run the full default (~300M instructions) by hand:
#   umbra -kernel <build>/guests/bench/bench.elf -nographic ... (no -append)
umbra_guest(NAME bench SOURCES ${GUEST_SRC}/bench/bench.c
  NATIVE_SOURCES ${GUEST_SRC}/bench/bench.c NATIVE_ARGS 200000 APPEND iters=200000)
umbra_guest(NAME smc SOURCES ${GUEST_SRC}/smc/smc.c ${GUEST_SRC}/smc/smc_code.asm)
umbra_guest(NAME privilege SOURCES ${GUEST_SRC}/privilege/privilege.c
  ${GUEST_SRC}/privilege/priv.asm)
umbra_guest(NAME repfault SOURCES ${GUEST_SRC}/repfault/repfault.c
  ${GUEST_SRC}/repfault/rep_ops.asm)
umbra_guest(NAME taskswitch SOURCES ${GUEST_SRC}/taskswitch/taskswitch.c
  ${GUEST_SRC}/taskswitch/ts.asm)
umbra_guest(NAME modes SOURCES ${GUEST_SRC}/modes/modes.c ${GUEST_SRC}/modes/modes_blob.asm)
