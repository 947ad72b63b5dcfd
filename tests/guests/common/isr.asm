; isr.asm — one stub per vector. Each pushes a dummy error code where the CPU
; pushes none (so the frame is uniform), the vector number, then the general
; and segment registers, and calls isr_dispatch(struct frame *). The handler may
; edit the frame; we return with IRET. Note: a software INT n to a vector that
; normally has an error code (8, 10-14, 17) pushes none, so tests avoid that.
bits 32
extern isr_dispatch
section .text

%macro STUB 1
isr_stub_%1:
%if (%1 == 8) || (%1 >= 10 && %1 <= 14) || (%1 == 17) || (%1 == 21) || (%1 == 29) || (%1 == 30)
%else
        push 0
%endif
        push %1
        jmp isr_common
%endmacro

%assign i 0
%rep 256
STUB i
%assign i i+1
%endrep

isr_common:
        pusha
        push ds
        push es
        push fs
        push gs
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        cld
        mov eax, esp
        push eax
        call isr_dispatch
        add esp, 4
global isr_return
isr_return:
        pop gs
        pop fs
        pop es
        pop ds
        popa
        add esp, 8
        iret

section .data
global isr_stub_table
align 4
isr_stub_table:
%assign i 0
%rep 256
        dd isr_stub_ %+ i
%assign i i+1
%endrep
section .note.GNU-stack noalloc noexec nowrite progbits
