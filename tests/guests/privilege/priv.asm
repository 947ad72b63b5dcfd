; priv.asm — the CPL3 code and the ring-0 targets of the privilege test.
; Selectors (GDT slots set up by privilege.c):
;   0x30 call gate 32 (DPL3, 3 dword params)  -> cg32_handler
;   0x38 call gate 16 (DPL3, 2 word params)   -> KC16:cg16_handler
;   0x40 KC16: ring-0 code, base = cg16_handler & ~0xFFFF
;   0x48 UC16: ring-3 code, base = u_cg16 & ~0xFFFF
;   0x50 US16: ring-3 16-bit stack (B=0), base = stack16
;   0x58 conforming ring-0 code, flat
;   0x60 call gate 32 with DPL0 (not callable from CPL3)
bits 32
section .text
%macro L 1
global %1
%1:
%endmacro

; ---- 32-bit call gate with parameter copy ----
L u_cg32
        mov [u_esp_before], esp
        push dword [params + 0]
        push dword [params + 4]
        push dword [params + 8]
        call 0x33:0
L u_cg32_ret
        mov [u_esp_after], esp
        mov [u_eax_after], eax
        mov [u_cs_after], cs
        int 0x80

L cg32_handler
        mov [k_esp], esp
        mov [k_cs], cs
        mov [k_ss], ss
        push esi
        push edi
        push ecx
        lea esi, [esp + 12]
        mov edi, k_frame
        mov ecx, 7
        cld
        rep movsd
        pop ecx
        pop edi
        pop esi
        mov eax, 0xC0DE
        retf 12

; ---- 16-bit call gate: entered from UC16, on a 16-bit stack ----
L u_cg16_entry                  ; flat CPL3: far jump into UC16
        mov [u_esp_before], esp
        jmp far [fp_uc16]
L u_cg16                        ; runs in UC16 (offsets < 64K)
        mov ax, 0x53
        mov ss, ax
        mov esp, 0x0FF0
        push word [params16 + 0]
        push word [params16 + 2]
        call 0x3B:0
L u_cg16_ret
        mov [u_esp_after], esp
        mov [u_eax_after], eax
        mov [u_cs_after], cs
        mov ax, 0x23
        mov ss, ax
        mov esp, [u_esp_before]
        int 0x80

L cg16_handler                  ; runs in KC16
        mov [k_esp], esp
        mov [k_cs], cs
        mov [k_ss], ss
        mov eax, [esp + 0]
        mov [k_frame + 0], eax      ; ip, cs
        mov eax, [esp + 4]
        mov [k_frame + 4], eax      ; p2, p1
        mov eax, [esp + 8]
        mov [k_frame + 8], eax      ; sp, ss
        mov eax, 0xC16
        o16 retf 4

; ---- conforming code segment: called from CPL3, runs at CPL3 ----
L u_conf
        mov [u_esp_before], esp
        call 0x5B:conf_fn
        mov [u_eax_after], eax
        int 0x80
L conf_fn
        mov [k_cs], cs
        mov [k_esp], esp
        mov [k_ss], ss
        mov eax, 0xC0F
        retf

; ---- forbidden transfers from CPL3 (#GP expected) ----
L u_call_kcode
L u_call_kcode_f
        call 0x08:conf_fn
        int 0x80
L u_call_gate_dpl0
L u_call_gate_dpl0_f
        call 0x63:0
        int 0x80

; ---- interrupt gate vs trap gate, DPL3 ----
L u_ints
        mov [u_esp_before], esp
        int 0x81                    ; interrupt gate
        int 0x82                    ; trap gate
        mov [u_esp_after], esp
        int 0x80

; ---- SYSENTER / SYSEXIT ----
L u_sysenter
        mov [u_esp_before], esp
        mov ecx, esp
        mov edx, u_sysexit_ret
        sysenter
L u_sysexit_ret
        mov [u_esp_after], esp
        mov [u_cs_after], cs
        mov [u_ss_after], ss
        int 0x80
L sysenter_entry
        mov [k_esp], esp
        mov [k_cs], cs
        mov [k_ss], ss
        pushf
        pop dword [k_eflags]
        sysexit

; ---- what CPL3 sees after entry ----
L u_segs                        ; DS may be null: use SS overrides
        mov [ss:u_ds], ds
        mov [ss:u_es], es
        mov [ss:u_fs], fs
        mov [ss:u_cs_after], cs
        mov [ss:u_ss_after], ss
        mov [ss:u_esp_after], esp
        pushf
        pop dword [ss:u_eflags]
        int 0x80

section .data
align 4
global params, params16, fp_uc16
params: dd 0x1111aaaa, 0x2222bbbb, 0x3333cccc
params16: dw 0x5a5a, 0xa5a5
fp_uc16: dd 0, 0x4B
global u_esp_before, u_esp_after, u_eax_after, u_cs_after, u_ss_after, u_ds, u_es, u_fs, u_eflags
global k_esp, k_cs, k_ss, k_frame, k_eflags
u_esp_before: dd 0
u_esp_after: dd 0
u_eax_after: dd 0
u_cs_after: dd 0
u_ss_after: dd 0
u_ds: dd 0
u_es: dd 0
u_fs: dd 0
u_eflags: dd 0
k_esp: dd 0
k_cs: dd 0
k_ss: dd 0
k_eflags: dd 0
k_frame: times 8 dd 0
section .note.GNU-stack noalloc noexec nowrite progbits
