; boot.asm — multiboot v1 entry shared by every guest test.
; The loader (QEMU's -kernel or Umbra's) enters here in flat 32-bit protected
; mode with paging off, EAX=0x2BADB002 and EBX=multiboot info. Nothing else
; (GDT, IDT, stack) is guaranteed, so we set up a stack and let C do the rest.
bits 32

MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00000003            ; page-align modules, want memory info

section .multiboot
align 4
        dd MB_MAGIC
        dd MB_FLAGS
        dd -(MB_MAGIC + MB_FLAGS)

section .text
global _start
extern guest_entry
_start:
        cli
        cld
        mov esp, boot_stack_top
        push 0                      ; keep the stack 16-byte aligned for C
        push 0
        push ebx
        push eax
        call guest_entry            ; never returns
.hang:  cli
        hlt
        jmp .hang

section .stack nobits alloc write align=16
align 16
global boot_stack_bottom, boot_stack_top
boot_stack_bottom:
        resb 65536
boot_stack_top:
section .note.GNU-stack noalloc noexec nowrite progbits
