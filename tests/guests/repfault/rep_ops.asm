; rep_ops.asm — one REP string instruction per function, with its registers
; loaded from and stored back to a struct rr { eax, ecx, esi, edi, df, ds, es,
; eflags_out }. <name>_i labels the first prefix byte of the instruction.
bits 32
section .text

%macro REPCASE 2+
global %1, %1_i
%1:
        push ebx
        push esi
        push edi
        push ds
        push es
        mov ebx, [esp + 24]
        mov eax, [ebx + 0]
        mov ecx, [ebx + 4]
        mov esi, [ebx + 8]
        mov edi, [ebx + 12]
        cmp dword [ebx + 16], 0
        je %%up
        std
%%up:   cmp dword [ebx + 24], 0
        je %%noes
        mov es, [ebx + 24]
%%noes: cmp dword [ebx + 20], 0
        je %1_i
        mov ds, [ebx + 20]
%1_i:
        db %2
        pushf
        cld
        pop dword [ss:ebx + 28]
        mov [ss:ebx + 0], eax
        mov [ss:ebx + 4], ecx
        mov [ss:ebx + 8], esi
        mov [ss:ebx + 12], edi
        pop es
        pop ds
        pop edi
        pop esi
        pop ebx
        ret
%endmacro

REPCASE rep_movsb_ds, 0x3E, 0xF3, 0xA4      ; ds rep movsb
REPCASE rep_stosd, 0xF3, 0xAB               ; rep stosd
REPCASE rep_movsd, 0xF3, 0xA5               ; rep movsd
REPCASE repne_scasb, 0xF2, 0xAE             ; repne scasb
REPCASE rep_stosb_cs, 0x2E, 0xF3, 0xAA      ; cs rep stosb (segment prefix ignored)
REPCASE rep_movsb_a16, 0x67, 0xF3, 0xA4     ; a16 rep movsb
REPCASE rep_movsw_o16, 0x66, 0xF3, 0xA5     ; rep movsw
REPCASE rep_stosb, 0xF3, 0xAA               ; rep stosb
section .note.GNU-stack noalloc noexec nowrite progbits
