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
# Under Umbra, MMU-sensitive guests are registered once per MMU strategy
# (guest.<name>.shadow / guest.<name>.walk; option UMBRA_GUEST_MMU_MODES), and
# some get Umbra-only hardware-exact variants (guest.<name>_hw); see README.md.
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

# Is the configured emulator QEMU? (Umbra-only test variants are registered only
# when it is not; run-guest.sh decides again at run time, since UMBRA_GUEST_EMU
# in the environment can switch the emulator after configuration.)
get_filename_component(_guest_emu_name "${GUEST_EMU}" NAME)
if(_guest_emu_name MATCHES "^qemu")
  set(GUEST_EMU_IS_QEMU TRUE)
else()
  set(GUEST_EMU_IS_QEMU FALSE)
endif()
option(UMBRA_GUEST_MMU_MODES
  "Register MMU-sensitive guest tests twice under Umbra: guest.<name>.shadow (-mmu shadow) and guest.<name>.walk (-mmu walk)"
  ON)

# guest_test(NAME test GUEST guest [EXPECTED file] [APPEND args...]
#            [EMU_ARGS args...] [QEMU_ARGS args...] [UMBRA_APPEND words...] [TIMEOUT s]
#            [UMBRA_ONLY] [MMU_MODES])
# Registers ctest guest.<test> running the already-built guest <guest>.
#   EMU_ARGS   extra emulator arguments given to Umbra only (never to QEMU)
#   QEMU_ARGS  extra emulator arguments given to QEMU only (e.g. -cpu flags)
#   UMBRA_APPEND  -append words added for Umbra only (e.g. hw=1: checks that
#              QEMU is known to get wrong)
#   UMBRA_ONLY not registered when the configured emulator is QEMU, and skipped
#              (ctest SKIP, status 77) when UMBRA_GUEST_EMU switches to QEMU
#   MMU_MODES  under Umbra with UMBRA_GUEST_MMU_MODES=ON, register
#              guest.<test>.shadow (-mmu shadow) and guest.<test>.walk
#              (-mmu walk) instead of guest.<test>; under QEMU, guest.<test> once
function(guest_test)
  cmake_parse_arguments(T "UMBRA_ONLY;MMU_MODES" "NAME;GUEST;EXPECTED;TIMEOUT"
    "APPEND;EMU_ARGS;QEMU_ARGS;UMBRA_APPEND" ${ARGN})
  if(T_UMBRA_ONLY AND GUEST_EMU_IS_QEMU)
    return()
  endif()
  get_property(elf GLOBAL PROPERTY GUEST_ELF_${T_GUEST})
  if(NOT elf)
    message(FATAL_ERROR "guest_test(${T_NAME}): no guest named ${T_GUEST}")
  endif()
  if(NOT T_EXPECTED)
    get_property(T_EXPECTED GLOBAL PROPERTY GUEST_EXPECTED_${T_GUEST})
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT ${UMBRA_GUEST_TIMEOUT})
  endif()
  math(EXPR inner "${T_TIMEOUT} - 5") # run-guest.sh's own timeout fires first, with a message
  if(T_MMU_MODES AND NOT GUEST_EMU_IS_QEMU AND UMBRA_GUEST_MMU_MODES)
    set(variants shadow walk)
  else()
    set(variants "-")
  endif()
  foreach(v ${variants})
    set(emu_args ${T_EMU_ARGS})
    set(name guest.${T_NAME})
    if(NOT v STREQUAL "-")
      list(APPEND emu_args -mmu ${v})
      set(name guest.${T_NAME}.${v})
    endif()
    set(opts "")
    if(emu_args)
      string(REPLACE ";" " " a "${emu_args}")
      list(APPEND opts --umbra-args "${a}")
    endif()
    if(T_QEMU_ARGS)
      string(REPLACE ";" " " a "${T_QEMU_ARGS}")
      list(APPEND opts --qemu-args "${a}")
    endif()
    if(T_UMBRA_APPEND)
      string(REPLACE ";" " " a "${T_UMBRA_APPEND}")
      list(APPEND opts --umbra-append "${a}")
    endif()
    if(T_UMBRA_ONLY)
      list(APPEND opts --umbra-only)
    endif()
    add_test(NAME ${name}
      COMMAND ${GUEST_SRC}/run-guest.sh ${opts} ${GUEST_EMU} ${elf} ${T_EXPECTED} ${T_APPEND})
    set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77
      ENVIRONMENT "UMBRA_GUEST_TIMEOUT=${inner}")
  endforeach()
