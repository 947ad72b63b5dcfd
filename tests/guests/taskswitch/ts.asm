; ts.asm — the two sides of the hardware task switch test. Task A is the
; runtime's task (TSS 0x28); task B (TSS selector in tss_b_sel) runs task_b.
bits 32
section .text
extern gdt, kernel_tss
%macro L 1
global %1
%1:
%endmacro

%macro SETREGS 0
        mov eax, 0xA0A0A0A0
        mov ebx, 0xA1A1A1A1
        mov ecx, 0xA2A2A2A2
        mov edx, 0xA3A3A3A3
        mov esi, 0xA4A4A4A4
        mov edi, 0xA5A5A5A5
        mov ebp, 0xA6A6A6A6
%endmacro
%macro SAVEREGS 0
        mov [a_after + 0], eax
        mov [a_after + 4], ebx
        mov [a_after + 8], ecx
        mov [a_after + 12], edx
        mov [a_after + 16], esi
        mov [a_after + 20], edi
        mov [a_after + 24], ebp
        pushfd
        pop dword [a_after + 28]
%endmacro

; void ts_go(int how): 0 jmp far TSS, 1 call far TSS, 2 call far task gate,
; 3 int 0x90 (IDT task gate), 4 #GP through the IDT task gate (vector 13)
L ts_go
        mov eax, [esp + 4]
        pushad
        cmp eax, 1
        je tsg_call
        cmp eax, 2
        je tsg_gate
        cmp eax, 3
        je tsg_int
        cmp eax, 4
        je tsg_gp
        SETREGS
L ts_jmp_site
        jmp far [ptr_b]
L ts_jmp_after
        jmp tsg_out
tsg_call:  SETREGS
        call far [ptr_b]
L ts_call_after
        jmp tsg_out
tsg_gate:  SETREGS
        call far [ptr_gate]
L ts_gate_after
        jmp tsg_out
tsg_int:   SETREGS
        int 0x90
L ts_int_after
        jmp tsg_out
tsg_gp:    SETREGS
L ts_gp_site
        mov ds, [bad_sel]           ; #GP(bad_sel) -> task gate -> task B
L ts_gp_after
tsg_out:   SAVEREGS
        popad
        ret

; jumping to the busy current task must #GP
L ts_busy
L ts_busy_site
        jmp far [ptr_a]
L ts_busy_after
        ret

L task_b
        mov [b_regs + 0], eax
        mov [b_regs + 4], ebx
        mov [b_regs + 8], ecx
        mov [b_regs + 12], edx
        mov [b_regs + 16], esi
        mov [b_regs + 20], edi
        mov [b_regs + 24], ebp
        mov [b_regs + 28], esp
        mov [b_segs + 0], cs
        mov [b_segs + 4], ss
        mov [b_segs + 8], ds
        mov [b_segs + 12], es
        mov [b_segs + 16], fs
        mov [b_segs + 20], gs
        str [b_tr]
        pushfd
        pop dword [b_eflags]
        mov eax, [tss_b_sel]
        and eax, ~7
        mov bl, [gdt + eax + 5]
        mov [b_busy_b], bl
        mov bl, [gdt + 0x28 + 5]
        mov [b_busy_a], bl
        cmp dword [b_mode], 0
        jne tsb_ret
        jmp far [ptr_a]             ; back to A by JMP
        jmp task_b
tsb_ret:   cmp dword [b_mode], 4
        jne tsb_iret
        pop eax                     ; the #GP error code, pushed on B's stack
        mov [b_err], eax
        mov dword [kernel_tss + 32], ts_gp_after ; skip A's faulting instruction
tsb_iret:  iretd
        jmp task_b

section .data
align 4
global ptr_a, ptr_b, ptr_gate, bad_sel, tss_b_sel, b_mode
global a_after, b_regs, b_segs, b_tr, b_eflags, b_busy_a, b_busy_b, b_err
ptr_a: dd 0, 0x28
ptr_b: dd 0, 0
ptr_gate: dd 0, 0
bad_sel: dd 0x1F8
tss_b_sel: dd 0
b_mode: dd 0
a_after: times 8 dd 0
b_regs: times 8 dd 0
b_segs: times 6 dd 0
b_tr: dd 0
b_eflags: dd 0
b_busy_a: dd 0
b_busy_b: dd 0
b_err: dd 0
section .note.GNU-stack noalloc noexec nowrite progbits
