# fpu.cmake — the x87 guest test (included from guests.cmake).
#
# Differential against the host x87: fpu_kernels.c is compiled with exactly
# the guest's flags for both the guest and the native reference (so the
# floating-point code is the same instructions in both), linked with the
# native driver, and run at build time; its stdout is the expected serial
# output. Run by hand for per-form hashes:
#   <build>/guests/fpu/fpu-native verbose    and    umbra ... -append fpu=verbose
set(FPU_DIR ${GUEST_SRC}/fpu)
set(FPU_OUT ${GUEST_BIN}/fpu)
file(MAKE_DIRECTORY ${FPU_OUT})
add_custom_command(OUTPUT ${FPU_OUT}/fpu_kernels.native.o
  COMMAND ${GUEST_GCC} ${GUEST_CFLAGS} -c -o ${FPU_OUT}/fpu_kernels.native.o
          ${FPU_DIR}/fpu_kernels.c
  DEPENDS ${FPU_DIR}/fpu_kernels.c ${FPU_DIR}/fpu_test.h
  COMMENT "guest fpu: kernels for the native reference" VERBATIM)
add_custom_command(OUTPUT ${FPU_OUT}/fpu-native
  COMMAND ${GUEST_GCC} ${GUEST_NATIVE_CFLAGS} -o ${FPU_OUT}/fpu-native
          ${FPU_DIR}/fpu_native.c ${FPU_OUT}/fpu_kernels.native.o
  DEPENDS ${FPU_DIR}/fpu_native.c ${FPU_DIR}/fpu_test.h ${FPU_OUT}/fpu_kernels.native.o
  COMMENT "guest fpu: native reference build" VERBATIM)
add_custom_command(OUTPUT ${FPU_OUT}/fpu.expected
  COMMAND ${FPU_OUT}/fpu-native > ${FPU_OUT}/fpu.expected
  DEPENDS ${FPU_OUT}/fpu-native
  COMMENT "guest fpu: running native reference" VERBATIM)
add_custom_target(guest_fpu_expected ALL DEPENDS ${FPU_OUT}/fpu.expected)
umbra_guest(NAME fpu SOURCES ${FPU_DIR}/fpu_kernels.c ${FPU_DIR}/fpu_guest.c
  EXPECTED ${FPU_OUT}/fpu.expected)
