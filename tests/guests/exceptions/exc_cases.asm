; exc_cases.asm — the faulting instructions of the exceptions test. Each case is
; a function called from C; the label <case>_f marks the instruction whose
; address the CPU must save (the faulting instruction for a fault, the next one
; for a trap) and <case>_r is where the handler resumes. User-mode cases (u_*)
; run at CPL3 through user_call and end with INT 0x80.
bits 32
section .text

%macro L 1
global %1
%1:
%endmacro

; ---- #DE ----
L c_de0
        xor edx, edx
        mov eax, 1
        xor ecx, ecx
L c_de0_f
        div ecx
L c_de0_r
        ret
L c_deovf
        mov eax, 0x80000000
        mov edx, 0xffffffff
        mov ecx, -1
L c_deovf_f
        idiv ecx
L c_deovf_r
        ret
L c_de8
        push ebx
        mov eax, 0x1000
        mov bl, 1
L c_de8_f
        div bl
L c_de8_r
        pop ebx
        ret
L c_aam0
L c_aam0_f
        db 0xD4, 0x00           ; aam 0
L c_aam0_r
        ret

; ---- #DB ----
L c_step
        pushf
        or dword [esp], 0x100
        popf
        nop                     ; TF is set by POPF: this instruction runs, then the trap
L c_step_f
        nop
L c_step_r
        ret
L c_icebp
        db 0xF1
L c_icebp_f
L c_icebp_r
        ret
L c_drx                         ; DR0 execute breakpoint at c_drx_f: a fault
        nop
L c_drx_f
        nop
L c_drx_r
        ret
L c_drw                         ; DR1 write watchpoint on drw_cell: a trap
        mov dword [drw_cell], 5
L c_drw_f
        nop
L c_drw_r
        ret

; ---- #BP / #OF / #BR ----
L c_int3
        int3
L c_int3_f
L c_int3_r
        ret
L c_int3l
        db 0xCD, 0x03
L c_int3l_f
L c_int3l_r
        ret
L c_into
        mov al, 0x7f
        add al, 1
        into
L c_into_f
L c_into_r
        ret
L c_into_no
        mov al, 0x7e
        add al, 1
        into
        ret
L c_bound
        mov eax, 11
L c_bound_f
        bound eax, [bounds]
L c_bound_r
        ret
L c_bound16
        mov eax, 0x1234ffff     ; AX = -1 < lower bound 0
L c_bound16_f
        bound ax, [bounds16]
L c_bound16_r
        ret
L c_bound_no
        mov eax, 10
        bound eax, [bounds]
        ret

; ---- #UD ----
L c_ud2
L c_ud2_f
        ud2
L c_ud2_r
        ret
L c_udlock
L c_udlock_f
        db 0xF0, 0x89, 0xC3     ; lock mov ebx, eax
L c_udlock_r
        ret
L c_udlockreg
L c_udlockreg_f
        db 0xF0, 0x01, 0xD8     ; lock add eax, ebx (register destination)
L c_udlockreg_r
        ret
L c_udlea
L c_udlea_f
        db 0x8D, 0xC0           ; lea eax, eax
L c_udlea_r
        ret
L c_udmovcs
L c_udmovcs_f
        db 0x8E, 0xC8           ; mov cs, ax
L c_udmovcs_r
        ret
L c_udprefix
L c_udprefix_f
        db 0x66, 0xF3, 0x0F, 0x0B ; prefixed ud2: EIP must point at the first prefix
L c_udprefix_r
        ret

; ---- #NM / #MF ----
L c_fnop
L c_fnop_f
        fnop
L c_fnop_r
        ret
L c_fwait
L c_fwait_f
        fwait
L c_fwait_r
        ret
L c_mf
        fninit
        fldcw [fcw_zm_unmasked]
        fld1
        fldz
        fdivp st1, st0          ; zero divide, unmasked: pending
L c_mf_f
        fwait                   ; reported here