endfunction()

# umbra_guest(NAME n SOURCES f.c g.asm ... [NATIVE_SOURCES f.c ...]
#             [EXPECTED file] [APPEND args...] [TIMEOUT s]
#             [EMU_ARGS args...] [QEMU_ARGS args...] [UMBRA_APPEND words...]
#             [MMU_MODES] [NO_TEST])
# Builds <build>/guests/n/n.elf and registers it as guest.n through
# guest_test() (EMU_ARGS, QEMU_ARGS, UMBRA_APPEND, MMU_MODES are passed on; NO_TEST: build
# only, the caller registers its own guest_test()s).
# NATIVE_SOURCES: build a native program whose stdout is the expected output.
function(umbra_guest)
  cmake_parse_arguments(G "MMU_MODES;NO_TEST" "NAME;EXPECTED;TIMEOUT"
    "SOURCES;NATIVE_SOURCES;NATIVE_ARGS;APPEND;EMU_ARGS;QEMU_ARGS;UMBRA_APPEND" ${ARGN})
  if(G_NATIVE_SOURCES AND NOT CMAKE_HOST_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i.86)$")
    message(STATUS "guest ${G_NAME}: skipped (its expected output needs an x86 host)")
    return()
  endif()
  set(dir ${GUEST_BIN}/${G_NAME})
  file(MAKE_DIRECTORY ${dir})
  set(objs "")
  set(csrcs ${GUEST_COMMON_C})
  set(hdrs ${GUEST_SRC}/common/guest.h)
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
    elseif(ext STREQUAL ".h")
      list(APPEND hdrs ${src})
    else()
      list(APPEND csrcs ${src})
    endif()
  endforeach()
  set(elf ${dir}/${G_NAME}.elf)
  add_custom_command(OUTPUT ${elf}
    COMMAND ${GUEST_GCC} ${GUEST_CFLAGS} ${GUEST_LDFLAGS} -o ${elf} ${csrcs} ${objs} -lgcc
    DEPENDS ${csrcs} ${objs} ${hdrs} ${GUEST_SRC}/common/link.ld
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
  set_property(GLOBAL PROPERTY GUEST_ELF_${G_NAME} ${elf})
  set_property(GLOBAL PROPERTY GUEST_EXPECTED_${G_NAME} ${expected})

  if(NOT G_NO_TEST)
    set(flags "")
    if(G_MMU_MODES)
      set(flags MMU_MODES)
    endif()
    set(timeout "")
    if(G_TIMEOUT)
      set(timeout TIMEOUT ${G_TIMEOUT})
    endif()
    guest_test(NAME ${G_NAME} GUEST ${G_NAME} ${flags} ${timeout} APPEND ${G_APPEND}
      EMU_ARGS ${G_EMU_ARGS} QEMU_ARGS ${G_QEMU_ARGS} UMBRA_APPEND ${G_UMBRA_APPEND})
  endif()
endfunction()


# ---- the guests ---------------------------------------------------------------
# alu: differential against the host CPU (native build run at build time).
umbra_guest(NAME alu SOURCES ${GUEST_SRC}/alu/alu_ops.c
  NATIVE_SOURCES ${GUEST_SRC}/alu/alu_ops.c)
umbra_guest(NAME exceptions MMU_MODES SOURCES ${GUEST_SRC}/exceptions/exceptions.c
  ${GUEST_SRC}/exceptions/exc_cases.asm)
# hw=1: also the checks QEMU gets wrong (see README); Umbra only.
guest_test(NAME exceptions_hw GUEST exceptions APPEND hw=1 UMBRA_ONLY)
# bench: a speed workload; the ctest runs a small count and checks the checksum
# against the native run. Run the full default (~300M instructions) by hand:
#   umbra -kernel <build>/guests/bench/bench.elf -nographic ... (no -append)
umbra_guest(NAME bench SOURCES ${GUEST_SRC}/bench/bench.c
  NATIVE_SOURCES ${GUEST_SRC}/bench/bench.c NATIVE_ARGS 200000 APPEND iters=200000)
umbra_guest(NAME smc MMU_MODES SOURCES ${GUEST_SRC}/smc/smc.c ${GUEST_SRC}/smc/smc_code.asm)
umbra_guest(NAME privilege SOURCES ${GUEST_SRC}/privilege/privilege.c
  ${GUEST_SRC}/privilege/priv.asm)
umbra_guest(NAME repfault MMU_MODES SOURCES ${GUEST_SRC}/repfault/repfault.c
  ${GUEST_SRC}/repfault/rep_ops.asm)
guest_test(NAME repfault_hw GUEST repfault APPEND hw=1 UMBRA_ONLY)
umbra_guest(NAME taskswitch SOURCES ${GUEST_SRC}/taskswitch/taskswitch.c
  ${GUEST_SRC}/taskswitch/ts.asm)
umbra_guest(NAME modes SOURCES ${GUEST_SRC}/modes/modes.c ${GUEST_SRC}/modes/modes_blob.asm)

# ---- paging / MMU guests (issue 4) ----------------------------------------------
# Shared by them: common/paging.h, paging.c (probe, CPUID), probe.asm.
set(GUEST_PAGING ${GUEST_SRC}/common/paging.h ${GUEST_SRC}/common/paging.c
  ${GUEST_SRC}/common/probe.asm)
# QEMU's default i386 CPU (qemu32) does not advertise NX; the guests ask CPUID
# and print SKIP lines for what is missing, so this only widens QEMU's coverage.
set(GUEST_QEMU_NX -cpu qemu32,+nx)
# paging_access: ~475k cases (1.5 s under QEMU). hw=1 for Umbra: the RSVD #PF
# error code must have P=1, which QEMU gets wrong.
umbra_guest(NAME paging_access MMU_MODES TIMEOUT 300 QEMU_ARGS ${GUEST_QEMU_NX} UMBRA_APPEND hw=1
  SOURCES ${GUEST_SRC}/paging_access/paging_access.c ${GUEST_PAGING})
umbra_guest(NAME paging_coherence MMU_MODES TIMEOUT 120 UMBRA_APPEND hw=1
  SOURCES ${GUEST_SRC}/paging_coherence/paging_coherence.c ${GUEST_PAGING})
# MMU benchmarks: the ctests run small counts and must PASS (their checksums
# are verified by the guests); README.md says how to run them large with -stats.
umbra_guest(NAME mmu_bench_switch MMU_MODES APPEND n=8 iters=4000
  SOURCES ${GUEST_SRC}/mmu_bench_switch/mmu_bench_switch.c ${GUEST_PAGING})
umbra_guest(NAME mmu_bench_fork MMU_MODES APPEND iters=50
  SOURCES ${GUEST_SRC}/mmu_bench_fork/mmu_bench_fork.c ${GUEST_PAGING})

# x87: every form against the host x87, plus the bench fpu kernels.
include(${GUEST_SRC}/fpu/fpu.cmake)
include(${GUEST_SRC}/ide/ide.cmake)
include(${GUEST_SRC}/floppy/floppy.cmake)
include(${GUEST_SRC}/vga/vga.cmake)
include(${GUEST_SRC}/durable/durable.cmake)
