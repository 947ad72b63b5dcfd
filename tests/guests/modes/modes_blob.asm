; modes_blob.asm — real-mode and virtual-8086 code for the modes test. The
; blob (rm_base..rm_end) is copied to physical BLOB_PA = 0x8000 and runs as
; segment 0x0800, so every address inside it is written R(label).
bits 32
BLOB_SEG equ 0x0800
BLOB_PA equ 0x8000
%define R(x) ((x) - rm_base)

section .text
extern gdt
global modes_to_real, v86_call, v86_return, rm_base, rm_end

; void modes_to_real(void): PM -> 16-bit PM -> real mode -> (tests) -> PM
modes_to_real:
        push ebp
        push ebx
        push esi
        push edi
        mov [pm_saved_esp], esp
        sgdt [BLOB_PA + R(gdtr_save)]
        jmp 0x30:R(rm_pm16)         ; 16-bit code segment, base BLOB_PA
pm_back:                            ; back in 32-bit PM
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, [pm_saved_esp]
        pop edi
        pop esi
        pop ebx
        pop ebp
        ret

; u32 v86_call(u32 cs_ip, u32 ss_sp, u32 eflags): IRET into v86 mode
v86_call:
        push ebp
        push ebx
        push esi
        push edi
        mov [pm_saved_esp], esp
        mov eax, [esp + 20]
        mov ecx, [esp + 24]
        mov edx, [esp + 28]
        push dword 0                ; gs
        push dword 0                ; fs
        push dword BLOB_SEG         ; ds
        push dword BLOB_SEG         ; es
        mov ebx, ecx
        shr ebx, 16
        push ebx                    ; ss
        movzx ebx, cx
        push ebx                    ; sp
        push edx                    ; eflags (VM set)
        mov ebx, eax
        shr ebx, 16
        push ebx                    ; cs
        movzx ebx, ax
        push ebx                    ; ip
        iretd

; void v86_return(u32 v) from a ring-0 handler: back to v86_call's caller
v86_return:
        mov eax, [esp + 4]
        mov cx, 0x10
        mov ds, cx
        mov es, cx
        mov fs, cx
        mov gs, cx
        mov ss, cx
        mov esp, [pm_saved_esp]
        pop edi
        pop esi
        pop ebx
        pop ebp
        ret

; ----------------------------------------------------------------------------
align 16
rm_base:
bits 16
rm_pm16:                            ; 16-bit protected mode, CS base BLOB_PA
        mov ax, 0x38                ; 16-bit data, base 0, limit 64K
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov eax, cr0
        and eax, ~1
        mov cr0, eax
        jmp BLOB_SEG:R(rm_real)
rm_real:                            ; real mode
        mov ax, BLOB_SEG
        mov ds, ax
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        lidt [R(ivt_ptr)]
        mov [R(res_cs)], cs
        ; segment arithmetic: 1234:0010 and 1235:0000 are the same byte
        mov ax, 0x1234
        mov es, ax
        mov byte [es:0x0010], 0x5A
        mov ax, 0x1235
        mov es, ax
        mov al, [es:0x0000]
        mov [R(res_seg)], al
        ; 32-bit operand size in real mode
        mov eax, 0x89ABCDEF
        ror eax, 8
        mov [R(res_eax)], eax
        ; INT through an IVT entry we install
        xor ax, ax
        mov es, ax
        mov word [es:0x61 * 4], R(rm_isr)
        mov word [es:0x61 * 4 + 2], BLOB_SEG
        mov bx, 0x1111
        mov [R(res_sp_before)], sp
        int 0x61
rm_after_int:
        mov [R(res_isr_ax)], ax
        mov [R(res_sp_after)], sp
        ; far call / far return within real mode
        call BLOB_SEG:R(rm_farfn)
        mov [R(res_far)], ax
        ; back to protected mode
        cli
        o32 lgdt [R(gdtr_save)]
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        jmp dword 0x08:pm_back

rm_isr:
        push bp
        mov bp, sp
        mov cx, [bp + 2]
        mov [R(res_isr_ip)], cx
        mov cx, [bp + 4]
        mov [R(res_isr_cs)], cx
        mov cx, [bp + 6]
        mov [R(res_isr_flags)], cx
        pushf
        pop word [R(res_isr_flags_in)]
        mov ax, bx
        add ax, 0x5000
        pop bp
        iret
rm_farfn:
        mov ax, cs
        retf

; ---- virtual-8086 code ----
v86_iopl0:                          ; IOPL 0: INT and CLI trap to the monitor
        mov [R(res_v86_cs)], cs
        mov ax, 0x1234
        mov es, ax
        mov byte [es:0x0020], 0xA7
        mov ax, 0x1236
        mov es, ax
        mov al, [es:0x0000]
        mov [R(res_v86_seg)], al
        mov ax, 0
v86_int62:
        int 0x62                    ; #GP(0) -> monitor emulates: AX = 0x6262
        mov [R(res_v86_ax)], ax
v86_cli:
        cli                         ; #GP(0) -> monitor skips it
        int 0x63                    ; monitor: done
v86_iopl3:                          ; IOPL 3: INT goes through the IDT
        mov ax, 0x3333
v86_int64:
        int 0x64                    ; DPL3 interrupt gate to ring 0, IRET back
        mov [R(res_v86_ax3)], ax
        cli                         ; allowed at IOPL 3
        pushf
        pop word [R(res_v86_flags)]
        mov dx, 0x80
v86_in:
        in al, dx                   ; I/O uses the TSS bitmap, not IOPL: #GP
        mov [R(res_v86_in)], al
        int 0x65                    ; handler: done

align 4
gdtr_save: dw 0
        dd 0
ivt_ptr: dw 0x3FF
        dd 0
global res_cs, res_seg, res_eax, res_isr_ax, res_isr_ip, res_isr_cs, res_isr_flags
global res_isr_flags_in, res_sp_before, res_sp_after, res_far
global res_v86_cs, res_v86_seg, res_v86_ax, res_v86_ax3, res_v86_flags, res_v86_in
global v86_iopl0, v86_iopl3, v86_int62, v86_cli, v86_int64, v86_in, rm_after_int
res_cs: dw 0
res_seg: dw 0
res_eax: dd 0
res_isr_ax: dw 0
res_isr_ip: dw 0
res_isr_cs: dw 0
res_isr_flags: dw 0
res_isr_flags_in: dw 0
res_sp_before: dw 0
res_sp_after: dw 0
res_far: dw 0
res_v86_cs: dw 0
res_v86_seg: dw 0
res_v86_ax: dw 0
res_v86_ax3: dw 0
res_v86_flags: dw 0
res_v86_in: dw 0
rm_end:

section .bss
pm_saved_esp: resd 1
section .note.GNU-stack noalloc noexec nowrite progbits