L c_mf_r
        fninit
        ret

; ---- segment loads: #GP / #NP / #SS with selector error codes ----
; eax = selector to load
L c_lds
L c_lds_f
        mov ds, ax
L c_lds_r
        mov ax, 0x10
        mov ds, ax
        ret
L c_lss
L c_lss_f
        mov ss, ax
L c_lss_r
        ret
L c_les_write                   ; eax = read-only data selector
        mov es, ax
L c_les_write_f
        mov dword [es:0x100], 1
L c_les_write_r
        mov ax, 0x10
        mov es, ax
        ret
L c_es_read                     ; eax = selector, ecx = offset
        mov es, ax
L c_es_read_f
        mov edx, [es:ecx]
L c_es_read_r
        mov ax, 0x10
        mov es, ax
        ret
L c_ss_limit                    ; eax = SS selector with a 2 MiB limit
        push ebp
        mov ss, ax
        mov ebp, 0x300000
L c_ss_limit_f
        mov eax, [ebp]
L c_ss_limit_r
        mov ax, 0x10
        mov ss, ax
        pop ebp
        ret
L c_jmpfar                      ; eax = selector
        mov [farptr + 4], ax
        mov dword [farptr], c_jmpfar_r
L c_jmpfar_f
        jmp far [farptr]
L c_jmpfar_r
        ret
L c_int50
L c_int50_f
        int 0x50
L c_int50_r
        ret
L c_intgate
L c_intgate_f
        int 0x41
L c_intgate_r
        ret
L c_gp13                        ; a #GP whose delivery fails: #DF
L c_gp13_f
        mov ds, ax
L c_gp13_r
        mov ax, 0x10
        mov ds, ax
        ret
L c_tss
L c_tss_f
        jmp far [farptr]
L c_tss_r
        ret

; ---- #PF: ecx = address ----
L c_pf_read
L c_pf_read_f
        mov eax, [ecx]
L c_pf_read_r
        ret
L c_pf_write
L c_pf_write_f
        mov [ecx], eax
L c_pf_write_r
        ret

; ---- user-mode cases (CPL3), entered by IRET, leave by INT 0x80 ----
L u_cli
L u_cli_f
        cli
        int 0x80
L u_hlt
L u_hlt_f
        hlt
        int 0x80
L u_movcr0
L u_movcr0_f
        mov eax, cr0
        int 0x80
L u_in
        mov dx, 0x3f8
L u_in_f
        in al, dx
        int 0x80
L u_lgdt
L u_lgdt_f
        lgdt [farptr]
        int 0x80
L u_int_dpl0
L u_int_dpl0_f
        int 0x41
        int 0x80
L u_ac                          ; EFLAGS.AC set by user_call
L u_ac_f
        mov eax, [ac_cell + 1]
        int 0x80
L u_ac_setup                    ; sets EFLAGS.AC itself, then misaligned word access
        pushf
        or dword [esp], 0x40000
        popf
L u_ac_setup_f
        mov ax, [ac_cell + 3]
        int 0x80
L u_ss_limit                    ; entered with an SS whose limit ends below ESP
L u_ss_limit_f
        push eax
        int 0x80
L u_pf_read                     ; address in u_pf_addr
        mov ecx, [u_pf_addr]
L u_pf_read_f
        mov eax, [ecx]
        int 0x80
L u_pf_write
        mov ecx, [u_pf_addr]
L u_pf_write_f
        mov [ecx], eax
        int 0x80

section .data
align 8
global bounds, bounds16, farptr, fcw_zm_unmasked, ac_cell, drw_cell, u_pf_addr
u_pf_addr: dd 0
bounds: dd 0, 10
bounds16: dw 0, 100
farptr: dd 0, 0
fcw_zm_unmasked: dw 0x037b      ; ZM (bit 2) unmasked
align 8
ac_cell: dd 0, 0
drw_cell: dd 0
section .note.GNU-stack noalloc noexec nowrite progbits
