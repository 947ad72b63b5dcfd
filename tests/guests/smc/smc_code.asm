; smc_code.asm — self-modifying code cases (see smc.c). All of them live in
; .text, which the guests keep writable.
bits 32
section .text
%macro L 1
global %1
%1:
%endmacro

; u32 smc_imm(u32 v): store v into the immediate of the very next instruction
L smc_imm
        mov eax, [esp + 4]
        mov [.ins + 1], eax
.ins:   mov eax, 0xdeadbeef
        ret

; u32 smc_opcode(u32 which): which=0: keep "mov eax, 0x1000"; 1: turn it into
; "add eax, 0x1000" (opcode byte B8 -> 05) one instruction ahead. eax=7 before.
L smc_opcode
        mov ecx, [esp + 4]
        mov byte [.ins], 0xB8
        test ecx, ecx
        jz .go
        mov byte [.ins], 0x05
.go:    mov eax, 7
        mov byte [.dummy], 0x90  ; another store in the block, unrelated bytes
.ins:   mov eax, 0x1000
.dummy: nop
        ret

; u32 smc_loop(u32 n): each iteration increments the immediate of its own
; "add eax, imm8" for the next iteration: returns 1+2+...+n (starting imm 1).
L smc_loop
        mov ecx, [esp + 4]
        mov byte [.p + 2], 1
        xor eax, eax
.l:
.p:     add eax, strict byte 1
        inc byte [.p + 2]
        loop .l
        ret

; the function smc.c patches and calls: returns its immediate
L smc_fn
        mov eax, 0x11111111
        ret
L smc_fn_end

; u32 smc_rep_ahead(u32 v): REP MOVSB overwrites the 5 bytes right after itself
; (a "mov eax, imm32") with "mov eax, v" built on the stack.
L smc_rep_ahead
        push esi
        push edi
        sub esp, 8
        mov byte [esp], 0xB8
        mov eax, [esp + 20]
        mov [esp + 1], eax
        mov esi, esp
        mov edi, .ins
        mov ecx, 5
        cld
        rep movsb
.ins:   mov eax, 0xdeadbeef
        add esp, 8
        pop edi
        pop esi
        ret

; u32 smc_via_es(u32 sel, u32 off, u32 v): write v through ES:off (a segment
; whose base makes ES:off alias .ins + 1), then execute .ins
L smc_via_es
        push es
        mov eax, [esp + 8]
        mov es, ax
        mov ecx, [esp + 12]
        mov eax, [esp + 16]
        mov [es:ecx], eax
        pop es
L smc_via_es_ins
        mov eax, 0xdeadbeef
        ret

; u32 smc_via_ptr(u32 *alias, u32 v): write v through a pointer (a paging
; alias of smc_via_ptr_ins + 1), then execute it
L smc_via_ptr
        mov ecx, [esp + 4]
        mov eax, [esp + 8]
        mov [ecx], eax
L smc_via_ptr_ins
        mov eax, 0xdeadbeef
        ret

; templates copied into a buffer by rep movsb and run there
L tmpl_a
        mov eax, 0xaaaa0001
        add eax, [esp + 4]
        ret
L tmpl_a_end
L tmpl_b
        mov eax, [esp + 4]
        imul eax, eax, 3
        xor eax, 0xbbbb0000
        ret
L tmpl_b_end

; void copy_code(void *dst, void *src, u32 n): plain REP MOVSB
L copy_code
        push esi
        push edi
        mov edi, [esp + 12]
        mov esi, [esp + 16]
        mov ecx, [esp + 20]
        cld
        rep movsb
        pop edi
        pop esi
        ret
section .note.GNU-stack noalloc noexec nowrite progbits
